"""What the window keeps: settings, the remembered model, the last session at the next
start, and session files saved and opened."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from support import window as ui

from musinterp_app import engine
from musinterp_app.base.resources import default_model_dir
from musinterp_app.engine import BlendSettings
from musinterp_app.gui import session_file, window_memory
from musinterp_app.gui.app import remembered_model

pytestmark = pytest.mark.gui


def test_settings_are_remembered(qtbot, shipped_model, tmp_path):
    path = tmp_path / "remember.ini"
    first = ui.make_window(shipped_model, path)
    qtbot.addWidget(first)
    assert first.mode_box.currentData() == "slerp"  # the default
    first.mode_box.setCurrentIndex(first.mode_box.findData("lerp"))
    first.detail_box.setChecked(False)
    first.excerpt_box.setValue(7.5)
    first.close()
    second = ui.make_window(shipped_model, path)
    qtbot.addWidget(second)
    assert second.mode_box.currentData() == "lerp"
    assert not second.detail_box.isChecked()
    assert second.excerpt_box.value() == 7.5
    second.close()


@pytest.mark.parametrize("stored", ["nan", "-5", "1e300", "inf", "five", "0"])
def test_a_damaged_remembered_excerpt_length_falls_back_to_the_default(
    qtbot, shipped_model, tmp_path, stored
):
    path = tmp_path / "damaged.ini"
    path.write_text(f"[General]\nexcerpt_s={stored}\n")
    window = ui.make_window(shipped_model, path)
    qtbot.addWidget(window)
    assert window.excerpt_box.value() == engine.DEFAULT_EXCERPT_S
    window.close()


def test_the_session_comes_back_on_the_next_start(qtbot, shipped_model, clips, tmp_path):
    settings_file = tmp_path / "session.ini"
    first = ui.make_window(shipped_model, settings_file)
    qtbot.addWidget(first)
    first.autoplay_box.setChecked(False)
    first.show()
    ui.load_both(qtbot, first, clips)
    first.session.move_excerpt("A", 1.5)
    qtbot.waitUntil(lambda: first.session.tracks["A"].start_s == 1.5, timeout=ui.LOAD_TIMEOUT_MS)
    first.slider.setFocus()
    qtbot.keyClick(first.slider, Qt.Key.Key_Left)
    qtbot.mouseClick(first.morph_box, ui.LEFT)
    ui.settle(qtbot, first)
    assert first.windowTitle() == "A: low.flac · B: high.ogg — musinterp"
    first.close()

    second = ui.make_window(shipped_model, settings_file)
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: second.session.ready and ui.idle(second), timeout=ui.LOAD_TIMEOUT_MS)
    a, b = second.session.tracks["A"], second.session.tracks["B"]
    assert (a.path, a.start_s, b.path) == (clips[0], 1.5, clips[1])
    assert second.slider.value() == 450 and second.morph_box.isChecked()
    assert second.session.settings.alpha == 0.45 and second.session.blended_mel is not None
    assert second.windowTitle() == "A: low.flac · B: high.ogg — musinterp"
    assert second.session.undo_stack.count() == 0  # coming back is not an undoable change
    assert second.preferences.value("last_folder") == str(clips[1].parent.absolute())
    second._fill_recent_menu("B")
    recent = [action.text() for action in second.recent_menus["B"].actions()]
    assert sorted(recent[:2]) == ["high.ogg", "low.flac"]  # A and B load in parallel
    second.close()

    clips[1].unlink()  # a file that is gone is not restored, and nothing is said about it
    third = ui.make_window(shipped_model, settings_file)
    qtbot.addWidget(third)
    qtbot.waitUntil(lambda: third.session.tracks["A"] is not None, timeout=ui.LOAD_TIMEOUT_MS)
    assert third.session.tracks["B"] is None and third.last_message is None
    third.close()


def test_the_remembered_model_is_used_or_replaced_with_a_word(tmp_path):
    model, note = remembered_model(str(default_model_dir()))
    assert model is not None and note == ""
    model, note = remembered_model(str(tmp_path / "gone"))
    assert model.info.folder == default_model_dir()
    assert note.startswith("The last model (“gone”) cannot be used, so the shipped one is:")


def test_everything_that_shapes_the_sound_comes_back_on_the_next_start(
    qtbot, shipped_model, clips, tmp_path
):
    settings_file = tmp_path / "settings.ini"
    first = ui.make_shown_window(qtbot, shipped_model, settings_file)
    ui.load_both(qtbot, first, clips)
    first.alpha_box.setValue(0.3)
    first.mode_box.setCurrentIndex(first.mode_box.findData("lerp"))
    for slot, start_s in (("C", 1.0), ("D", 0.0)):
        with qtbot.waitSignal(first.pad.track_loaded, timeout=ui.LOAD_TIMEOUT_MS):
            first.pad.load(slot, clips[1 if slot == "C" else 0], start_s=start_s)
    first.pad.surface.set_position(0.2, 0.7)
    first.pad.surface.path = ((0.0, 0.0), (1.0, 1.0))
    first.docks["sync"].show()
    sync = first.sync_controls
    qtbot.waitUntil(lambda: sync.tempo_fields["B"].isEnabled(), timeout=ui.LOAD_TIMEOUT_MS)
    with qtbot.waitSignal(sync.synced, timeout=ui.LOAD_TIMEOUT_MS):
        sync.tempo_box.setChecked(True)
    with qtbot.waitSignal(sync.synced, timeout=ui.LOAD_TIMEOUT_MS):
        sync.give_tempo("B", 70.0)
    next(a for a in first.choices["rate"].actions() if a.data() == 48000).trigger()
    qtbot.waitUntil(lambda: ui.idle(first), timeout=ui.LOAD_TIMEOUT_MS)
    first.close()

    second = ui.make_shown_window(qtbot, shipped_model, settings_file)

    def back() -> bool:  # a fit replaces the engine: read its tracks afresh
        tracks = second.session.engine.tracks
        fitted = tracks["B"] is not None and tracks["B"].alignment is not None
        return fitted and all(tracks[s] is not None for s in "ABCD") and ui.idle(second)

    qtbot.waitUntil(back, timeout=ui.LOAD_TIMEOUT_MS)
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
    ui.load_both(qtbot, window, clips)
    window.alpha_box.setValue(0.8)
    saved = tmp_path / "song.musinterp-session.json"
    session_file.write(saved, window_memory.capture(window))
    window.alpha_box.setValue(0.1)
    window_memory.open_session(window, saved)
    qtbot.waitUntil(lambda: window.session.settings.alpha == 0.8, timeout=ui.LOAD_TIMEOUT_MS)

    window.alpha_box.setValue(0.1)
    sf.write(clips[1], np.zeros(44100, np.float32), 44100)  # B is another sound now
    window_memory.open_session(window, saved)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=ui.LOAD_TIMEOUT_MS)
    text = window.last_message.text()
    assert "Track B" in text and "has changed since the session's saving" in text
    assert window.session.settings.alpha == 0.1  # the window kept what it had


@pytest.mark.parametrize(
    "content", ["{", '{"format": "musinterp session", "format_version": 1}', "[]", "null"]
)
def test_a_damaged_last_session_starts_empty_with_a_word(qtbot, shipped_model, tmp_path, content):
    (tmp_path / "last.musinterp-session.json").write_text(content)
    win = ui.make_shown_window(qtbot, shipped_model, tmp_path / "settings.ini")
    assert win.session.settings == BlendSettings()
    assert "The last session was not restored" in win.status_text.text()
    assert (tmp_path / "last.musinterp-session.json.unreadable").read_text() == content
    win.close()
