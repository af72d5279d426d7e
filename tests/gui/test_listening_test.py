"""Tools → Listening test…: a whole session in the real dialog, and a killed one."""

import csv
import signal
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from support.commands import child_env

from musinterp_app import listening_test as listening
from musinterp_app.gui.listening_test import ListeningTestDialog

pytestmark = pytest.mark.gui
BUILD_TIMEOUT_MS = 120_000


def test_a_whole_session_round_trips_to_the_csv_and_the_summary(
    qtbot, shipped_model, clips, tmp_path
):
    folder = tmp_path / "survey"
    dialog = ListeningTestDialog(
        shipped_model, folder, tracks=[str(p) for p in clips], listener="Ada", seed=1, seconds=2.0
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 1, timeout=BUILD_TIMEOUT_MS)
    given = {}
    for trial in range(len(listening.CONDITIONS)):
        assert dialog.trial_title.text().startswith(f"Trial {trial + 1} of 5")
        assert not dialog.next_button.isEnabled()  # not before all six are answered
        condition = dialog.session.trial.condition
        for k, (key, _) in enumerate(listening.QUESTIONS):
            score = 1 + (trial + k) % 5
            qtbot.mouseClick(dialog.groups[key].button(score), Qt.MouseButton.LeftButton)
            given[condition, key] = score
        assert dialog.next_button.isEnabled()
        qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.pages.currentIndex() == 2
    rows = listening.read_answers(folder)
    assert len(rows) == len(listening.CONDITIONS) * len(listening.QUESTIONS)
    assert {(r["condition"], r["question"]): r["score"] for r in rows} == given
    table = listening.summarise(rows)
    assert {(r["condition"], r["question"]): r["mean"] for r in table} == given
    assert all(r["n"] == 1 for r in table)
    assert "| original | fluent |" in (folder / "summary.md").read_text()
    assert "original" in dialog.summary_view.toPlainText()


def test_the_dialog_asks_for_a_name_and_two_tracks(qtbot, shipped_model, clips, tmp_path):
    dialog = ListeningTestDialog(shipped_model, tmp_path, tracks=[str(clips[0])])
    qtbot.addWidget(dialog)
    dialog.start()
    assert "name" in dialog.status.text()
    dialog.listener_edit.setText("Bo")
    dialog.start()
    assert "two tracks" in dialog.status.text()
    assert dialog.pages.currentIndex() == 0 and not (tmp_path / listening.ANSWERS_FILE).exists()


def test_killing_the_window_mid_session_keeps_every_answer_given(clips, tmp_path):
    folder = tmp_path / "survey"
    stop_after = 9  # a trial and a half
    child = subprocess.Popen(
        [sys.executable, "-m", "support.listening_child", folder, *clips, str(stop_after)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # no sound: a killed JACK client upsets the server for every other client of it
        env=child_env(JACK_DEFAULT_SERVER="none"),
    )
    try:
        reported = [int(child.stdout.readline()) for _ in range(stop_after)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert reported == list(range(1, stop_after + 1))
    assert child.returncode == -signal.SIGKILL
    with open(folder / listening.ANSWERS_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == stop_after
    assert {row["listener"] for row in rows} == {"Kim"}
    assert len(listening.summarise(listening.read_answers(folder))) == stop_after
