"""File → Generate…: the dialog writes a generated clip and hands it to a slot."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from musinterp_app.gui.generate_dialog import GenerateDialog
from musinterp_app.model import prior

pytestmark = pytest.mark.gui


def test_the_dialog_generates_the_length_asked_into_the_slot_chosen(qtbot, shipped_model, tmp_path):
    dialog = GenerateDialog(shipped_model, tmp_path / "generated")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.kind.currentData() == prior.DEFAULT_KIND
    dialog.seconds.setValue(2.0)
    dialog.seed.setValue(3)
    dialog.slots.buttons()[1].setChecked(True)  # B
    with qtbot.waitSignal(dialog.generated, timeout=120_000) as signal:
        qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    slot, path = signal.args
    assert slot == "B" and "seed3" in path
    audio, rate = sf.read(path, dtype="float32")
    assert len(audio) == 2 * rate and np.isfinite(audio).all() and np.abs(audio).max() > 0.5
    assert not list((tmp_path / "generated").glob("*.part*"))


def test_a_failure_is_shown_and_the_dialog_stays(qtbot, shipped_model, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    dialog = GenerateDialog(shipped_model, blocker)  # cannot hold the generated file
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.seconds.setValue(1.0)
    with qtbot.waitSignal(dialog.lane.failed, timeout=120_000):
        dialog.generate()
    assert "Could not generate" in dialog.status.text()
    assert dialog.isVisible() and dialog.generate_button.isEnabled()
