"""The window's Render menu and export types, driven for real (offscreen)."""

import numpy as np
import pytest
import soundfile as sf
from support.window import load_both

pytestmark = pytest.mark.gui


@pytest.fixture
def loaded_window(qtbot, window, clips):
    load_both(qtbot, window, clips)
    return window


def _choose(window, name: str, value) -> None:
    action = next(a for a in window.choices[name].actions() if a.data() == value)
    action.trigger()


def test_export_follows_the_render_menu_and_the_chosen_type(loaded_window, qtbot, tmp_path):
    window = loaded_window
    _choose(window, "level", "peak")
    _choose(window, "rate", 48000)
    _choose(window, "iterations", 8)
    target = tmp_path / "blend.flac"
    with qtbot.waitSignal(window.session.lanes["export"].finished, timeout=120_000):
        window.export_to(str(target), sample_format="24")
    info = sf.info(target)
    assert (info.format, info.subtype, info.samplerate) == ("FLAC", "PCM_24", 48000)
    audio, _ = sf.read(target, dtype="float32")
    assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), rel=2e-3)  # peak level chosen
    assert window.settings.value("render/rate") in (48000, "48000")  # remembered


def test_an_export_as_heard_keeps_the_level_of_the_blend(loaded_window, qtbot, tmp_path):
    window = loaded_window
    _choose(window, "level", "match")
    _choose(window, "rate", -1)  # the model's, to compare with the render
    target = tmp_path / "blend.wav"
    with qtbot.waitSignal(window.session.lanes["export"].finished, timeout=120_000):
        window.export_to(str(target))
    audio, rate = sf.read(target, dtype="float32")
    heard = window.session.engine.render(
        window.session.settings, n_iter=window.choice("iterations")
    )
    assert rate == 32768
    assert np.sqrt(np.mean(audio**2)) == pytest.approx(np.sqrt(np.mean(heard**2)), rel=0.05)
