"""Playback from the real window through PortAudio: what plays follows what changed, the
transport and its keys, level, volume, output device and buffer."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from support import window as ui

from musinterp_app.audio import player as playback
from musinterp_app.gui.main_window import LEVEL_FLOOR_DB

pytestmark = pytest.mark.gui


def test_render_streams_into_the_playback_buffer(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    window.session.request_render(play=False)
    qtbot.waitUntil(lambda: window.session.blend_buffer[1].complete, timeout=ui.LOAD_TIMEOUT_MS)
    buffer = window.session.blend_buffer[1]
    assert buffer.source_samples == 640 * 256
    assert abs(len(buffer.samples) - 5.0 * buffer.output_rate) <= 64  # 5 s at the device rate
    assert np.isfinite(buffer.samples).all() and np.abs(buffer.samples).max() > 0.01


@pytest.mark.skipif(
    bool(playback.unavailable_reason()),
    reason=f"no audio output here: {playback.unavailable_reason()}",
)
def test_play_blend_through_portaudio_moves_the_cursor(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    window.session.transport.play_blend()
    qtbot.waitUntil(
        lambda: (
            window.session.transport.player.playing
            and window.session.transport.player.position_s > 0.25
        ),
        timeout=ui.LOAD_TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: window.blend_view.cursor.isVisible(), timeout=5000)
    assert window.blend_view.cursor.value() > 0
    window.session.transport.stop()
    assert not window.session.transport.player.playing
    window.session.transport.play_track("A")
    qtbot.waitUntil(lambda: window.panels["A"].view.cursor.isVisible(), timeout=ui.LOAD_TIMEOUT_MS)
    assert window.panels["A"].view.cursor.value() >= window.session.engine.tracks["A"].start_s
    window.session.transport.stop()


def test_without_audio_device_play_is_off_and_export_works(
    qtbot, shipped_model, clips, tmp_path, monkeypatch
):
    portaudio_says = "no audio output device (Error querying device -1)"
    monkeypatch.setattr(playback, "unavailable_reason", lambda: portaudio_says)
    win = ui.make_window(shipped_model, tmp_path / "s.ini")
    qtbot.addWidget(win)
    plain = "Playback is off: no sound output was found (no sound card, or no sound server"
    assert win.status_text.text().startswith(plain)  # plain words, before anything loads
    ui.load_both(qtbot, win, clips)
    assert not win.buttons["blend"].isEnabled()
    assert win.buttons["blend"].toolTip().startswith(plain)
    assert "querying device" not in win.buttons["blend"].toolTip()
    win.export_to(str(tmp_path / "x.wav"), morph=True)
    qtbot.waitUntil((tmp_path / "x.wav").exists, timeout=ui.LOAD_TIMEOUT_MS)
    win.close()


@ui.needs_audio
def test_the_output_stream_waits_open_for_a_release_and_closes_when_idle(qtbot, window, clips):
    session = window.session
    ui.load_both(qtbot, window, clips)
    qtbot.waitUntil(
        lambda: session.transport.player.stream_open, timeout=ui.LOAD_TIMEOUT_MS
    )  # before a play
    assert session.transport.idle_timer.isActive()
    session.transport.idle_timer.setInterval(400)  # a minute, in the app
    qtbot.waitUntil(
        lambda: not session.transport.player.stream_open, timeout=5000
    )  # unused: closed again
    qtbot.mouseClick(window.buttons["blend"], ui.LEFT)
    qtbot.waitUntil(lambda: session.transport.player.playing, timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: session.transport.player.buffer.written > 0, timeout=ui.LOAD_TIMEOUT_MS
    )  # live
    session.transport.stop()
    assert (
        session.transport.player.stream_open and not session.transport.player.playing
    )  # open, silent
    qtbot.waitUntil(lambda: not session.transport.player.stream_open, timeout=5000)
    ui.settle(qtbot, window)
    assert session.transport.player.dropouts == 0  # playback never started on an empty buffer


@ui.needs_audio
def test_a_new_track_rerenders_the_looping_blend_and_stops_a_playing_track(
    qtbot, window, clips, short_clip
):
    ui.load_both(qtbot, window, clips)
    session = window.session
    qtbot.mouseClick(window.loop_box, ui.LEFT)
    qtbot.mouseClick(window.buttons["blend"], ui.LEFT)
    qtbot.waitUntil(lambda: session.transport.player.playing, timeout=ui.LOAD_TIMEOUT_MS)
    old_feed = session.transport.player.buffer
    ui.drop(window.panels["A"], short_clip)
    qtbot.waitUntil(
        lambda: session.tracks["A"].name == "short.wav" and session.transport.player.playing,
        timeout=ui.LOAD_TIMEOUT_MS,
    )
    assert session.transport.player.buffer is not old_feed  # the old blend no longer plays
    assert session.transport.live.running and session.transport.playing == "blend"
    assert window.buttons["blend"].isChecked()
    qtbot.waitUntil(lambda: session.transport.live.renderer is not None, timeout=ui.LOAD_TIMEOUT_MS)
    assert session.transport.live.renderer.period == 384  # 3 s: the new A's excerpt repeats
    ui.settle(qtbot, window)

    qtbot.mouseClick(window.buttons["B"], ui.LEFT)
    qtbot.waitUntil(lambda: session.transport.playing == "B", timeout=ui.LOAD_TIMEOUT_MS)
    assert window.buttons["B"].isChecked() and window.buttons["B"].text() == "■ B"
    ui.drop(window.panels["B"], clips[0])
    qtbot.waitUntil(lambda: session.tracks["B"].name == "low.flac", timeout=ui.LOAD_TIMEOUT_MS)
    assert session.transport.playing == "" and not session.transport.player.playing
    assert not window.buttons["B"].isChecked() and window.buttons["B"].text() == "▶ B"


@ui.needs_audio
def test_options_start_nothing_with_play_on_release_but_a_playing_blend_follows_them(
    qtbot, window, clips
):
    session = window.session
    window.autoplay_box.setChecked(True)
    ui.load_both(qtbot, window, clips)
    qtbot.mouseClick(window.morph_box, ui.LEFT)
    window.mode_box.setCurrentIndex(window.mode_box.findData("lerp"))  # not the default
    qtbot.mouseClick(window.detail_box, ui.LEFT)
    ui.settle(qtbot, window)
    assert (
        session.transport.playing == "" and not session.transport.player.playing
    )  # an option is no release
    assert session.blend_buffer[0] == session.settings  # rendered all the same, for ▶
    assert not window.buttons["stop"].isEnabled()

    qtbot.mouseClick(window.buttons["blend"], ui.LEFT)  # the morph, rendered whole
    qtbot.waitUntil(lambda: session.transport.playing == "blend", timeout=ui.LOAD_TIMEOUT_MS)
    assert (
        session.transport.player.buffer is session.blend_buffer[1]
        and not session.transport.live.running
    )
    qtbot.mouseClick(window.morph_box, ui.LEFT)  # while the blend plays, it plays the new one
    qtbot.waitUntil(
        lambda: session.transport.playing == "blend" and session.transport.live.running,
        timeout=ui.LOAD_TIMEOUT_MS,
    )
    session.transport.stop()
    window.slider.setSliderDown(True)  # letting go of the slider plays
    window.slider.setValue(300)
    window.slider.setSliderDown(False)
    window.slider.sliderReleased.emit()
    qtbot.waitUntil(lambda: session.transport.live.renderer is not None, timeout=ui.LOAD_TIMEOUT_MS)
    assert session.transport.playing == "blend" and session.transport.live.renderer.target == (0.3,)


@ui.needs_audio
def test_space_after_typing_alpha_uses_it_and_plays(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    ui.type_into(qtbot, window.alpha_box, "0.3", key=Qt.Key.Key_Space)
    assert window.slider.value() == 300 and window.session.settings.alpha == 0.3
    qtbot.waitUntil(
        lambda: window.session.transport.live.renderer is not None, timeout=ui.LOAD_TIMEOUT_MS
    )
    assert (
        window.session.transport.playing == "blend"
        and window.session.transport.live.renderer.target == (0.3,)
    )
    qtbot.keyClick(window.alpha_box, Qt.Key.Key_Space)  # Space again: stop
    assert not window.session.transport.player.playing


@ui.needs_audio
def test_play_buttons_show_what_plays_and_the_level_moves(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    qtbot.mouseClick(window.buttons["A"], ui.LEFT)
    qtbot.waitUntil(
        lambda: window.session.transport.player.position_s > 0.3, timeout=ui.LOAD_TIMEOUT_MS
    )
    assert window.buttons["A"].isChecked() and not window.buttons["blend"].isChecked()
    qtbot.waitUntil(lambda: window.level_meter.value() > LEVEL_FLOOR_DB + 10, timeout=5000)
    qtbot.mouseClick(window.buttons["A"], ui.LEFT)  # the playing button stops it
    assert not window.session.transport.player.playing and not window.buttons["A"].isChecked()
    assert window.level_meter.value() == LEVEL_FLOOR_DB


def test_stop_is_enabled_only_while_something_plays(qtbot, window, clips):
    assert not window.buttons["stop"].isEnabled()  # the empty window
    ui.load_both(qtbot, window, clips)
    assert not window.buttons["stop"].isEnabled()
    if reason := playback.unavailable_reason():
        pytest.skip(f"no audio output to play through ({reason})")
    qtbot.mouseClick(window.buttons["blend"], ui.LEFT)
    qtbot.waitUntil(lambda: window.session.transport.playing == "blend", timeout=ui.LOAD_TIMEOUT_MS)
    assert window.buttons["stop"].isEnabled()
    qtbot.mouseClick(window.buttons["stop"], ui.LEFT)
    assert window.session.transport.playing == "" and not window.buttons["stop"].isEnabled()


def test_the_volume_scales_what_is_played_and_is_remembered(qtbot, window, tmp_path):
    import sounddevice

    window.volume_slider.setFocus()
    qtbot.keyClick(window.volume_slider, Qt.Key.Key_PageDown)  # a tenth down
    player = window.session.transport.player
    assert player.volume == pytest.approx(0.9)
    buffer = player.buffer_of(np.full(32768, 0.5, np.float32))
    player._cue = playback._Cue(buffer)
    block = np.zeros((256, 1), np.float32)
    player._callback(block, 256, None, sounddevice.CallbackFlags())
    np.testing.assert_allclose(block[:, 0], 0.9 * buffer.samples[:256], rtol=1e-6)  # heard
    window.close()
    again = ui.make_window(window.session.engine.model, tmp_path / "settings.ini")
    qtbot.addWidget(again)
    assert again.volume_slider.value() == 90 and again.session.transport.player.volume == 0.9
    again.close()


@ui.needs_audio
def test_a_double_click_plays_the_whole_track_from_there(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    panel = window.panels["B"]
    where = ui.point_at(panel.view, 6.0)
    qtbot.mouseClick(panel.view.viewport(), ui.LEFT, pos=where)  # a double-click, as Qt sends it
    qtbot.mouseDClick(panel.view.viewport(), ui.LEFT, pos=where)
    qtbot.mouseRelease(panel.view.viewport(), ui.LEFT, pos=where)
    qtbot.waitUntil(lambda: window.session.transport.playing == "B", timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: panel.view.cursor.isVisible(), timeout=5000)
    assert 6.0 <= panel.view.cursor.value() < 7.0  # past the 0–5 s excerpt
    window.session.transport.stop()


@ui.needs_audio
def test_space_is_the_transport_whatever_control_has_the_focus(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    for control in (window.morph_box, window.mode_box, window.slider, window.buttons["A"]):
        control.setFocus()
        checked = window.morph_box.isChecked()
        qtbot.keyClick(control, Qt.Key.Key_Space)
        qtbot.waitUntil(
            lambda: window.session.transport.playing == "blend", timeout=ui.LOAD_TIMEOUT_MS
        )
        assert window.morph_box.isChecked() == checked, control
        qtbot.keyClick(control, Qt.Key.Key_Space)
        assert window.session.transport.playing == "", control


def test_keys_play_a_b_and_the_blend_with_a_playhead_in_every_view_of_it(qtbot, window, clips):
    if window.session.transport.audio_problem:
        pytest.skip(f"no audio output here: {window.session.transport.audio_problem}")
    ui.load_both(qtbot, window, clips)
    excerpt, blend = window.views["A"], window.blend_view
    qtbot.keyClick(window, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: window.session.transport.playing == "A", timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(excerpt.cursor.isVisible, timeout=ui.LOAD_TIMEOUT_MS)
    assert window.panels["A"].view.cursor.isVisible()  # the whole file's view too
    assert 0 <= excerpt.cursor.value() <= window.session.tracks["A"].excerpt_s
    assert not blend.cursor.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: window.session.transport.playing == "blend", timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(blend.cursor.isVisible, timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(window.views["B"].cursor.isVisible, timeout=ui.LOAD_TIMEOUT_MS)
    assert not window.panels["A"].view.cursor.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_B)
    qtbot.waitUntil(lambda: window.session.transport.playing == "B", timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not blend.cursor.isVisible(), timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.keyClick(window, Qt.Key.Key_B)  # again: stop
    qtbot.waitUntil(lambda: window.session.transport.playing == "", timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.views["B"].cursor.isVisible(), timeout=ui.LOAD_TIMEOUT_MS)


def test_the_output_device_and_buffer_are_chosen_remembered_and_said(
    qtbot, shipped_model, tmp_path
):
    first = ui.make_shown_window(qtbot, shipped_model, tmp_path / "settings.ini")
    menus = first.audio_menus
    menus["device"].aboutToShow.emit()
    labels = [a.text() for a in menus["device"].actions()]
    assert labels[0] == "The system's default"
    if first.session.transport.audio_problem:
        first.close()
        pytest.skip(f"no audio output here: {first.session.transport.audio_problem}")
    assert len(labels) > 1  # the devices PortAudio offers (JACK's here)
    menus["device"].actions()[1].trigger()
    menus["buffer"].aboutToShow.emit()
    bigger = next(a for a in menus["buffer"].actions() if a.text().startswith("2048 samples"))
    bigger.trigger()
    assert first.session.transport.output == (labels[1], 2048)
    assert first.session.transport.player.block_size == 2048
    assert first.session.transport.player.device is not None
    first.session.transport.player.start_stream()
    words = first.session.transport.output_words()
    assert words.startswith(f"{labels[1]}, 2048-sample buffer") and "ms to the speakers" in words
    first.close()
    second = ui.make_shown_window(qtbot, shipped_model, tmp_path / "settings.ini")
    assert second.session.transport.output == (labels[1], 2048)  # remembered
    second.close()
