"""A musician's workflow in the real window: exports a DAW takes as they are."""

import pytest
import soundfile as sf
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLineEdit
from support.window import LOAD_TIMEOUT_MS, load_both

from musinterp_app.gui.export_dialog import ExportDialog

pytestmark = pytest.mark.gui


def answer_export_dialog(qtbot, name: str, rate_label_part: str, seen: dict) -> None:
    """When the export dialog opens: note its folder and rate choices, pick the rate whose
    label holds ``rate_label_part``, type ``name`` and accept."""

    def answer() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ExportDialog))
        seen["folder"] = dialog.directory().absolutePath()
        seen["rates"] = [dialog.rate.itemText(i) for i in range(dialog.rate.count())]
        seen["rate"] = dialog.rate.currentText()
        index = next(i for i, text in enumerate(seen["rates"]) if rate_label_part in text)
        dialog.rate.setCurrentIndex(index)
        dialog.findChild(QLineEdit, "fileNameEdit").setText(name)  # as typed
        dialog.accept()

    QTimer.singleShot(200, answer)


def test_the_export_dialog_starts_beside_the_sources_at_their_rate(qtbot, window, clips):
    load_both(qtbot, window, clips)
    seen = {}
    answer_export_dialog(qtbot, "first", "The sources", seen)
    window.export_dialog()
    target = clips[0].parent / "first.wav"
    qtbot.waitUntil(target.exists, timeout=LOAD_TIMEOUT_MS)
    assert seen["folder"] == str(clips[0].parent)  # not the home folder
    assert seen["rate"] == "The sources' rate (44100 Hz)"
    assert sf.info(target).samplerate == 44100
    assert (clips[0].parent / "first.wav.musinterp.json").is_file()

    answer_export_dialog(qtbot, "second.flac", "48000", seen)  # a typed extension wins
    window.export_dialog()
    second = clips[0].parent / "second.flac"
    qtbot.waitUntil(second.exists, timeout=LOAD_TIMEOUT_MS)
    assert sf.info(second).samplerate == 48000
    assert window.choices["rate"].checkedAction().data() == 48000  # the menu follows
    assert window.settings.value("export_type") == "FLAC, 16-bit (*.flac)"  # what was written
    assert (clips[0].parent / "second.flac.musinterp.json").is_file()
    assert (clips[0].parent / "first.wav.musinterp.json").is_file()  # each keeps its own
