"""The engine: tracks, excerpts, blending with and without detail, morph, render, export."""

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from support.engines import engine_with

from musinterp_app import sidecar
from musinterp_app.audio import io, levels, mel, stft, synth
from musinterp_app.base import files as base_files
from musinterp_app.engine import (
    OVERVIEW_COLUMNS,
    BlendSettings,
    Engine,
    ExportOptions,
    export_audio,
    load_track,
    with_excerpt,
)
from musinterp_app.engine.caches import _DecodedBlocks, _LastBlend


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    paths = {}
    for name, seconds, root in [("a.wav", 9.0, 48), ("b.flac", 7.0, 62), ("short.ogg", 2.0, 55)]:
        clip = synth.music_like(seconds, 44100, rng=np.random.default_rng(root), root_midi=root)
        sf.write(folder / name, np.stack([clip, clip], axis=1), 44100)
        paths[name] = folder / name
    return paths


@pytest.fixture(scope="module")
def engine(shipped_model, files):
    result = Engine(shipped_model)
    result.set_track("A", load_track(files["a.wav"], shipped_model, start_s=1.0))
    result.set_track("B", load_track(files["b.flac"], shipped_model))
    return result


def test_track_holds_the_excerpt_and_an_overview(engine, shipped_model):
    track = engine.tracks["A"]
    assert track.name == "a.wav" and track.info.duration_s == pytest.approx(9.0)
    assert (track.start_s, track.excerpt_s) == (1.0, 5.0)
    assert track.samples.shape == (5 * 32768,)
    assert track.mel.shape == track.decoded.shape == (512, 640)
    assert track.latent.shape == (
        shipped_model.info.latent_channels,
        640 // shipped_model.info.time_reduction,
    )
    assert 0 < track.overview.shape[1] <= OVERVIEW_COLUMNS
    assert track.overview.shape[1] * track.overview_seconds_per_column == pytest.approx(
        9.0, abs=0.1
    )


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_keep_detail_gives_the_originals_at_the_ends(engine, mode):
    a, b = engine.tracks["A"], engine.tracks["B"]
    at_a = engine.blend_mel(BlendSettings(alpha=0.0, mode=mode))
    at_b = engine.blend_mel(BlendSettings(alpha=1.0, mode=mode))
    np.testing.assert_allclose(at_a, a.mel, atol=1e-5)
    np.testing.assert_allclose(at_b, b.mel, atol=1e-5)


def test_without_detail_the_ends_are_the_model_output_at_the_sources_level(engine):
    a = engine.tracks["A"]
    plain = engine.blend_mel(BlendSettings(alpha=0.0, keep_detail=False, steady_level=False))
    np.testing.assert_allclose(plain, a.decoded, atol=1e-5)
    levelled = engine.blend_mel(BlendSettings(alpha=0.0, keep_detail=False))
    level = levels.frame_loudness_db(levelled, engine.config)
    audible = a.loudness_db > engine.config.floor_db + 20
    before = np.median(
        np.abs(levels.frame_loudness_db(plain, engine.config) - a.loudness_db)[audible]
    )
    after = np.median(np.abs(level - a.loudness_db)[audible])
    assert after < before / 3 and after < 3.0


def test_the_middle_lies_between(engine):
    a, b = engine.tracks["A"], engine.tracks["B"]
    middle = engine.blend_mel(BlendSettings(alpha=0.5))
    to_a, to_b = np.abs(middle - a.mel).mean(), np.abs(middle - b.mel).mean()
    assert to_a < np.abs(a.mel - b.mel).mean() and to_b < np.abs(a.mel - b.mel).mean()


def test_morph_starts_like_a_and_ends_like_b(engine):
    a, b = engine.tracks["A"], engine.tracks["B"]
    morph = engine.blend_mel(BlendSettings(morph=True))
    first, last = slice(0, 64), slice(-64, None)
    assert (
        np.abs(morph[:, first] - a.mel[:, first]).mean()
        < np.abs(morph[:, first] - b.mel[:, first]).mean()
    )
    assert (
        np.abs(morph[:, last] - b.mel[:, last]).mean()
        < np.abs(morph[:, last] - a.mel[:, last]).mean()
    )


@pytest.mark.parametrize("settings", [BlendSettings(alpha=0.3), BlendSettings(morph=True)])
def test_a_window_of_the_blend_equals_the_same_part_of_the_whole(engine, settings):
    whole = engine.blend_mel(settings)
    for start, stop in [(0, 48), (100, 164), (600, 640)]:
        np.testing.assert_allclose(
            engine.blend_mel(settings, start, stop), whole[:, start:stop], atol=1e-4
        )


def test_an_excerpt_longer_than_the_file_is_the_whole_file_and_says_so(shipped_model, files):
    track = load_track(files["short.ogg"], shipped_model, excerpt_s=60, overview=False)
    assert (track.start_s, track.excerpt_s) == (0.0, pytest.approx(2.0))
    assert track.mel.shape == (512, 256) and track.samples.shape == (2 * 32768,)
    assert track.note == "“short.ogg” is 2.0 s long: excerpt shortened to 2.0 s (the whole file)"
    engine = Engine(shipped_model)
    engine.set_track("A", track)
    engine.set_track("B", load_track(files["a.wav"], shipped_model, excerpt_s=60))
    assert engine.tracks["B"].excerpt_s == pytest.approx(9.0)
    assert engine.blend_frames == 256  # the blend is as long as the shorter excerpt
    assert len(engine.render(BlendSettings(), n_iter=0)) == 256 * 256


def test_an_excerpt_past_the_end_is_moved_back_and_says_so(shipped_model, files):
    track = load_track(files["b.flac"], shipped_model, start_s=100.0, overview=False)
    assert (track.start_s, track.excerpt_s) == (pytest.approx(2.0), 5.0)
    assert "excerpt start moved from 100.0 s to 2.0 s" in track.note
    within = load_track(files["b.flac"], shipped_model, start_s=1.5, overview=False)
    assert (within.start_s, within.note) == (1.5, "")


def test_render_and_export(engine, tmp_path):
    audio = engine.render(BlendSettings(alpha=0.3))
    assert audio.shape == (640 * 256,) and np.isfinite(audio).all()
    path = export_audio(tmp_path / "blend.wav", audio, 32768, level="peak", sample_format="float")
    written, rate = sf.read(path, dtype="float32")
    assert rate == 32768
    assert np.abs(written).max() == pytest.approx(10 ** (-1 / 20), rel=1e-4)


def test_export_keeps_the_heard_level_resamples_and_fades(engine, tmp_path):
    audio = 0.5 * engine.render(BlendSettings(alpha=0.3))
    path = export_audio(
        tmp_path / "blend.flac", audio, 32768, output_rate=48000, sample_format="24", fade_ms=10
    )
    written, rate = sf.read(path, dtype="float32")
    assert rate == 48000 and len(written) == pytest.approx(len(audio) * 48000 / 32768, abs=2)
    middle = slice(len(written) // 4, 3 * len(written) // 4)

    def level(x: np.ndarray) -> float:
        return 20 * np.log10(np.sqrt(np.mean(x**2)))

    assert level(written[middle]) == pytest.approx(
        level(audio[len(audio) // 4 : 3 * len(audio) // 4]), abs=0.1
    )
    assert abs(written[0]) < 1e-4 and abs(written[-1]) < 1e-3  # faded: no click at the ends


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_endpoints_play_and_export_the_excerpt_itself(engine, tmp_path, alpha):
    source = engine.tracks["A" if alpha == 0.0 else "B"]
    audio = engine.render(BlendSettings(alpha=alpha))
    np.testing.assert_array_equal(audio[: len(source.samples)], source.samples[: len(audio)])
    path = export_audio(tmp_path / "end.wav", audio, 32768, sample_format="float", fade_ms=0)
    np.testing.assert_array_equal(sf.read(path, dtype="float32")[0], audio)


def test_rendering_starts_from_the_sources_phase(engine):
    """At 0 iterations, the sources' phase already gives a consistent sound; random does not."""
    settings = BlendSettings(alpha=0.1)
    config = engine.config
    target = mel.to_magnitude(engine.blend_mel(settings), config)
    seeded = engine.render(settings, n_iter=0, first_chunk_iterations=0)
    random_start = np.concatenate(
        list(
            mel.audio_stream(
                lambda a, b: engine.blend_mel(settings, a, b),
                engine.blend_frames,
                config,
                n_iter=0,
            )
        )
    )

    def convergence(audio: np.ndarray) -> float:
        return stft.spectral_convergence_db(
            audio, target, n_fft=config.n_fft, hop_length=config.hop_length
        )

    assert convergence(seeded) < convergence(random_start) - 6


def test_level_follows_the_sources_across_alpha(engine):
    """Total mel power of a blend stays within 1.5 dB of the α-interpolated sources' level."""
    a, b = (engine.tracks[slot] for slot in "AB")
    config = engine.config

    def total_db(log_mel: np.ndarray) -> float:
        return 10 * np.log10(mel.normalised_to_power(log_mel, config).sum())

    for alpha in (0.25, 0.5, 0.75):
        for keep_detail in (True, False):
            blended = engine.blend_mel(BlendSettings(alpha=alpha, keep_detail=keep_detail))
            expected = (1 - alpha) * total_db(a.mel) + alpha * total_db(b.mel)
            assert total_db(blended) == pytest.approx(expected, abs=1.5), (alpha, keep_detail)


def test_blending_needs_both_tracks(shipped_model):
    with pytest.raises(ValueError, match="load both tracks"):
        Engine(shipped_model).blend_mel(BlendSettings())


def test_stereo_sources_give_a_stereo_blend_and_exact_stereo_ends(shipped_model, tmp_path):
    rate = 32768
    paths = {}
    for slot, root in (("A", 50), ("B", 60)):
        clip = synth.music_like(5.0, rate, rng=np.random.default_rng(root), root_midi=root)
        wide = np.stack([clip, 0.3 * np.roll(clip, 2000)], axis=1)  # left and right differ
        paths[slot] = tmp_path / f"{slot}.wav"
        sf.write(paths[slot], wide, rate, subtype="FLOAT")
    engine = engine_with(shipped_model, paths, overview=False)
    assert engine.stereo
    settings = BlendSettings(alpha=0.5)
    stereo = engine.with_stereo_image(settings, engine.render(settings))
    assert stereo.shape == (5 * rate, 2)
    difference = stereo[:, 0] - stereo[:, 1]
    assert np.sqrt(np.mean(difference**2)) > 0.1 * np.sqrt(np.mean(stereo**2))
    written = export_audio(tmp_path / "wide.wav", stereo, rate, fade_ms=0)
    assert sf.info(written).channels == 2
    at_a = BlendSettings(alpha=0.0)
    ends = engine.with_stereo_image(at_a, engine.render(at_a))
    np.testing.assert_allclose(ends, sf.read(paths["A"], dtype="float32")[0], atol=1e-6)


def test_with_model_builds_a_new_engine_and_leaves_this_one(engine, shipped_model):
    switched = engine.with_model(shipped_model)
    assert switched is not engine and switched.model is shipped_model
    for slot in ("A", "B"):
        old, new = engine.tracks[slot], switched.tracks[slot]
        assert new is not old and (new.start_s, new.excerpt_s) == (old.start_s, old.excerpt_s)
        np.testing.assert_allclose(new.latent, old.latent, atol=1e-5)
    np.testing.assert_allclose(
        switched.blend_mel(BlendSettings(alpha=0.4)),
        engine.blend_mel(BlendSettings(alpha=0.4)),
        atol=1e-4,
    )


@pytest.mark.parametrize("morph", [False, True])
def test_source_phase_is_the_weighted_sum_of_the_sources_stfts(engine, morph):
    """One transform of the α-weighted mix equals the α-weighted sum of two transforms (the
    STFT is linear); for a morph α moves per sample, so it matches to within the ramp's step."""
    settings = BlendSettings(alpha=0.3, morph=morph)
    config = engine.config
    hop = 4 * config.hop_length
    a, b = engine.tracks["A"], engine.tracks["B"]
    mixed = engine.source_phase(settings, stride=4)(10, 40)
    share_b = np.linspace(0, 1, engine.blend_frames)[::4][10:40] if morph else 0.3
    expected = (1 - share_b) * stft.stft_frames(
        a.samples, 10, 40, n_fft=config.n_fft, hop_length=hop
    ) + share_b * stft.stft_frames(b.samples, 10, 40, n_fft=config.n_fft, hop_length=hop)
    error = np.linalg.norm(mixed - expected) / np.linalg.norm(expected)
    assert error < (0.02 if morph else 1e-5)


def test_a_render_decodes_in_blocks_that_equal_the_whole_blend(engine):
    settings = BlendSettings(alpha=0.4)
    whole = engine.blend_mel(settings)
    blocks = _DecodedBlocks(lambda a, b: engine.blend_mel(settings, a, b), whole.shape[1])
    parts = [blocks(0, 48), blocks(48, 100), blocks(100, whole.shape[1])]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-4)
    with pytest.raises(ValueError, match="out of order"):
        blocks(0, 700)


def _counting_decodes(engine: Engine) -> tuple[Engine, list[int]]:
    """An engine on ``engine``'s tracks whose model counts the latent frames it decodes."""
    counted = Engine(engine.model)
    for slot in ("A", "B"):
        counted.set_track(slot, engine.tracks[slot])
    decoded: list[int] = []
    decode = counted.model.decode

    class Counting:  # the model, with decode counted
        def __getattr__(self, name):
            return getattr(engine.model, name)

        def decode(self, code):
            decoded.append(code.shape[-1])
            return decode(code)

    counted.model = Counting()
    return counted, decoded


def test_the_render_after_a_drawn_blend_reuses_its_decode(engine):
    counted, decoded = _counting_decodes(engine)
    settings = BlendSettings(alpha=0.3)
    shown = counted.blend_mel(settings)  # what the window draws
    assert not shown.flags.writeable  # shared: nobody may change it
    assert len(decoded) == 1
    audio = counted.render(settings)
    assert len(decoded) == 1  # the render decoded nothing more
    assert len(audio) == engine.blend_frames * engine.config.hop_length
    counted.render(BlendSettings(alpha=0.6))  # another blend: decoded for itself, once
    assert len(decoded) == 2
    counted.set_track("B", engine.tracks["A"])  # another track: the kept decode is not used
    counted.render(BlendSettings(alpha=0.6))
    assert len(decoded) == 3
    np.testing.assert_array_equal(
        counted.blend_mel(BlendSettings(alpha=0.6)), counted.blend_mel(BlendSettings(alpha=0.6))
    )
    assert len(decoded) == 3


def test_a_failed_export_leaves_the_folder_as_it_was(engine, tmp_path):
    settings, options = BlendSettings(alpha=0.3), ExportOptions()
    (tmp_path / "taken.wav").mkdir()  # the audio cannot be written over a folder
    old_record = '{"written": "by an earlier export"}\n'
    (tmp_path / "taken.wav.musinterp.json").write_text(old_record)
    with pytest.raises(base_files.OutputPathError, match=r"taken\.wav.*it is a folder"):
        engine.export(tmp_path / "taken.wav", settings, options)  # refused before any work
    assert (tmp_path / "taken.wav.musinterp.json").read_text() == old_record  # put back
    (tmp_path / "blocked.wav.musinterp.json").mkdir()  # the sidecar cannot be written
    with pytest.raises(
        base_files.OutputPathError, match=r"blocked\.wav\.musinterp\.json.*it is a folder"
    ):
        engine.export(tmp_path / "blocked.wav", settings, options)
    assert not (tmp_path / "blocked.wav").exists()  # so no audio either
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "blocked.wav.musinterp.json",
        "taken.wav",
        "taken.wav.musinterp.json",
    ]


def test_an_export_whose_last_rename_fails_puts_the_old_sidecar_back(engine, tmp_path, monkeypatch):
    (tmp_path / "song.wav").write_bytes(b"the old audio")
    old_record = tmp_path / "song.wav.musinterp.json"
    old_record.write_text('{"written": "by an earlier export"}\n')
    old_record.chmod(0o640)

    replace, beside = os.replace, []

    def full_disk(source, target):  # the audio's rename fails, after its sidecar's worked
        if Path(target).suffix == ".wav":
            beside.append(old_record.read_text())
            raise OSError(28, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(io.AudioSaveError, match="song"):
        engine.export(tmp_path / "song.wav", BlendSettings(alpha=0.3), ExportOptions())
    monkeypatch.undo()
    assert '"audio_file": "song.wav"' in beside[0]  # the new sidecar was in place
    assert old_record.read_text() == '{"written": "by an earlier export"}\n'
    assert old_record.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "song.wav").read_bytes() == b"the old audio"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav", "song.wav.musinterp.json"]


def test_an_export_names_its_sources_as_they_were_when_read(shipped_model, tmp_path):
    def clip(seconds: float, root: int) -> np.ndarray:
        return synth.music_like(seconds, 44100, rng=np.random.default_rng(root), root_midi=root)

    paths = {slot: tmp_path / f"{slot}.wav" for slot in "AB"}
    for path, root in zip(paths.values(), (50, 57), strict=True):
        sf.write(path, clip(6.0, root), 44100)
    read_hash = sidecar.sha256(paths["A"])
    engine = engine_with(shipped_model, paths, overview=False)
    sf.write(paths["A"], clip(7.0, 64), 44100)  # the file changes after it was read
    out = engine.export(tmp_path / "out.wav", BlendSettings(alpha=0.4), ExportOptions())
    record = sidecar.read(sidecar.path_for(out)).value
    assert record["sources"]["A"]["sha256"] == read_hash  # what was blended, not what is there
    model = shipped_model.info.folder
    assert record["model"]["decoder.onnx"] == sidecar.sha256(model / "decoder.onnx")
    moved = with_excerpt(engine.tracks["A"], shipped_model, start_s=1.0, excerpt_s=5.0)
    assert moved.source_sha256 == sidecar.sha256(paths["A"])  # read again: hashed again


def test_the_kept_blend_makes_only_a_request_for_the_same_blend_wait():
    kept = _LastBlend()
    tracks = [object(), object()]  # compared by identity only
    started, finish = threading.Event(), threading.Event()

    def slow_decode() -> np.ndarray:
        started.set()
        finish.wait(10)
        return np.zeros((2, 3), np.float32)

    drawing = threading.Thread(
        target=kept.get, args=(tracks, BlendSettings(alpha=0.2), slow_decode)
    )
    drawing.start()
    started.wait(10)
    assert kept.peek(tracks, BlendSettings(alpha=0.7)) is None  # another blend: no waiting
    seen = []
    render = threading.Thread(
        target=lambda: seen.append(kept.peek(tracks, BlendSettings(alpha=0.2)))
    )
    render.start()
    render.join(0.2)
    assert render.is_alive() and not seen  # the same blend: it waits for that decode
    finish.set()
    drawing.join(10)
    render.join(10)
    assert seen[0] is not None and not seen[0].flags.writeable
    assert kept.peek([object(), tracks[1]], BlendSettings(alpha=0.2)) is None  # other track A
