"""Fixtures of the GUI tests: the real window with temporary settings, and two clips."""

import numpy as np
import pytest
import soundfile as sf
from support.window import load_both, make_shown_window

from musinterp_app.audio import synth


@pytest.fixture
def clips(tmp_path):
    """Two 7-s clips that differ in key and tempo: ``low.flac`` and ``high.ogg``."""
    paths = []
    for name, root, tempo in [("low.flac", 45, 90.0), ("high.ogg", 64, 140.0)]:
        clip = synth.music_like(
            7.0, 44100, rng=np.random.default_rng(root), root_midi=root, tempo_bpm=tempo
        )
        sf.write(tmp_path / name, clip, 44100)
        paths.append(tmp_path / name)
    return paths


@pytest.fixture
def window(qtbot, shipped_model, tmp_path):
    """The window, shown, with settings in a temporary file and *Play on release* off."""
    win = make_shown_window(qtbot, shipped_model, tmp_path / "settings.ini")
    yield win
    win.close()


@pytest.fixture
def loaded_window(qtbot, window, clips):
    """The window with both clips loaded and their blend drawn."""
    load_both(qtbot, window, clips)
    return window


@pytest.fixture
def short_clip(tmp_path):
    """A 3-s clip, shorter than the excerpts the tests ask for."""
    path = tmp_path / "short.wav"
    clip = synth.music_like(3.0, 22050, rng=np.random.default_rng(9), root_midi=52)
    sf.write(path, clip, 22050)
    return path
