"""Shared fixtures: real audio files written by the tests themselves."""

import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musinterp_app import allocator
from musinterp_app.audio import synth
from musinterp_app.audio.mel import MelConfig

allocator.limit_arenas()  # as the app does at start (the soak measures its memory)


@pytest.fixture(scope="session")
def config() -> MelConfig:
    return MelConfig()


@pytest.fixture(scope="session")
def clip(config: MelConfig) -> np.ndarray:
    """A 5-s music-like clip at the model rate, float32 ``[samples]``."""
    return synth.music_like(5.0, config.sample_rate, rng=np.random.default_rng(7))


@pytest.fixture
def write_clip(tmp_path: Path):
    """``write_clip(name, samples, rate, **soundfile_kwargs)`` → path of a real file."""

    def write(name: str, samples: np.ndarray, rate: int, **kwargs) -> Path:
        path = tmp_path / name
        sf.write(path, samples, rate, **kwargs)
        return path

    return write


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """Every kind of unusable file, by name (see ``corpus.BAD_INPUT_MESSAGES``)."""
    from corpus import make_bad_inputs

    folder = tmp_path / "bad inputs ü"  # spaces and non-ASCII in the path, too
    folder.mkdir()
    return make_bad_inputs(folder)


@pytest.fixture(scope="session")
def broken_models(tmp_path_factory) -> dict[str, Path]:
    """Model folders that must be refused, by name (see ``corpus.BROKEN_MODEL_MESSAGES``)."""
    pytest.importorskip("onnx")
    from corpus import make_broken_models

    return make_broken_models(tmp_path_factory.mktemp("broken models"))


@pytest.fixture
def usable_oddities(tmp_path: Path) -> dict[str, Path]:
    """Unusual but usable files (see ``corpus.make_usable_oddities``)."""
    from corpus import make_usable_oddities

    folder = tmp_path / "odd ones ö"
    folder.mkdir()
    return make_usable_oddities(folder)


@pytest.fixture(scope="session")
def hour_long(tmp_path_factory) -> Path:
    """One hour at 8 kHz, written cheaply by repeating a one-second tone (58 MB)."""
    path = tmp_path_factory.mktemp("long") / "hour long ü.wav"
    second = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32)
    minute = np.tile(second, 60)
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, subtype="PCM_16") as handle:
        for _ in range(60):
            handle.write(minute)
    return path


@pytest.fixture
def shared_folder():
    """A folder an ordinary user can read (pytest's own tmp folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="musinterp-faults-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)
