"""Property tests: the loader never fails in an unplanned way; mel → audio stays finite."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import strategies as st
from support.fuzz import fuzz

from musinterp_app.audio import io, mel, synth
from musinterp_app.audio.griffinlim import griffinlim

RATE = 32768
CONFIG = mel.MelConfig()


def load_or_refuse(path: Path) -> None:
    """The property: a finite mono float32 array, or one AudioLoadError — nothing else."""
    try:
        samples = io.load(path, sample_rate=RATE)
    except io.AudioLoadError as error:
        assert str(error).startswith("Cannot use") and "\n" not in str(error)
    else:
        assert samples.dtype == np.float32 and samples.ndim == 1
        assert np.isfinite(samples).all()


def random_bytes_load_or_give_a_clear_error(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"random{suffix}"
        path.write_bytes(data)
        load_or_refuse(path)


test_random_bytes_load_or_give_a_clear_error, test_random_bytes_long = fuzz(
    data=st.binary(max_size=4096), suffix=st.sampled_from([".wav", ".mp3", ".ogg", ".flac"])
)(random_bytes_load_or_give_a_clear_error)


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    clip = synth.music_like(1.0, 22050, rng=np.random.default_rng(0))
    files = {}
    for name, kwargs in [("a.wav", {}), ("a.flac", {}), ("a.ogg", {}), ("a.mp3", {})]:
        sf.write(folder / name, clip, 22050, **kwargs)
        files[name] = (folder / name).read_bytes()
    return files


def mutated_real_files_load_or_give_a_clear_error(real_files, data):
    name = data.draw(st.sampled_from(sorted(real_files)))
    content = bytearray(real_files[name])
    for _ in range(data.draw(st.integers(1, 20))):
        position = data.draw(st.integers(0, len(content) - 1))
        content[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(content)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(bytes(content[:cut]))
        load_or_refuse(path)


test_mutated_real_files_load_or_give_a_clear_error, test_mutated_real_files_long = fuzz(
    data=st.data()
)(mutated_real_files_load_or_give_a_clear_error)


def any_log_mel_becomes_finite_audio_of_the_right_length(frames, scale, special, seed):
    rng = np.random.default_rng(seed)
    features = (rng.normal(size=(CONFIG.n_mels, frames)) * scale).astype(np.float32)
    if special is not None:
        features[rng.integers(0, CONFIG.n_mels), rng.integers(0, frames)] = special
    magnitude = mel.to_magnitude(features, CONFIG)
    assert magnitude.shape == (CONFIG.n_bins, frames)
    assert np.isfinite(magnitude).all() and (magnitude >= 0).all()
    audio = griffinlim(magnitude, hop_length=CONFIG.hop_length, n_iter=2)
    assert audio.shape == (frames * CONFIG.hop_length,)
    assert np.isfinite(audio).all()


test_any_log_mel_becomes_finite_audio_of_the_right_length, test_any_log_mel_long = fuzz(
    frames=st.integers(1, 96),
    scale=st.sampled_from([0.0, 1.0, 10.0, 1e6]),
    special=st.sampled_from([None, np.nan, np.inf, -np.inf]),
    seed=st.integers(0, 2**16),
)(any_log_mel_becomes_finite_audio_of_the_right_length)
