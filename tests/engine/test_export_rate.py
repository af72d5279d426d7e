"""Exports at the sources' rate, with the sources' own content above the model's band."""

import json

import numpy as np
import pytest
import soundfile as sf
from support.engines import engine_with

from musinterp_app import sidecar
from musinterp_app.audio import synth
from musinterp_app.engine import BlendSettings, ExportOptions

RATE = 48000
HIGH_HZ = (17000.0, 23000.0)  # above the model's band (16 384 Hz)


def band_level_db(audio: np.ndarray, rate: int, band: tuple[float, float]) -> float:
    return synth.band_level_db(audio, rate, band)


def with_air(seconds: float, seed: int, air_db: float) -> np.ndarray:
    """A music-like clip at 48 kHz with noise between 17 and 23 kHz at ``air_db`` (rms)."""
    rng = np.random.default_rng(seed)
    clip = synth.music_like(seconds, RATE, rng=rng, root_midi=45 + seed)
    return (0.5 * clip + synth.air(len(clip), RATE, rng=rng, level_db=air_db)).astype(np.float32)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("airy")
    paths = {}
    for slot, seed, air_db in (("A", 1, -30.0), ("B", 2, -40.0)):
        paths[slot] = folder / f"{slot}.wav"
        sf.write(paths[slot], with_air(6.0, seed, air_db), RATE)
    return paths


@pytest.fixture(scope="module")
def engine(shipped_model, sources):
    return engine_with(shipped_model, sources, overview=False)


def test_an_export_is_written_at_the_sources_rate_with_their_air(engine, sources, tmp_path):
    out = engine.export(tmp_path / "half.wav", BlendSettings(alpha=0.5), ExportOptions())
    audio, rate = sf.read(out)
    assert rate == RATE
    levels = {slot: band_level_db(sf.read(p)[0], RATE, HIGH_HZ) for slot, p in sources.items()}
    expected = 10 * np.log10(0.5 * 10 ** (levels["A"] / 10) + 0.5 * 10 ** (levels["B"] / 10))
    assert band_level_db(audio, RATE, HIGH_HZ) == pytest.approx(expected, abs=1.5)

    plain = ExportOptions(high_band=False)
    dull, _ = sf.read(engine.export(tmp_path / "dull.wav", BlendSettings(alpha=0.5), plain))
    assert band_level_db(dull, RATE, HIGH_HZ) < expected - 30  # nothing above 16.4 kHz


def test_a_source_alone_comes_back_whole_at_its_rate(engine, sources, tmp_path):
    exact = BlendSettings(alpha=0.0, keep_detail=True)
    options = ExportOptions(fade_ms=0, level="match")
    audio, rate = sf.read(engine.export(tmp_path / "a.wav", exact, options))
    original, _ = sf.read(sources["A"])
    middle = slice(RATE // 2, len(audio) - RATE // 2)  # away from the resamplers' edges
    error = audio[middle] - original[middle]
    assert rate == RATE
    assert 20 * np.log10(np.std(error) / np.std(original[middle])) < -40


def test_the_model_rate_and_the_record_of_the_rate(engine, tmp_path):
    options = ExportOptions(output_rate=32768)
    out = engine.export(tmp_path / "model.wav", BlendSettings(alpha=0.5), options)
    assert sf.info(out).samplerate == 32768
    record = (tmp_path / "model.wav.musinterp.json").read_text()
    assert '"rate": 32768' in record


def test_a_source_changed_since_loading_gives_no_highs_and_the_sidecar_says_so(
    shipped_model, tmp_path
):
    paths = {}
    for slot, seed in (("A", 1), ("B", 2)):
        paths[slot] = tmp_path / f"{slot}.wav"
        sf.write(paths[slot], with_air(6.0, seed, -30.0), RATE)
    engine = engine_with(shipped_model, paths, overview=False)
    sf.write(paths["B"], with_air(6.0, 3, -30.0), RATE)  # edited after it was loaded
    out = engine.export(tmp_path / "out.wav", BlendSettings(alpha=0.5), ExportOptions())
    record = json.loads(sidecar.path_for(out).read_text())
    assert record["render"]["high_band"] is False and record["render"]["rate"] == RATE
    assert band_level_db(sf.read(out)[0], RATE, HIGH_HZ) < -90  # none of the new file's air
