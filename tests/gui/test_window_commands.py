"""The window's commands and how it copes: start-up, models, undo/redo and swap, help,
Esc for every job, unexpected errors, Generate and the listening test."""

import time

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox
from support import window as ui
from support.corpus import BROKEN_MODEL_MESSAGES

from musinterp_app import __version__
from musinterp_app.audio import synth
from musinterp_app.audio.cancel import Cancelled
from musinterp_app.base.resources import default_model_dir
from musinterp_app.gui.generate_dialog import GenerateDialog
from musinterp_app.gui.listening_test import ListeningTestDialog

pytestmark = pytest.mark.gui


def test_the_app_starts_and_shows_its_window_in_a_subprocess(tmp_path):
    import os
    import subprocess
    import sys

    clip = tmp_path / "a.wav"
    sf.write(clip, synth.music_like(2.0, 22050, rng=np.random.default_rng(1)), 22050)
    result = subprocess.run(
        [sys.executable, "-m", "musinterp_app", str(clip), "--exit-when-shown"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("shown")


def test_a_broken_model_folder_keeps_the_current_model(qtbot, window, clips, broken_models):
    ui.load_both(qtbot, window, clips)
    model, tracks = window.session.engine.model, dict(window.session.engine.tracks)
    for name, folder in broken_models.items():
        window.load_model(str(folder))
        qtbot.waitUntil(lambda: window.last_message is not None, timeout=ui.LOAD_TIMEOUT_MS)
        message = window.last_message.text()
        assert BROKEN_MODEL_MESSAGES[name] in message, (name, message)
        assert "The previous model is still in use." in message
        assert window.session.engine.model is model and window.session.engine.tracks == tracks, name
        window.last_message.close()
        window.last_message = None
    assert window.session.engine.ready


def test_loading_a_model_folder_switches_and_keeps_the_excerpts(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    before = window.session.engine
    window.load_model(str(default_model_dir()))
    qtbot.waitUntil(
        lambda: window.session.engine is not before and ui.idle(window), timeout=ui.LOAD_TIMEOUT_MS
    )
    for slot in ("A", "B"):
        track = window.session.engine.tracks[slot]
        assert track is not before.tracks[slot] and track.path == before.tracks[slot].path
    assert window.last_message is None
    assert "loaded" in window.status_text.text()
    assert window.session.blended_mel is not None and window.actions["export"].isEnabled()


def test_a_bad_model_says_it_plainly_with_details_and_the_warning_goes_when_read(
    qtbot, window, broken_models
):
    window.load_model(str(broken_models["cut encoder"]))
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=ui.LOAD_TIMEOUT_MS)
    box = window.last_message
    assert BROKEN_MODEL_MESSAGES["cut encoder"] in box.text()
    assert "The previous model is still in use." in box.text()
    assert box.detailedText() and box.detailedText() not in box.text()  # the raw words
    assert window.status_text.text().startswith("⚠")
    box.button(QMessageBox.StandardButton.Ok).click()
    assert not window.status_text.text().startswith("⚠")


def test_undo_redo_and_swap_from_the_keyboard(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    stack = window.session.undo_stack
    window.slider.setFocus()
    qtbot.keyClick(window.slider, Qt.Key.Key_Right)
    ui.settle(qtbot, window)
    assert window.actions["undo"].text() == "&Undo α 0.50 → 0.55"
    qtbot.keyClick(window, Qt.Key.Key_Z, ui.CTRL)
    ui.settle(qtbot, window)
    assert window.slider.value() == 500 and window.session.decoded_settings.alpha == 0.5
    qtbot.keyClick(window, Qt.Key.Key_Z, ui.CTRL | ui.SHIFT)
    ui.settle(qtbot, window)
    assert window.alpha_box.value() == 0.55 and window.session.settings.alpha == 0.55

    a, b = window.session.tracks["A"], window.session.tracks["B"]
    qtbot.keyClick(window, Qt.Key.Key_X, ui.CTRL | ui.SHIFT)
    ui.settle(qtbot, window)
    assert window.session.tracks["A"] is b and window.session.tracks["B"] is a
    assert window.panels["A"].title.text() == "high.ogg"
    assert stack.undoText() == "swap A ↔ B"
    qtbot.keyClick(window, Qt.Key.Key_Z, ui.CTRL)
    ui.settle(qtbot, window)
    assert window.session.tracks["A"] is a and window.panels["A"].title.text() == "low.flac"


def test_help_lists_the_shortcuts_and_about_gives_the_version(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.info_box.isVisible() and window.info_box.windowTitle() == "Keyboard shortcuts"
    for keys in ("Space", "Ctrl+Z / Ctrl+Shift+Z", "Ctrl+Shift+X", "Esc"):
        assert keys in window.info_box.text()
    window.actions["about"].trigger()
    assert f"musinterp {__version__}" in window.info_box.text()
    assert "<b>default</b>" in window.info_box.text()  # the model by its folder


def test_escape_cancels_the_pads_and_the_tempo_panels_jobs_too(qtbot, window):
    """The panels' lanes are the session's: Esc cancels a pad job and a tempo/key job."""
    lanes = window.session.lanes
    assert {"pad load C", "pad decode", "sync estimate", "sync sync"} <= set(lanes)
    cancelled = []

    def wait_for_cancel(cancel, _progress):
        while True:
            try:
                cancel.raise_if_cancelled()
            except Cancelled:
                cancelled.append(True)
                raise
            time.sleep(0.01)

    for name in ("pad render", "sync estimate"):
        lanes[name].submit(wait_for_cancel)
    qtbot.waitUntil(lambda: window.session.pool.active_jobs() == 2, timeout=5000)
    window.cancel_all()
    assert "Cancelled" in window.status_text.text()
    qtbot.waitUntil(lambda: len(cancelled) == 2, timeout=5000)
    assert not lanes["pad render"].busy and not lanes["sync estimate"].busy
    assert window.sync_controls.status.text().startswith("Cancelled")  # not "Matching…"


@pytest.mark.qt_no_exception_capture
def test_unexpected_errors_are_logged_and_shown_once(qtbot, window, tmp_path):
    import sys

    from musinterp_app.gui.crash_log import CrashLog

    crash_log = CrashLog(window, tmp_path / "logs")
    previous, sys.excepthook = sys.excepthook, crash_log.handle
    try:

        def broken_slot():
            raise RuntimeError("a bug in a slot")

        QTimer.singleShot(0, broken_slot)
        QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(
            lambda: (
                crash_log.path.exists() and crash_log.path.read_text().count("a bug in a slot") >= 2
            ),
            timeout=5000,
        )
    finally:
        sys.excepthook = previous
    assert "Traceback" in crash_log.path.read_text()
    assert crash_log.message is not None and "a bug in a slot" in crash_log.message.text()
    assert str(crash_log.path) in crash_log.message.text()
    assert window.isVisible()


def test_file_generate_puts_the_result_into_the_slot_chosen(qtbot, window, tmp_path):
    window.preferences.setValue("generate_folder", str(tmp_path / "generated"))
    window.actions["generate"].trigger()
    dialog = window.findChild(GenerateDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.seconds.setValue(2.0)
    dialog.seed.setValue(5)
    dialog.slots.buttons()[1].setChecked(True)  # into B
    qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.tracks["B"] is not None, timeout=ui.LOAD_TIMEOUT_MS)
    track = window.session.tracks["B"]
    assert track.path.parent == tmp_path / "generated" and "seed5" in track.name
    assert track.info.duration_s == pytest.approx(2.0, abs=0.01)
    assert window.session.tracks["A"] is None and not dialog.isVisible()


def test_tools_listening_test_starts_with_the_loaded_tracks(qtbot, window, clips, tmp_path):
    window.preferences.setValue("listening_test_folder", str(tmp_path / "survey"))
    ui.load_both(qtbot, window, clips)
    window.actions["listening_test"].trigger()
    dialog = window.findChild(ListeningTestDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.tracks == [str(path) for path in clips]
    assert dialog.folder == tmp_path / "survey"


def test_generate_starts_on_an_empty_slot_and_says_what_a_full_one_gives_up(qtbot, window, clips):
    ui.drop(window.panels["A"], clips[0])
    qtbot.waitUntil(lambda: window.session.tracks["A"] is not None, timeout=ui.LOAD_TIMEOUT_MS)
    window.actions["generate"].trigger()
    dialog = window.findChild(GenerateDialog)
    a, b = dialog.slots.buttons()
    assert dialog.slot == "B" and b.isChecked()  # the empty one, not A's track
    assert a.text() == f"A (instead of {clips[0].name})"
    seeds = {dialog.seed.value()}
    dialog.close()
    window.actions["generate"].trigger()
    seeds.add(window.findChildren(GenerateDialog)[-1].seed.value())
    assert len(seeds) == 2  # a new seed each time (both seeds are in the file names)
