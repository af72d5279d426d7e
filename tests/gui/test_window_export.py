"""Exports from the real window: the dialog, the render menu, drag-out, and folders that
vanish or refuse."""

import json

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QTimer
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QApplication, QLineEdit
from support import window as ui

from musinterp_app import sidecar
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


def _choose(window, name: str, value) -> None:
    action = next(a for a in window.choices[name].actions() if a.data() == value)
    action.trigger()


def test_export_writes_a_normalised_wav(qtbot, window, clips, tmp_path):
    ui.load_both(qtbot, window, clips)
    next(a for a in window.choices["level"].actions() if a.data() == "peak").trigger()
    target = tmp_path / "out" / "blend.wav"
    target.parent.mkdir()
    window.export_to(str(target))
    qtbot.waitUntil(target.exists, timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: ui.idle(window), timeout=ui.LOAD_TIMEOUT_MS)
    audio, rate = sf.read(target, dtype="float32")
    assert rate == 44100 and len(audio) == round(640 * 256 * 44100 / 32768)  # the sources'
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-1.0, abs=0.05)
    written = sorted(p.name for p in target.parent.iterdir())
    assert written == ["blend.wav", "blend.wav.musinterp.json"]
    record = json.loads((target.parent / "blend.wav.musinterp.json").read_text())
    assert record["render"]["level"] == "peak" and len(record["blend"]["steps"]) > 2  # even steps


def test_export_into_a_vanished_folder_says_so_and_writes_nothing(qtbot, window, clips, tmp_path):
    ui.load_both(qtbot, window, clips)
    window.export_to(str(tmp_path / "gone" / "blend.wav"))
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=ui.LOAD_TIMEOUT_MS)
    assert "does not exist" in window.last_message.text()
    assert not (tmp_path / "gone").exists()


def test_a_folder_that_vanishes_during_export_is_reported(qtbot, window, clips, tmp_path):
    ui.load_both(qtbot, window, clips)
    folder = tmp_path / "exports"
    folder.mkdir()
    window.session.lanes["export"].progress.connect(
        lambda done, total: folder.rmdir() if folder.exists() else None  # at the first step
    )
    window.export_to(str(folder / "morph.wav"), morph=True)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=ui.LOAD_TIMEOUT_MS)
    assert f"Cannot save “morph.wav”: the folder {folder} does not exist" in (
        window.last_message.text()
    )
    assert not folder.exists()


def test_the_export_dialog_starts_beside_the_sources_at_their_rate(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    seen = {}
    answer_export_dialog(qtbot, "first", "The sources", seen)
    window.export_dialog()
    target = clips[0].parent / "first.wav"
    qtbot.waitUntil(target.exists, timeout=ui.LOAD_TIMEOUT_MS)
    assert seen["folder"] == str(clips[0].parent)  # not the home folder
    assert seen["rate"] == "The sources' rate (44100 Hz)"
    assert sf.info(target).samplerate == 44100
    assert (clips[0].parent / "first.wav.musinterp.json").is_file()

    answer_export_dialog(qtbot, "second.flac", "48000", seen)  # a typed extension wins
    window.export_dialog()
    second = clips[0].parent / "second.flac"
    qtbot.waitUntil(second.exists, timeout=ui.LOAD_TIMEOUT_MS)
    assert sf.info(second).samplerate == 48000
    assert window.choices["rate"].checkedAction().data() == 48000  # the menu follows
    assert window.preferences.value("export_type") == "FLAC, 16-bit (*.flac)"  # what was written
    assert (clips[0].parent / "second.flac.musinterp.json").is_file()
    assert (clips[0].parent / "first.wav.musinterp.json").is_file()  # each keeps its own


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
    assert window.preferences.value("render/rate") in (48000, "48000")  # remembered


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


def test_dragging_the_blend_out_hands_over_a_file_rendered_ahead(
    qtbot, window, clips, monkeypatch, tmp_path
):
    ui.load_both(qtbot, window, clips)
    handed = []
    monkeypatch.setattr(QDrag, "exec", lambda drag, *_a: handed.append(drag.mimeData().urls()) or 1)
    drag_out, view = window.drag_out, window.blend_view
    drag_out.kept_folder = tmp_path / "dragged"  # not the user's own data folder
    view.drag_started.emit("blend")  # a drag before anything was rendered: said, not blocked
    assert "Preparing the file to drag" in window.status_text.text() and not handed
    qtbot.waitUntil(lambda: drag_out.file_for("blend") is not None, timeout=ui.LOAD_TIMEOUT_MS)
    path = drag_out.file_for("blend")
    assert path.name == f"{window.export_name()}.wav"
    assert sf.info(path).samplerate == 44100 and sf.info(path).subtype == "PCM_24"
    assert sidecar.path_for(path).is_file()
    view.drag_started.emit("blend")
    kept = tmp_path / "dragged" / path.name  # a copy that outlives the render
    assert [u.toLocalFile() for u in handed[0]] == [str(kept)]
    assert kept.read_bytes() == path.read_bytes() and sidecar.path_for(kept).is_file()

    window.alpha_box.setValue(0.2)  # the sound changed: the old file no longer matches
    assert drag_out.file_for("blend") is None
    view.drag_hover.emit("blend")
    qtbot.waitUntil(lambda: drag_out.file_for("blend") is not None, timeout=ui.LOAD_TIMEOUT_MS)
    assert not path.exists()  # the old one was removed
    window.views["A"].drag_hover.emit("A")
    qtbot.waitUntil(lambda: drag_out.file_for("A") is not None, timeout=ui.LOAD_TIMEOUT_MS)
    excerpt, rate = sf.read(drag_out.file_for("A"))
    original, _ = sf.read(clips[0])
    assert rate == 44100 and len(excerpt) == 5 * 44100
    assert np.abs(excerpt[4410:-4410] - original[4410 : 5 * 44100 - 4410]).max() < 1e-3  # A itself
    folder = drag_out.folder
    window.close()
    assert not folder.exists() and kept.is_file()  # the renders go, what was dragged stays
