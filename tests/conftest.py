"""Shared fixtures: real files written by the tests themselves, and the shipped model.

Helpers live in ``tests/support/``; the window fixtures in ``tests/gui/conftest.py``.
"""

import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from support.corpus import (
    make_bad_inputs,
    make_broken_models,
    make_not_files,
    make_usable_oddities,
)

from musinterp_app.audio import synth
from musinterp_app.audio.mel import MelConfig
from musinterp_app.base import allocator
from musinterp_app.base.resources import default_model_dir
from musinterp_app.model.onnx_vae import OnnxVAE

allocator.limit_arenas()  # as the app does at start (the soak measures its memory)


@pytest.fixture(scope="session")
def config() -> MelConfig:
    return MelConfig()


@pytest.fixture(scope="session")
def shipped_model() -> OnnxVAE:
    """The default model that ships with the app (loaded once per test run)."""
    return OnnxVAE(default_model_dir())


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
    folder = tmp_path / "bad inputs ü"  # spaces and non-ASCII in the path, too
    folder.mkdir()
    return make_bad_inputs(folder)


@pytest.fixture(scope="session")
def broken_models(tmp_path_factory) -> dict[str, Path]:
    """Model folders that must be refused, by name (see ``corpus.BROKEN_MODEL_MESSAGES``)."""
    pytest.importorskip("onnx")
    return make_broken_models(tmp_path_factory.mktemp("broken models"))


@pytest.fixture
def usable_oddities(tmp_path: Path) -> dict[str, Path]:
    """Unusual but usable files (see ``corpus.make_usable_oddities``)."""
    folder = tmp_path / "odd ones ö"
    folder.mkdir()
    return make_usable_oddities(folder)


@pytest.fixture
def not_files(tmp_path: Path) -> dict[str, Path]:
    """Paths that name no file: pipes, sockets, devices, link loops, /proc (see
    ``corpus.NOT_A_FILE_MESSAGES``)."""
    folder = tmp_path / "not files ü"
    folder.mkdir()
    return make_not_files(folder)


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
