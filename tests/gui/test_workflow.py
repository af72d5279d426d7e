"""A musician's workflow in the real window: exports a DAW takes as they are, sessions that
come back whole."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QApplication, QLineEdit
from support.window import LOAD_TIMEOUT_MS, idle, load_both, make_window

from musinterp_app import sidecar
from musinterp_app.engine import BlendSettings
from musinterp_app.gui import session_file, window_memory
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


def make_shown_window(qtbot, model, settings_file):
    win = make_window(model, settings_file)
    win.autoplay_box.setChecked(False)
    qtbot.addWidget(win)
    win.show()
    return win


def test_everything_that_shapes_the_sound_comes_back_on_the_next_start(
    qtbot, shipped_model, clips, tmp_path
):
    settings_file = tmp_path / "settings.ini"
    first = make_shown_window(qtbot, shipped_model, settings_file)
    load_both(qtbot, first, clips)
    first.alpha_box.setValue(0.3)
    first.mode_box.setCurrentIndex(first.mode_box.findData("lerp"))
    for slot, start_s in (("C", 1.0), ("D", 0.0)):
        with qtbot.waitSignal(first.pad.track_loaded, timeout=LOAD_TIMEOUT_MS):
            first.pad.load(slot, clips[1 if slot == "C" else 0], start_s=start_s)
    first.pad.surface.set_position(0.2, 0.7)
    first.pad.surface.path = ((0.0, 0.0), (1.0, 1.0))
    first.docks["sync"].show()
    sync = first.sync_controls
    qtbot.waitUntil(lambda: sync.tempo_fields["B"].isEnabled(), timeout=LOAD_TIMEOUT_MS)
    with qtbot.waitSignal(sync.synced, timeout=LOAD_TIMEOUT_MS):
        sync.tempo_box.setChecked(True)
    with qtbot.waitSignal(sync.synced, timeout=LOAD_TIMEOUT_MS):
        sync.give_tempo("B", 70.0)
    next(a for a in first.choices["rate"].actions() if a.data() == 48000).trigger()
    qtbot.waitUntil(lambda: idle(first), timeout=LOAD_TIMEOUT_MS)
    first.close()

    second = make_shown_window(qtbot, shipped_model, settings_file)

    def back() -> bool:  # a fit replaces the engine: read its tracks afresh
        tracks = second.session.engine.tracks
        fitted = tracks["B"] is not None and tracks["B"].alignment is not None
        return fitted and all(tracks[s] is not None for s in "ABCD") and idle(second)

    qtbot.waitUntil(back, timeout=LOAD_TIMEOUT_MS)
    tracks = second.session.engine.tracks
    settings = second.session.settings
    assert (settings.alpha, settings.mode) == (0.3, "lerp")
    assert tracks["C"].path == clips[1] and tracks["C"].start_s == 1.0
    assert second.pad.start_fields["C"].value() == 1.0
    assert second.pad.surface.position == (0.2, 0.7)
    assert second.pad.surface.path == ((0.0, 0.0), (1.0, 1.0))
    assert not second.docks["sync"].isHidden() and second.docks["pad"].isHidden()
    assert second.sync_controls.tempo_box.isChecked()
    assert tracks["B"].alignment.tempo.bpm == pytest.approx(70.0)  # given by hand, kept
    assert second.session.export_rate() == 48000
    second.close()


def test_a_saved_session_opens_and_a_changed_source_is_refused_in_a_sentence(
    qtbot, window, clips, tmp_path
):
    load_both(qtbot, window, clips)
    window.alpha_box.setValue(0.8)
    saved = tmp_path / "song.musinterp-session.json"
    session_file.write(saved, window_memory.capture(window))
    window.alpha_box.setValue(0.1)
    window_memory.open_session(window, saved)
    qtbot.waitUntil(lambda: window.session.settings.alpha == 0.8, timeout=LOAD_TIMEOUT_MS)

    window.alpha_box.setValue(0.1)
    sf.write(clips[1], np.zeros(44100, np.float32), 44100)  # B is another sound now
    window_memory.open_session(window, saved)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    text = window.last_message.text()
    assert "Track B" in text and "has changed since the session's saving" in text
    assert window.session.settings.alpha == 0.1  # the window kept what it had


@pytest.mark.parametrize(
    "content", ["{", '{"format": "musinterp session", "format_version": 1}', "[]", "null"]
)
def test_a_damaged_last_session_starts_empty_with_a_word(qtbot, shipped_model, tmp_path, content):
    (tmp_path / "last.musinterp-session.json").write_text(content)
    win = make_shown_window(qtbot, shipped_model, tmp_path / "settings.ini")
    assert win.session.settings == BlendSettings()
    assert "The last session was not restored" in win.status_text.text()
    assert (tmp_path / "last.musinterp-session.json.unreadable").read_text() == content
    win.close()


def test_keys_play_a_b_and_the_blend_with_a_playhead_in_every_view_of_it(qtbot, window, clips):
    if window.session.audio_problem:
        pytest.skip(f"no audio output here: {window.session.audio_problem}")
    load_both(qtbot, window, clips)
    excerpt, blend = window.views["A"], window.blend_view
    qtbot.keyClick(window, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: window.session.playing == "A", timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(excerpt.cursor.isVisible, timeout=LOAD_TIMEOUT_MS)
    assert window.panels["A"].view.cursor.isVisible()  # the whole file's view too
    assert 0 <= excerpt.cursor.value() <= window.session.tracks["A"].duration_s
    assert not blend.cursor.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: window.session.playing == "blend", timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(blend.cursor.isVisible, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(window.views["B"].cursor.isVisible, timeout=LOAD_TIMEOUT_MS)
    assert not window.panels["A"].view.cursor.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_B)
    qtbot.waitUntil(lambda: window.session.playing == "B", timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not blend.cursor.isVisible(), timeout=LOAD_TIMEOUT_MS)
    qtbot.keyClick(window, Qt.Key.Key_B)  # again: stop
    qtbot.waitUntil(lambda: window.session.playing == "", timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.views["B"].cursor.isVisible(), timeout=LOAD_TIMEOUT_MS)


def test_the_blend_view_leaves_the_pad_when_the_pad_closes(qtbot, window, clips):
    load_both(qtbot, window, clips)
    window.docks["pad"].show()
    for slot in ("C", "D"):
        with qtbot.waitSignal(window.pad.track_loaded, timeout=LOAD_TIMEOUT_MS):
            window.pad.load(slot, clips[0], start_s=0.5)
    with qtbot.waitSignal(window.pad.blended, timeout=LOAD_TIMEOUT_MS):
        window.pad.move_puck(x=0.3, y=0.6)
    assert window.blend_view.plotItem.titleLabel.text == "Four-corner pad blend"
    assert window.session.engine.tracks["C"].start_s == 0.5  # C's excerpt as asked
    window.docks["pad"].hide()
    assert window.blend_view.plotItem.titleLabel.text.startswith("Blend α = 0.50")


def test_the_output_device_and_buffer_are_chosen_remembered_and_said(
    qtbot, shipped_model, tmp_path
):
    first = make_shown_window(qtbot, shipped_model, tmp_path / "settings.ini")
    menus = first.audio_menus
    menus["device"].aboutToShow.emit()
    labels = [a.text() for a in menus["device"].actions()]
    assert labels[0] == "The system's default"
    if first.session.audio_problem:
        first.close()
        pytest.skip(f"no audio output here: {first.session.audio_problem}")
    assert len(labels) > 1  # the devices PortAudio offers (JACK's here)
    menus["device"].actions()[1].trigger()
    menus["buffer"].aboutToShow.emit()
    bigger = next(a for a in menus["buffer"].actions() if a.text().startswith("2048 samples"))
    bigger.trigger()
    assert first.session.output == (labels[1], 2048)
    assert first.session.player.block_size == 2048
    assert first.session.player.device is not None
    first.session.player.start_stream()
    words = first.session.output_words()
    assert words.startswith(f"{labels[1]}, 2048-sample buffer") and "ms to the speakers" in words
    first.close()
    second = make_shown_window(qtbot, shipped_model, tmp_path / "settings.ini")
    assert second.session.output == (labels[1], 2048)  # remembered
    second.close()


def test_dragging_the_blend_out_hands_over_a_file_rendered_ahead(
    qtbot, window, clips, monkeypatch, tmp_path
):
    load_both(qtbot, window, clips)
    handed = []
    monkeypatch.setattr(QDrag, "exec", lambda drag, *_a: handed.append(drag.mimeData().urls()) or 1)
    drag_out, view = window.drag_out, window.blend_view
    drag_out.kept_folder = tmp_path / "dragged"  # not the user's own data folder
    view.drag_started.emit("blend")  # a drag before anything was rendered: said, not blocked
    assert "Preparing the file to drag" in window.status_text.text() and not handed
    qtbot.waitUntil(lambda: drag_out.file_for("blend") is not None, timeout=LOAD_TIMEOUT_MS)
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
    qtbot.waitUntil(lambda: drag_out.file_for("blend") is not None, timeout=LOAD_TIMEOUT_MS)
    assert not path.exists()  # the old one was removed
    window.views["A"].drag_hover.emit("A")
    qtbot.waitUntil(lambda: drag_out.file_for("A") is not None, timeout=LOAD_TIMEOUT_MS)
    excerpt, rate = sf.read(drag_out.file_for("A"))
    original, _ = sf.read(clips[0])
    assert rate == 44100 and len(excerpt) == 5 * 44100
    assert np.abs(excerpt[4410:-4410] - original[4410 : 5 * 44100 - 4410]).max() < 1e-3  # A itself
    folder = drag_out.folder
    window.close()
    assert not folder.exists() and kept.is_file()  # the renders go, what was dragged stays
