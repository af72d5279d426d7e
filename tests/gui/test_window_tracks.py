"""Tracks in the real window, offscreen: drops and what a bad one keeps, excerpts bounded by
their tracks, clicks and typed starts, hour-long files, Esc during a load."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from support import window as ui
from support.corpus import BAD_INPUT_MESSAGES, NOT_A_FILE_MESSAGES

from musinterp_app import engine

pytestmark = pytest.mark.gui


def refuse_each(qtbot, window, paths: dict, messages: dict) -> None:
    """Drop (or open) each path on A: the window explains, and A keeps its track."""
    before = window.session.engine.tracks["A"]
    for name, path in paths.items():
        if name in ("missing.wav", "folder.wav"):
            window.load("A", str(path))  # cannot be dragged from a file manager; opened
        else:
            ui.drop(window.panels["A"], path)
        qtbot.waitUntil(lambda: not window.session.lanes["A"].busy, timeout=ui.LOAD_TIMEOUT_MS)
        qtbot.waitUntil(lambda: window.last_message is not None, timeout=ui.LOAD_TIMEOUT_MS)
        message = window.last_message.text()
        assert messages[name] in message, (name, message)
        assert window.session.engine.tracks["A"] is before, name
        assert window.panels["A"].title.text() == before.name, name
        window.last_message.close()
        window.last_message = None


def test_drop_two_files_shows_both_and_the_blend(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    assert window.panels["A"].title.text() == "low.flac"
    assert window.panels["B"].title.text() == "high.ogg"
    assert "7.0 s · 44100 Hz · mono" in window.panels["A"].details.text()
    assert window.panels["A"].view.image.image is not None
    assert window.session.blended_mel.shape == (512, 640)
    assert window.actions["export"].isEnabled()


def test_bad_drop_keeps_the_previous_track_and_says_why(qtbot, window, clips, tmp_path):
    ui.load_both(qtbot, window, clips)
    before = window.session.engine.tracks["A"]
    notes = tmp_path / "notes.wav"
    notes.write_text("definitely not audio\n" * 20)
    ui.drop(window.panels["A"], notes)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=ui.LOAD_TIMEOUT_MS)
    assert "text file, not audio" in window.last_message.text()
    assert window.session.engine.tracks["A"] is before
    assert window.panels["A"].title.text() == "low.flac"
    assert "text file" in window.status_text.text()


def test_every_bad_drop_keeps_the_track_and_explains(qtbot, window, clips, bad_inputs):
    ui.load_both(qtbot, window, clips)
    refuse_each(qtbot, window, bad_inputs, BAD_INPUT_MESSAGES)


def test_dropping_a_pipe_device_socket_or_link_loop_is_refused_at_once(
    qtbot, window, clips, not_files
):
    ui.load_both(qtbot, window, clips)
    refuse_each(qtbot, window, not_files, NOT_A_FILE_MESSAGES)


def test_unusual_but_usable_drops_load(qtbot, window, usable_oddities):
    for name, path in usable_oddities.items():
        ui.drop(window.panels["A"], path)
        qtbot.waitUntil(
            lambda p=path: (
                window.session.engine.tracks["A"] is not None
                and window.session.engine.tracks["A"].path == p
            ),
            timeout=ui.LOAD_TIMEOUT_MS,
        )
        track = window.session.engine.tracks["A"]
        # bounded by the file (padded when under the shortest excerpt)
        expected_s = min(engine.DEFAULT_EXCERPT_S, max(track.info.duration_s, 0.5))
        assert track.excerpt_s == pytest.approx(expected_s, abs=1e-3), name
        assert track.mel.shape[0] == 512 and abs(track.mel.shape[1] - 128 * expected_s) <= 1, name
        assert np.isfinite(track.mel).all(), name
    assert window.last_message is None


def test_dropping_an_hour_shows_progress_and_loads(qtbot, window, hour_long):
    seen = []  # (done, total, progress bar shown, cancel button shown) as each step arrives
    window.session.lanes["A"].progress.connect(
        lambda done, total: seen.append(
            (done, total, window.progress.isVisible(), window.cancel_button.isVisible())
        )
    )
    ui.drop(window.panels["A"], hour_long)
    qtbot.waitUntil(
        lambda: window.session.engine.tracks["A"] is not None, timeout=ui.LOAD_TIMEOUT_MS
    )

    track = window.session.engine.tracks["A"]
    assert track.info.duration_s == pytest.approx(3600)
    whole_s = track.overview.shape[1] * track.overview_seconds_per_column
    assert whole_s == pytest.approx(3600, rel=0.01)
    assert len(seen) > 3
    assert all(shown and cancel for done, total, shown, cancel in seen if done < total)
    assert seen[-1][0] == seen[-1][1]
    assert not window.progress.isVisible()


def test_escape_cancels_a_load_and_keeps_the_old_track(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    before = window.session.engine.tracks["B"]
    window.load("B", str(clips[0]))
    window.cancel_all()
    assert "Cancelled" in window.status_text.text()
    window.session.pool.wait_for_done(30)
    QApplication.processEvents()
    assert window.session.engine.tracks["B"] is before
    assert window.panels["B"].title.text() == "high.ogg"


def test_escape_during_an_hour_long_load_keeps_the_old_track(qtbot, window, clips, hour_long):
    from PySide6.QtTest import QTest

    ui.load_both(qtbot, window, clips)
    before = window.session.engine.tracks["A"]
    steps = []
    window.session.lanes["A"].progress.connect(lambda done, total: steps.append(done))
    ui.drop(window.panels["A"], hour_long)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=ui.LOAD_TIMEOUT_MS)
    QTest.keyClick(window, Qt.Key.Key_Escape)

    assert window.status_text.text() == "Cancelled."
    assert window.session.pool.wait_for_done(10)  # the decoder stopped at its next block
    QApplication.processEvents()
    assert window.session.engine.tracks["A"] is before
    assert window.panels["A"].title.text() == "low.flac"
    assert not window.progress.isVisible()


def test_a_long_excerpt_is_bounded_by_the_shorter_track_and_said(
    qtbot, window, clips, short_clip, tmp_path
):
    ui.load_both(qtbot, window, clips)
    ui.type_into(qtbot, window.excerpt_box, "60")
    qtbot.waitUntil(
        lambda: window.session.tracks["A"].excerpt_s == pytest.approx(7.0), timeout=60_000
    )
    ui.drop(window.panels["B"], short_clip)
    qtbot.waitUntil(
        lambda: window.session.tracks["B"].name == "short.wav", timeout=ui.LOAD_TIMEOUT_MS
    )
    ui.settle(qtbot, window)
    status = window.status_text.text()
    assert "“short.wav” is 3.0 s long: excerpt shortened to 3.0 s (the whole file)" in status
    assert "excerpt 0.0–3.0 s (fitted to the file)" in window.panels["B"].details.text()
    assert "shortened to 3.0 s" in window.panels["B"].details.toolTip()
    assert window.session.blended_mel.shape == (512, 384)  # 3 s: the shorter excerpt
    title = window.blend_view.plotItem.titleLabel.text  # the blend's real length, said
    assert "· 3.0 s (the shorter track)" in title
    target = tmp_path / "bounded.wav"
    with qtbot.waitSignal(window.session.exported, timeout=ui.LOAD_TIMEOUT_MS):
        window.export_to(str(target))
    assert sf.info(target).duration == pytest.approx(3.0, abs=0.01)


def test_a_tracks_header_says_when_the_blend_uses_only_the_start_of_its_excerpt(
    qtbot, window, clips, short_clip
):
    ui.load_both(qtbot, window, clips)
    details = {slot: window.panels[slot].details for slot in ("A", "B")}
    assert "blended" not in details["A"].text() + details["B"].text()
    ui.drop(window.panels["B"], short_clip)  # 3 s: the blend is 3 s, A's excerpt 5 s
    qtbot.waitUntil(
        lambda: window.session.tracks["B"].name == "short.wav", timeout=ui.LOAD_TIMEOUT_MS
    )
    assert details["A"].text().endswith("excerpt 0.0–5.0 s · blended 0.0–3.0 s (B is shorter)")
    assert "blended" not in details["B"].text()
    window.session.swap()
    assert details["B"].text().endswith("· blended 0.0–3.0 s (A is shorter)")
    assert "blended" not in details["A"].text()


def test_a_typed_excerpt_out_of_range_is_said_and_not_used(qtbot, window):
    ui.type_into(qtbot, window.excerpt_box, "120")
    assert window.excerpt_box.value() == 120.0  # no longer cut to 12
    ui.type_into(qtbot, window.excerpt_box, "700")
    assert window.status_text.text() == "⚠ Excerpt: 700 s is out of range; type 0.5 … 600 s"
    assert window.excerpt_box.value() == 120.0 and window.session.excerpt_s == 120.0
    ui.type_into(qtbot, window.excerpt_box, "0.2")  # below the least: not refused while typing
    assert window.status_text.text() == "⚠ Excerpt: 0.2 s is out of range; type 0.5 … 600 s"
    assert window.excerpt_box.value() == 120.0
    window.notice_timer.setInterval(50)  # a passing remark leaves the status bar by itself
    window.notice_timer.start()
    qtbot.waitUntil(lambda: not window.status_text.text().startswith("⚠"), timeout=2000)


def test_a_click_places_the_excerpt_a_typed_start_moves_it_and_zoom_stays(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    panel = window.panels["A"]
    qtbot.mouseClick(panel.view.viewport(), ui.LEFT, pos=ui.point_at(panel.view, 4.0))
    qtbot.mouseClick(panel.view.viewport(), ui.LEFT, pos=ui.point_at(panel.view, 6.0))
    qtbot.waitUntil(
        lambda: window.session.tracks["A"].start_s != 0.0 and ui.idle(window), timeout=60_000
    )
    assert window.session.tracks["A"].start_s == pytest.approx(2.0, abs=0.1)  # 7 − 5 at most
    assert panel.start_box.value() == pytest.approx(2.0, abs=0.1)
    panel.view.getPlotItem().vb.setXRange(1.0, 4.0, padding=0)  # zoomed in
    ui.type_into(qtbot, panel.start_box, "1.5")
    qtbot.waitUntil(lambda: window.session.tracks["A"].start_s == 1.5, timeout=60_000)
    ui.settle(qtbot, window)
    assert "excerpt 1.5–6.5 s" in panel.details.text()
    assert panel.view.viewRange()[0] == pytest.approx([1.0, 4.0], abs=0.01)
    assert window.session.undo_stack.undoText() == "move the excerpt of A"
    panel.region.setRegion((0.5, 5.5))  # as a drag does, before it is let go
    assert "excerpt 0.5–5.5 s" in panel.details.text()


def test_the_file_filter_and_empty_panels_name_m4a_as_unsupported(window):
    from musinterp_app.gui.main_window import AUDIO_FILTER

    assert AUDIO_FILTER.startswith("Audio files, not M4A/AAC (")
    assert "not M4A/AAC" in window.panels["A"].details.text()


def test_the_empty_window_invites_and_shows_no_axes(window):
    view = window.panels["A"].view
    assert view.empty_text.isVisible()
    assert "Drop an audio file here" in view.empty_text.textItem.toPlainText()
    assert not view.getPlotItem().getAxis("left").isVisible()
    assert window.status_text.text().startswith(("Drop two audio files", "Playback is off"))


def test_undo_of_a_track_change_reloads_the_previous_file(qtbot, window, clips, short_clip):
    ui.load_both(qtbot, window, clips)
    ui.drop(window.panels["A"], short_clip)
    qtbot.waitUntil(lambda: window.session.tracks["A"].name == "short.wav", timeout=60_000)
    ui.settle(qtbot, window)
    assert window.session.undo_stack.undoText() == "open short.wav in A"
    qtbot.keyClick(window, Qt.Key.Key_Z, ui.CTRL)
    qtbot.waitUntil(lambda: window.session.tracks["A"].name == "low.flac", timeout=60_000)
    ui.settle(qtbot, window)
    assert window.panels["A"].title.text() == "low.flac"
    assert window.session.undo_stack.redoText() == "open short.wav in A"
