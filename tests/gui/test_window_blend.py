"""The blend in the real window: the slider, the α box and the arrows, options that travel
alone, morph mode, and the views that show it."""

import itertools
import random
import threading
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication
from support import window as ui

from musinterp_app.engine import BlendSettings
from musinterp_app.gui.main_window import SLIDER_STEPS

pytestmark = pytest.mark.gui


def test_slider_updates_the_blend_and_ends_exactly_at_the_originals(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    window.slider.setValue(0)
    qtbot.waitUntil(lambda: ui.idle(window), timeout=ui.LOAD_TIMEOUT_MS)
    np.testing.assert_allclose(
        window.session.blended_mel, window.session.engine.tracks["A"].mel, atol=1e-5
    )
    window.slider.setValue(SLIDER_STEPS)
    qtbot.waitUntil(lambda: ui.idle(window), timeout=ui.LOAD_TIMEOUT_MS)
    np.testing.assert_allclose(
        window.session.blended_mel, window.session.engine.tracks["B"].mel, atol=1e-5
    )
    assert window.alpha_box.value() == 1.0


def test_alpha_and_options_travel_alone_and_keep_settings_without_a_widget(qtbot, window, clips):
    """A setting the window has no widget for (steady level, even steps) survives a slider
    move and an option change: only what moved travels to the session."""
    ui.load_both(qtbot, window, clips)
    session = window.session
    session.settings = replace(session.settings, steady_level=False, steps=(0.0, 0.3, 1.0))
    window.slider.setValue(round(0.25 * SLIDER_STEPS))
    assert session.settings.alpha == 0.25
    window.detail_box.setChecked(not window.detail_box.isChecked())
    window.mode_box.setCurrentIndex(window.mode_box.findData("lerp"))
    settings = session.settings
    assert (settings.steady_level, settings.steps, settings.mode) == (
        False,
        (0.0, 0.3, 1.0),
        "lerp",
    )
    assert settings.keep_detail == window.detail_box.isChecked() and settings.alpha == 0.25
    qtbot.waitUntil(lambda: ui.idle(window), timeout=ui.LOAD_TIMEOUT_MS)


def test_rapid_slider_moves_the_last_alpha_wins(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    threads_before = threading.active_count()
    rng = random.Random(0)
    window.slider.setSliderDown(True)
    for _ in range(200):
        window.slider.setValue(rng.randrange(SLIDER_STEPS + 1))
        QApplication.processEvents()
    window.slider.setValue(730)
    window.slider.setSliderDown(False)
    window.slider.sliderReleased.emit()
    qtbot.waitUntil(lambda: ui.idle(window), timeout=ui.LOAD_TIMEOUT_MS)
    session = window.session
    expected = session.engine.blend_mel(session.heard(session.engine, BlendSettings(alpha=0.73)))
    np.testing.assert_array_equal(window.session.blended_mel, expected)
    assert "α = 0.73" in window.blend_view.plotItem.titleLabel.text
    assert window.blend_view.plotItem.titleLabel.text.endswith("· 5.0 s")  # as long as asked
    window.session.pool.wait_for_done(10)
    assert window.session.pool.active_jobs() == 0
    assert threading.active_count() <= threads_before + window.session.pool.max_workers


def test_alpha_box_arrows_move_the_slider_and_the_blend_at_once(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    qtbot.mouseClick(window.alpha_box.lineEdit(), ui.LEFT)
    qtbot.keyClick(window.alpha_box, Qt.Key.Key_Up)
    assert window.slider.value() == 550  # without Enter
    qtbot.keyClick(window.alpha_box, Qt.Key.Key_Up, ui.SHIFT)
    assert window.slider.value() == 560
    ui.settle(qtbot, window)
    assert window.session.decoded_settings.alpha == pytest.approx(0.56)
    assert "α = 0.56" in window.blend_view.plotItem.titleLabel.text


@ui.needs_audio
def test_slider_arrows_step_visibly_and_play_once_the_keys_rest(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    window.autoplay_box.setChecked(True)
    starts = []
    window.session.playback_started.connect(lambda: starts.append(window.session.settings))
    window.slider.setFocus()
    for _ in range(4):
        qtbot.keyClick(window.slider, Qt.Key.Key_Right)
    qtbot.keyClick(window.slider, Qt.Key.Key_Left, ui.SHIFT)
    assert window.slider.value() == 500 + 4 * 50 - 10
    ui.settle(qtbot, window)
    assert [settings.alpha for settings in starts] == [pytest.approx(0.69)]  # once, at rest
    qtbot.waitUntil(
        lambda: window.session.transport.live.renderer is not None, timeout=ui.LOAD_TIMEOUT_MS
    )
    assert window.session.transport.live.renderer.target == (pytest.approx(0.69),)
    qtbot.keyClick(window.slider, Qt.Key.Key_End)
    assert window.alpha_box.value() == 1.0


def test_a_typed_alpha_out_of_range_is_said(qtbot, window):
    ui.type_into(qtbot, window.alpha_box, "2")
    assert window.status_text.text() == "⚠ α: 2 is out of range; type 0 … 1"
    assert window.alpha_box.value() == 0.5 and window.slider.value() == 500


def test_morph_mode_disables_alpha_and_names_what_it_makes(qtbot, window, clips, tmp_path):
    ui.load_both(qtbot, window, clips)
    window.slider.setValue(820)
    ui.settle(qtbot, window)
    assert window.export_name() == "blend low high α0.82"
    qtbot.mouseClick(window.morph_box, ui.LEFT)
    assert window.morph_box.isChecked()
    assert not window.slider.isEnabled() and not window.alpha_box.isEnabled()
    assert "no α to choose" in window.slider.toolTip()
    assert window.actions["export"].text() == "&Export morph A → B…"
    assert window.buttons["blend"].text() == "▶ Morph"
    assert window.export_name() == "morph low to high"
    ui.settle(qtbot, window)
    assert window.status_text.text() == "Morph ready."
    assert "Morph A → B" in window.blend_view.plotItem.titleLabel.text
    target = tmp_path / f"{window.export_name()}.wav"
    with qtbot.waitSignal(window.session.exported, timeout=ui.LOAD_TIMEOUT_MS):
        window.export_to(str(target))  # what Ctrl+E's dialog does with the suggested name
    assert window.status_text.text() == (
        f"Exported {target} (and {target.name}.musinterp.json: how it was made)"
    )
    morph = window.session.engine.render(window.session.settings, n_iter=0)
    exported, rate = sf.read(target)
    assert window.session.settings.morph and len(exported) == round(len(morph) * rate / 32768)
    qtbot.mouseClick(window.morph_box, ui.LEFT)
    assert window.slider.isEnabled() and window.buttons["blend"].text() == "▶ Blend"


def test_colours_span_the_data_shared_by_all_views_until_dragged(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    low, high = window.colour_scale.levels()
    values = np.concatenate([window.session.tracks[s].mel.ravel() for s in "AB"])
    assert low == pytest.approx(np.percentile(values, 2), abs=0.25)  # not the fixed -80 dB
    assert high == pytest.approx(np.percentile(values, 99.7), abs=0.25)  # not a fixed 0 dB
    for view in window.spectrograms:
        if view.shown is not None:
            assert tuple(view.image.levels) == pytest.approx((low, high))
    window.colour_scale.bar.sigLevelsChangeFinished.emit(window.colour_scale.bar)  # a drag
    assert not window.actions["auto_colour"].isChecked() and not window.colour_scale.auto
    window.actions["auto_colour"].trigger()
    assert window.colour_scale.auto and window.colour_scale.levels() == (low, high)


def test_the_views_line_up_and_the_difference_says_what_it_is(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    window.actions["view_difference"].trigger()
    assert window.views["difference"].isVisible()
    assert window.preferences.value("view/difference") in (True, "true")
    difference = window.views["difference"]
    assert "blend − (1−α)·A − α·B" in difference.plotItem.titleLabel.text
    session = window.session
    a, b = session.tracks["A"].mel, session.tracks["B"].mel
    share_a, share_b = session.heard(session.engine, session.settings).shares(1)  # even steps
    np.testing.assert_allclose(
        session.difference_mel, session.blended_mel - (share_a * a + share_b * b), atol=1e-5
    )
    for name in ("A", "B", "difference"):
        assert window.views[name].viewRange()[0] == pytest.approx(window.blend_view.viewRange()[0])
    readout = window.blend_view.readout(1.0, 100.0)
    assert readout.startswith("1.00 s · ") and " Hz · " in readout and readout.endswith(" dB")
    assert difference.readout(1.0, 100.0).split(" · ")[2][0] in "+-"
    assert window.blend_view.readout(99.0, 100.0) == ""


def test_the_empty_windows_colour_bar_labels_are_whole_and_apart(qtbot, window):
    qtbot.waitExposed(window)
    QApplication.processEvents()  # the plots' layouts
    axis, view = window.colour_scale.bar.axis, window.blend_view
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        labels = axis.generateDrawSpecs(painter)[2]  # (rectangle, flags, text) as drawn
    finally:
        painter.end()
    assert labels[-1][2] == "-80 dB"
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    rects = [axis.mapRectToScene(rect) for rect, _flags, _text in labels]
    assert all(shown.contains(rect) for rect in rects)  # none cut by the view's edge
    assert not any(upper.intersects(lower) for upper, lower in itertools.pairwise(rects))
