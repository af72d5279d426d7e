"""Window v2 (issue 12), driven with real input events: playback that follows what changed,
excerpts bounded by their tracks, the keyboard, morph mode, the remembered session and the
expected commands (undo/redo, swap, shortcuts, About, play state, level)."""

import itertools

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QMessageBox
from support.corpus import BROKEN_MODEL_MESSAGES
from support.window import LOAD_TIMEOUT_MS, drop, idle, load_both, make_window

from musinterp_app import __version__
from musinterp_app.audio import player as playback
from musinterp_app.audio import synth
from musinterp_app.gui.app import remembered_model
from musinterp_app.gui.main_window import LEVEL_FLOOR_DB
from musinterp_app.resources import default_model_dir

pytestmark = pytest.mark.gui
needs_audio = pytest.mark.skipif(
    bool(playback.unavailable_reason()),
    reason=f"no audio output here: {playback.unavailable_reason()}",
)
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton


def settle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)


def type_into(qtbot, box, text: str, key=Qt.Key.Key_Return) -> None:
    """Click a number box, replace its text by typing ``text``, then press ``key``."""
    qtbot.mouseClick(box.lineEdit(), LEFT)
    qtbot.keyClick(box, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, key)


@pytest.fixture
def short_clip(tmp_path):
    """A 3-s clip, shorter than the excerpts asked for below."""
    path = tmp_path / "short.wav"
    clip = synth.music_like(3.0, 22050, rng=np.random.default_rng(9), root_midi=52)
    sf.write(path, clip, 22050)
    return path


# ----- 1: what is heard follows what changed ----------------------------------------------------
@needs_audio
def test_the_output_stream_waits_open_for_a_release_and_closes_when_idle(qtbot, window, clips):
    session = window.session
    load_both(qtbot, window, clips)
    qtbot.waitUntil(lambda: session.player.stream_open, timeout=LOAD_TIMEOUT_MS)  # before a play
    assert session.idle_timer.isActive()
    session.idle_timer.setInterval(400)  # a minute, in the app
    qtbot.waitUntil(lambda: not session.player.stream_open, timeout=5000)  # unused: closed again
    qtbot.mouseClick(window.buttons["blend"], LEFT)
    qtbot.waitUntil(lambda: session.player.playing, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: session.player.buffer.written > 0, timeout=LOAD_TIMEOUT_MS)  # live
    session.stop()
    assert session.player.stream_open and not session.player.playing  # open, silent
    qtbot.waitUntil(lambda: not session.player.stream_open, timeout=5000)
    settle(qtbot, window)
    assert session.player.dropouts == 0  # playback never started on an empty buffer


@needs_audio
def test_a_new_track_rerenders_the_looping_blend_and_stops_a_playing_track(
    qtbot, window, clips, short_clip
):
    load_both(qtbot, window, clips)
    session = window.session
    qtbot.mouseClick(window.loop_box, LEFT)
    qtbot.mouseClick(window.buttons["blend"], LEFT)
    qtbot.waitUntil(lambda: session.player.playing, timeout=LOAD_TIMEOUT_MS)
    old_feed = session.player.buffer
    drop(window.panels["A"], short_clip)
    qtbot.waitUntil(
        lambda: session.tracks["A"].name == "short.wav" and session.player.playing,
        timeout=LOAD_TIMEOUT_MS,
    )
    assert session.player.buffer is not old_feed  # the old blend no longer plays
    assert session.live.running and session.playing == "blend"
    assert window.buttons["blend"].isChecked()
    qtbot.waitUntil(lambda: session.live.renderer is not None, timeout=LOAD_TIMEOUT_MS)
    assert session.live.renderer.period == 384  # 3 s: the new A's excerpt repeats
    settle(qtbot, window)

    qtbot.mouseClick(window.buttons["B"], LEFT)
    qtbot.waitUntil(lambda: session.playing == "B", timeout=LOAD_TIMEOUT_MS)
    assert window.buttons["B"].isChecked() and window.buttons["B"].text() == "■ B"
    drop(window.panels["B"], clips[0])
    qtbot.waitUntil(lambda: session.tracks["B"].name == "low.flac", timeout=LOAD_TIMEOUT_MS)
    assert session.playing == "" and not session.player.playing
    assert not window.buttons["B"].isChecked() and window.buttons["B"].text() == "▶ B"


@needs_audio
def test_options_start_nothing_with_play_on_release_but_a_playing_blend_follows_them(
    qtbot, window, clips
):
    session = window.session
    window.autoplay_box.setChecked(True)
    load_both(qtbot, window, clips)
    qtbot.mouseClick(window.morph_box, LEFT)
    window.mode_box.setCurrentIndex(window.mode_box.findData("lerp"))  # not the default
    qtbot.mouseClick(window.detail_box, LEFT)
    settle(qtbot, window)
    assert session.playing == "" and not session.player.playing  # an option is no release
    assert session.blend_buffer[0] == session.settings  # rendered all the same, for ▶
    assert not window.buttons["stop"].isEnabled()

    qtbot.mouseClick(window.buttons["blend"], LEFT)  # the morph, rendered whole
    qtbot.waitUntil(lambda: session.playing == "blend", timeout=LOAD_TIMEOUT_MS)
    assert session.player.buffer is session.blend_buffer[1] and not session.live.running
    qtbot.mouseClick(window.morph_box, LEFT)  # while the blend plays, it plays the new one
    qtbot.waitUntil(
        lambda: session.playing == "blend" and session.live.running, timeout=LOAD_TIMEOUT_MS
    )
    session.stop()
    window.slider.setSliderDown(True)  # letting go of the slider plays
    window.slider.setValue(300)
    window.slider.setSliderDown(False)
    window.slider.sliderReleased.emit()
    qtbot.waitUntil(lambda: session.live.renderer is not None, timeout=LOAD_TIMEOUT_MS)
    assert session.playing == "blend" and session.live.renderer.target == (0.3,)


# ----- 2: excerpts bounded by each track --------------------------------------------------------
def test_a_long_excerpt_is_bounded_by_the_shorter_track_and_said(
    qtbot, window, clips, short_clip, tmp_path
):
    load_both(qtbot, window, clips)
    type_into(qtbot, window.duration_box, "60")
    qtbot.waitUntil(
        lambda: window.session.tracks["A"].duration_s == pytest.approx(7.0), timeout=60_000
    )
    drop(window.panels["B"], short_clip)
    qtbot.waitUntil(lambda: window.session.tracks["B"].name == "short.wav", timeout=LOAD_TIMEOUT_MS)
    settle(qtbot, window)
    status = window.status_text.text()
    assert "“short.wav” is 3.0 s long: excerpt shortened to 3.0 s (the whole file)" in status
    assert "excerpt 0.0–3.0 s (fitted to the file)" in window.panels["B"].details.text()
    assert "shortened to 3.0 s" in window.panels["B"].details.toolTip()
    assert window.session.blended_mel.shape == (512, 384)  # 3 s: the shorter excerpt
    title = window.blend_view.plotItem.titleLabel.text  # the blend's real length, said
    assert "· 3.0 s (the shorter track)" in title
    target = tmp_path / "bounded.wav"
    with qtbot.waitSignal(window.session.exported, timeout=LOAD_TIMEOUT_MS):
        window.export_to(str(target))
    assert sf.info(target).duration == pytest.approx(3.0, abs=0.01)


def test_a_tracks_header_says_when_the_blend_uses_only_the_start_of_its_excerpt(
    qtbot, window, clips, short_clip
):
    load_both(qtbot, window, clips)
    details = {slot: window.panels[slot].details for slot in ("A", "B")}
    assert "blended" not in details["A"].text() + details["B"].text()
    drop(window.panels["B"], short_clip)  # 3 s: the blend is 3 s, A's excerpt 5 s
    qtbot.waitUntil(lambda: window.session.tracks["B"].name == "short.wav", timeout=LOAD_TIMEOUT_MS)
    assert details["A"].text().endswith("excerpt 0.0–5.0 s · blended 0.0–3.0 s (B is shorter)")
    assert "blended" not in details["B"].text()
    window.session.swap()
    assert details["B"].text().endswith("· blended 0.0–3.0 s (A is shorter)")
    assert "blended" not in details["A"].text()


def test_a_typed_excerpt_out_of_range_is_said_and_not_used(qtbot, window):
    type_into(qtbot, window.duration_box, "120")
    assert window.duration_box.value() == 120.0  # no longer cut to 12
    type_into(qtbot, window.duration_box, "700")
    assert window.status_text.text() == "⚠ Excerpt: 700 s is out of range; type 0.5 … 600 s"
    assert window.duration_box.value() == 120.0 and window.session.excerpt_s == 120.0
    type_into(qtbot, window.duration_box, "0.2")  # below the least: not refused while typing
    assert window.status_text.text() == "⚠ Excerpt: 0.2 s is out of range; type 0.5 … 600 s"
    assert window.duration_box.value() == 120.0
    window.notice_timer.setInterval(50)  # a passing remark leaves the status bar by itself
    window.notice_timer.start()
    qtbot.waitUntil(lambda: not window.status_text.text().startswith("⚠"), timeout=2000)


# ----- 3: the keyboard --------------------------------------------------------------------------
@needs_audio
def test_space_after_typing_alpha_uses_it_and_plays(qtbot, window, clips):
    load_both(qtbot, window, clips)
    type_into(qtbot, window.alpha_box, "0.3", key=Qt.Key.Key_Space)
    assert window.slider.value() == 300 and window.session.settings.alpha == 0.3
    qtbot.waitUntil(lambda: window.session.live.renderer is not None, timeout=LOAD_TIMEOUT_MS)
    assert window.session.playing == "blend" and window.session.live.renderer.target == (0.3,)
    qtbot.keyClick(window.alpha_box, Qt.Key.Key_Space)  # Space again: stop
    assert not window.session.player.playing


def test_alpha_box_arrows_move_the_slider_and_the_blend_at_once(qtbot, window, clips):
    load_both(qtbot, window, clips)
    qtbot.mouseClick(window.alpha_box.lineEdit(), LEFT)
    qtbot.keyClick(window.alpha_box, Qt.Key.Key_Up)
    assert window.slider.value() == 550  # without Enter
    qtbot.keyClick(window.alpha_box, Qt.Key.Key_Up, SHIFT)
    assert window.slider.value() == 560
    settle(qtbot, window)
    assert window.session.decoded_settings.alpha == pytest.approx(0.56)
    assert "α = 0.56" in window.blend_view.plotItem.titleLabel.text


@needs_audio
def test_slider_arrows_step_visibly_and_play_once_the_keys_rest(qtbot, window, clips):
    load_both(qtbot, window, clips)
    window.autoplay_box.setChecked(True)
    starts = []
    window.session.playback_started.connect(lambda: starts.append(window.session.settings))
    window.slider.setFocus()
    for _ in range(4):
        qtbot.keyClick(window.slider, Qt.Key.Key_Right)
    qtbot.keyClick(window.slider, Qt.Key.Key_Left, SHIFT)
    assert window.slider.value() == 500 + 4 * 50 - 10
    settle(qtbot, window)
    assert [settings.alpha for settings in starts] == [pytest.approx(0.69)]  # once, at rest
    qtbot.waitUntil(lambda: window.session.live.renderer is not None, timeout=LOAD_TIMEOUT_MS)
    assert window.session.live.renderer.target == (pytest.approx(0.69),)
    qtbot.keyClick(window.slider, Qt.Key.Key_End)
    assert window.alpha_box.value() == 1.0


def test_a_typed_alpha_out_of_range_is_said(qtbot, window):
    type_into(qtbot, window.alpha_box, "2")
    assert window.status_text.text() == "⚠ α: 2 is out of range; type 0 … 1"
    assert window.alpha_box.value() == 0.5 and window.slider.value() == 500


# ----- 7: morph mode ----------------------------------------------------------------------------
def test_morph_mode_disables_alpha_and_names_what_it_makes(qtbot, window, clips, tmp_path):
    load_both(qtbot, window, clips)
    window.slider.setValue(820)
    settle(qtbot, window)
    assert window.export_name() == "blend low high α0.82"
    qtbot.mouseClick(window.morph_box, LEFT)
    assert window.morph_box.isChecked()
    assert not window.slider.isEnabled() and not window.alpha_box.isEnabled()
    assert "no α to choose" in window.slider.toolTip()
    assert window.actions["export"].text() == "&Export morph A → B…"
    assert window.buttons["blend"].text() == "▶ Morph"
    assert window.export_name() == "morph low to high"
    settle(qtbot, window)
    assert window.status_text.text() == "Morph ready."
    assert "Morph A → B" in window.blend_view.plotItem.titleLabel.text
    target = tmp_path / f"{window.export_name()}.wav"
    with qtbot.waitSignal(window.session.exported, timeout=LOAD_TIMEOUT_MS):
        window.export_to(str(target))  # what Ctrl+E's dialog does with the suggested name
    assert window.status_text.text() == (
        f"Exported {target} (and {target.name}.musinterp.json: how it was made)"
    )
    morph = window.session.engine.render(window.session.settings, n_iter=0)
    exported, rate = sf.read(target)
    assert window.session.settings.morph and len(exported) == round(len(morph) * rate / 32768)
    qtbot.mouseClick(window.morph_box, LEFT)
    assert window.slider.isEnabled() and window.buttons["blend"].text() == "▶ Blend"


# ----- 10: the session is remembered ------------------------------------------------------------
def test_the_session_comes_back_on_the_next_start(qtbot, shipped_model, clips, tmp_path):
    settings_file = tmp_path / "session.ini"
    first = make_window(shipped_model, settings_file)
    qtbot.addWidget(first)
    first.autoplay_box.setChecked(False)
    first.show()
    load_both(qtbot, first, clips)
    first.session.move_excerpt("A", 1.5)
    qtbot.waitUntil(lambda: first.session.tracks["A"].start_s == 1.5, timeout=LOAD_TIMEOUT_MS)
    first.slider.setFocus()
    qtbot.keyClick(first.slider, Qt.Key.Key_Left)
    qtbot.mouseClick(first.morph_box, LEFT)
    settle(qtbot, first)
    assert first.windowTitle() == "A: low.flac · B: high.ogg — musinterp"
    first.close()

    second = make_window(shipped_model, settings_file)
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: second.session.ready and idle(second), timeout=LOAD_TIMEOUT_MS)
    a, b = second.session.tracks["A"], second.session.tracks["B"]
    assert (a.path, a.start_s, b.path) == (clips[0], 1.5, clips[1])
    assert second.slider.value() == 450 and second.morph_box.isChecked()
    assert second.session.settings.alpha == 0.45 and second.session.blended_mel is not None
    assert second.windowTitle() == "A: low.flac · B: high.ogg — musinterp"
    assert second.session.undo_stack.count() == 0  # coming back is not an undoable change
    assert second.settings.value("last_folder") == str(clips[1].parent.absolute())
    second._fill_recent_menu("B")
    recent = [action.text() for action in second.recent_menus["B"].actions()]
    assert sorted(recent[:2]) == ["high.ogg", "low.flac"]  # A and B load in parallel
    second.close()

    clips[1].unlink()  # a file that is gone is not restored, and nothing is said about it
    third = make_window(shipped_model, settings_file)
    qtbot.addWidget(third)
    qtbot.waitUntil(lambda: third.session.tracks["A"] is not None, timeout=LOAD_TIMEOUT_MS)
    assert third.session.tracks["B"] is None and third.last_message is None
    third.close()


def test_the_remembered_model_is_used_or_replaced_with_a_word(tmp_path):
    model, note = remembered_model(str(default_model_dir()))
    assert model is not None and note == ""
    model, note = remembered_model(str(tmp_path / "gone"))
    assert model.info.folder == default_model_dir()
    assert note.startswith("The last model (“gone”) cannot be used, so the shipped one is:")


# ----- 11: expected commands --------------------------------------------------------------------
def test_undo_redo_and_swap_from_the_keyboard(qtbot, window, clips):
    load_both(qtbot, window, clips)
    stack = window.session.undo_stack
    window.slider.setFocus()
    qtbot.keyClick(window.slider, Qt.Key.Key_Right)
    settle(qtbot, window)
    assert window.actions["undo"].text() == "&Undo α 0.50 → 0.55"
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    settle(qtbot, window)
    assert window.slider.value() == 500 and window.session.decoded_settings.alpha == 0.5
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL | SHIFT)
    settle(qtbot, window)
    assert window.alpha_box.value() == 0.55 and window.session.settings.alpha == 0.55

    a, b = window.session.tracks["A"], window.session.tracks["B"]
    qtbot.keyClick(window, Qt.Key.Key_X, CTRL | SHIFT)
    settle(qtbot, window)
    assert window.session.tracks["A"] is b and window.session.tracks["B"] is a
    assert window.panels["A"].title.text() == "high.ogg"
    assert stack.undoText() == "swap A ↔ B"
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    settle(qtbot, window)
    assert window.session.tracks["A"] is a and window.panels["A"].title.text() == "low.flac"


def test_undo_of_a_track_change_reloads_the_previous_file(qtbot, window, clips, short_clip):
    load_both(qtbot, window, clips)
    drop(window.panels["A"], short_clip)
    qtbot.waitUntil(lambda: window.session.tracks["A"].name == "short.wav", timeout=60_000)
    settle(qtbot, window)
    assert window.session.undo_stack.undoText() == "open short.wav in A"
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: window.session.tracks["A"].name == "low.flac", timeout=60_000)
    settle(qtbot, window)
    assert window.panels["A"].title.text() == "low.flac"
    assert window.session.undo_stack.redoText() == "open short.wav in A"


def test_help_lists_the_shortcuts_and_about_gives_the_version(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.info_box.isVisible() and window.info_box.windowTitle() == "Keyboard shortcuts"
    for keys in ("Space", "Ctrl+Z / Ctrl+Shift+Z", "Ctrl+Shift+X", "Esc"):
        assert keys in window.info_box.text()
    window.actions["about"].trigger()
    assert f"musinterp {__version__}" in window.info_box.text()
    assert "<b>default</b>" in window.info_box.text()  # the model by its folder


@needs_audio
def test_play_buttons_show_what_plays_and_the_level_moves(qtbot, window, clips):
    load_both(qtbot, window, clips)
    qtbot.mouseClick(window.buttons["A"], LEFT)
    qtbot.waitUntil(lambda: window.session.player.position_s > 0.3, timeout=LOAD_TIMEOUT_MS)
    assert window.buttons["A"].isChecked() and not window.buttons["blend"].isChecked()
    qtbot.waitUntil(lambda: window.level_meter.value() > LEVEL_FLOOR_DB + 10, timeout=5000)
    qtbot.mouseClick(window.buttons["A"], LEFT)  # the playing button stops it
    assert not window.session.player.playing and not window.buttons["A"].isChecked()
    assert window.level_meter.value() == LEVEL_FLOOR_DB


def test_the_file_filter_and_empty_panels_name_m4a_as_unsupported(window):
    from musinterp_app.gui.main_window import AUDIO_FILTER

    assert AUDIO_FILTER.startswith("Audio files, not M4A/AAC (")
    assert "not M4A/AAC" in window.panels["A"].details.text()


# ----- 8 and 9: empty state and messages --------------------------------------------------------
def test_the_empty_window_invites_and_shows_no_axes(window):
    view = window.panels["A"].view
    assert view.empty_text.isVisible()
    assert "Drop an audio file here" in view.empty_text.textItem.toPlainText()
    assert not view.getPlotItem().getAxis("left").isVisible()
    assert window.status_text.text().startswith(("Drop two audio files", "Playback is off"))


def test_stop_is_enabled_only_while_something_plays(qtbot, window, clips):
    assert not window.buttons["stop"].isEnabled()  # the empty window
    load_both(qtbot, window, clips)
    assert not window.buttons["stop"].isEnabled()
    if reason := playback.unavailable_reason():
        pytest.skip(f"no audio output to play through ({reason})")
    qtbot.mouseClick(window.buttons["blend"], LEFT)
    qtbot.waitUntil(lambda: window.session.playing == "blend", timeout=LOAD_TIMEOUT_MS)
    assert window.buttons["stop"].isEnabled()
    qtbot.mouseClick(window.buttons["stop"], LEFT)
    assert window.session.playing == "" and not window.buttons["stop"].isEnabled()


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


def test_a_bad_model_says_it_plainly_with_details_and_the_warning_goes_when_read(
    qtbot, window, broken_models
):
    window.load_model(str(broken_models["cut encoder"]))
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    box = window.last_message
    assert BROKEN_MODEL_MESSAGES["cut encoder"] in box.text()
    assert "The previous model is still in use." in box.text()
    assert box.detailedText() and box.detailedText() not in box.text()  # the raw words
    assert window.status_text.text().startswith("⚠")
    box.button(QMessageBox.StandardButton.Ok).click()
    assert not window.status_text.text().startswith("⚠")


def test_the_volume_scales_what_is_played_and_is_remembered(qtbot, window, tmp_path):
    import sounddevice

    window.volume_slider.setFocus()
    qtbot.keyClick(window.volume_slider, Qt.Key.Key_PageDown)  # a tenth down
    player = window.session.player
    assert player.volume == pytest.approx(0.9)
    buffer = player.buffer_of(np.full(32768, 0.5, np.float32))
    player._cue = playback._Cue(buffer)
    block = np.zeros((256, 1), np.float32)
    player._callback(block, 256, None, sounddevice.CallbackFlags())
    np.testing.assert_allclose(block[:, 0], 0.9 * buffer.samples[:256], rtol=1e-6)  # heard
    window.close()
    again = make_window(window.session.engine.model, tmp_path / "settings.ini")
    qtbot.addWidget(again)
    assert again.volume_slider.value() == 90 and again.session.player.volume == 0.9
    again.close()


# ----- 5 and 6: colour scale and views ----------------------------------------------------------
def test_colours_span_the_data_shared_by_all_views_until_dragged(qtbot, window, clips):
    load_both(qtbot, window, clips)
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
    load_both(qtbot, window, clips)
    window.actions["view_difference"].trigger()
    assert window.views["difference"].isVisible()
    assert window.settings.value("view/difference") in (True, "true")
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


# ----- 4: choosing an excerpt -------------------------------------------------------------------
def _point_at(view, seconds: float):
    """The widget position of ``seconds`` (half-way up) in a spectrogram view."""
    from PySide6.QtCore import QPointF

    scene = view.getPlotItem().vb.mapViewToScene(QPointF(seconds, 64))
    return view.mapFromScene(scene)


def test_a_click_places_the_excerpt_a_typed_start_moves_it_and_zoom_stays(qtbot, window, clips):
    load_both(qtbot, window, clips)
    panel = window.panels["A"]
    qtbot.mouseClick(panel.view.viewport(), LEFT, pos=_point_at(panel.view, 4.0))
    qtbot.mouseClick(panel.view.viewport(), LEFT, pos=_point_at(panel.view, 6.0))
    qtbot.waitUntil(
        lambda: window.session.tracks["A"].start_s != 0.0 and idle(window), timeout=60_000
    )
    assert window.session.tracks["A"].start_s == pytest.approx(2.0, abs=0.1)  # 7 − 5 at most
    assert panel.start_box.value() == pytest.approx(2.0, abs=0.1)
    panel.view.getPlotItem().vb.setXRange(1.0, 4.0, padding=0)  # zoomed in
    type_into(qtbot, panel.start_box, "1.5")
    qtbot.waitUntil(lambda: window.session.tracks["A"].start_s == 1.5, timeout=60_000)
    settle(qtbot, window)
    assert "excerpt 1.5–6.5 s" in panel.details.text()
    assert panel.view.viewRange()[0] == pytest.approx([1.0, 4.0], abs=0.01)
    assert window.session.undo_stack.undoText() == "move the excerpt of A"
    panel.region.setRegion((0.5, 5.5))  # as a drag does, before it is let go
    assert "excerpt 0.5–5.5 s" in panel.details.text()


@needs_audio
def test_a_double_click_plays_the_whole_track_from_there(qtbot, window, clips):
    load_both(qtbot, window, clips)
    panel = window.panels["B"]
    where = _point_at(panel.view, 6.0)
    qtbot.mouseClick(panel.view.viewport(), LEFT, pos=where)  # a double-click, as Qt sends it
    qtbot.mouseDClick(panel.view.viewport(), LEFT, pos=where)
    qtbot.mouseRelease(panel.view.viewport(), LEFT, pos=where)
    qtbot.waitUntil(lambda: window.session.playing == "B", timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: panel.view.cursor.isVisible(), timeout=5000)
    assert 6.0 <= panel.view.cursor.value() < 7.0  # past the 0–5 s excerpt
    window.session.stop()


@needs_audio
def test_space_is_the_transport_whatever_control_has_the_focus(qtbot, window, clips):
    load_both(qtbot, window, clips)
    for control in (window.morph_box, window.mode_box, window.slider, window.buttons["A"]):
        control.setFocus()
        checked = window.morph_box.isChecked()
        qtbot.keyClick(control, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: window.session.playing == "blend", timeout=LOAD_TIMEOUT_MS)
        assert window.morph_box.isChecked() == checked, control
        qtbot.keyClick(control, Qt.Key.Key_Space)
        assert window.session.playing == "", control
