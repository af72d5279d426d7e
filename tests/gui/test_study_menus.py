"""The study's two entries in the real window: File → Generate… and Tools → Listening test…"""

import pytest
from PySide6.QtCore import Qt
from support.window import LOAD_TIMEOUT_MS, drop, load_both

from musinterp_app.gui.generate_dialog import GenerateDialog
from musinterp_app.gui.listening_test import ListeningTestDialog

pytestmark = pytest.mark.gui


def test_file_generate_puts_the_result_into_the_slot_chosen(qtbot, window, tmp_path):
    window.settings.setValue("generate_folder", str(tmp_path / "generated"))
    window.actions["generate"].trigger()
    dialog = window.findChild(GenerateDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.seconds.setValue(2.0)
    dialog.seed.setValue(5)
    dialog.slots.buttons()[1].setChecked(True)  # into B
    qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.tracks["B"] is not None, timeout=LOAD_TIMEOUT_MS)
    track = window.session.tracks["B"]
    assert track.path.parent == tmp_path / "generated" and "seed5" in track.name
    assert track.info.duration_s == pytest.approx(2.0, abs=0.01)
    assert window.session.tracks["A"] is None and not dialog.isVisible()


def test_tools_listening_test_starts_with_the_loaded_tracks(qtbot, window, clips, tmp_path):
    window.settings.setValue("listening_test_folder", str(tmp_path / "survey"))
    load_both(qtbot, window, clips)
    window.actions["listening_test"].trigger()
    dialog = window.findChild(ListeningTestDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.tracks == [str(path) for path in clips]
    assert dialog.folder == tmp_path / "survey"


def test_generate_starts_on_an_empty_slot_and_says_what_a_full_one_gives_up(qtbot, window, clips):
    drop(window.panels["A"], clips[0])
    qtbot.waitUntil(lambda: window.session.tracks["A"] is not None, timeout=LOAD_TIMEOUT_MS)
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
