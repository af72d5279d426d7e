"""MIDI control: learning a CC, α and the pad following it, the bindings remembered; a real
port where the machine has a MIDI system (JACK's, under the test wrapper), injected
messages everywhere."""

import time

import mido
import pytest
import rtmidi
from PySide6.QtCore import QSettings
from support.window import LOAD_TIMEOUT_MS, load_both

from musinterp_app.gui import midi
from musinterp_app.gui.main_window import SLIDER_STEPS

pytestmark = pytest.mark.gui


def cc(control: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", channel=channel, control=control, value=value)


def test_a_learned_cc_moves_alpha_and_is_remembered(qtbot, window, clips, tmp_path):
    load_both(qtbot, window, clips)
    window.actions["midi_alpha"].trigger()
    assert window.midi.learning == "alpha"
    assert window.transport.midi_label.text() in ("MIDI learn…", "MIDI off")
    window.midi.handle(mido.Message("note_on", note=60))  # not a knob: ignored
    assert window.midi.learning == "alpha"
    window.midi.handle(cc(21, 0, channel=2))
    assert window.midi.bindings == {(2, 21): "alpha"}
    assert "α follows CC 21 (channel 3) now" in window.status_text.text()
    window.midi.handle(cc(21, 127, channel=2))
    assert window.slider.value() == SLIDER_STEPS and window.session.settings.alpha == 1.0
    window.midi.handle(cc(21, 32, channel=2))
    assert window.slider.value() == round(32 / 127 * SLIDER_STEPS)
    window.midi.handle(cc(22, 127, channel=2))  # another knob: not bound
    assert window.slider.value() == round(32 / 127 * SLIDER_STEPS)
    window.save_settings()
    again = midi.MidiControl(window.preferences)
    assert again.bindings == {(2, 21): "alpha"}
    window.actions["midi_forget"].trigger()
    assert midi.MidiControl(window.preferences).bindings == {}


def test_a_knob_moves_the_pads_puck_and_esc_cancels_learning(qtbot, window):
    window.midi.learn("pad_y")
    window.cancel_all()  # Esc
    assert window.midi.learning == ""
    window.midi.handle(cc(5, 64))
    assert window.midi.bindings == {}
    window.midi.learn("pad_x")
    window.midi.handle(cc(5, 127))
    window.midi.learn("pad_y")
    window.midi.handle(cc(6, 0))
    window.midi.handle(cc(5, 0))
    window.midi.handle(cc(6, 127))
    assert window.pad.surface.position == (0.0, 1.0)
    with pytest.raises(ValueError, match="not 'volume'"):
        window.midi.learn("volume")


def test_without_a_midi_system_the_window_says_so_and_works(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(midi, "_apis", lambda: [])  # a machine with neither ALSA nor JACK
    control = midi.MidiControl(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    control.start()
    words, sentence = control.summary()
    assert words == "MIDI off" and "no MIDI system" in sentence
    control.learn("alpha")
    control.handle(cc(1, 1))
    assert control.bindings == {(0, 1): "alpha"}  # injected messages still work


def test_a_controller_on_a_real_port_moves_alpha(qtbot, window, clips):
    assert (
        not window.midi.started and window.transport.midi_label.text() == "MIDI"
    )  # not opened yet
    window.midi.learn("alpha")  # opens MIDI
    window.midi.learn("")
    if window.midi.lister is None:
        pytest.skip(f"no MIDI system here: {window.midi.problem}")
    load_both(qtbot, window, clips)
    keyboard = rtmidi.MidiOut(rtapi=window.midi.lister.get_current_api())
    keyboard.open_virtual_port("test keyboard")
    try:
        qtbot.waitUntil(
            lambda: any("test keyboard" in name for name in window.midi.ports),
            timeout=3 * midi.PORT_SCAN_MS,
        )
        assert "1 bound" not in window.transport.midi_label.text()
        window.midi.learn("alpha")

        def turned_to(value: int) -> bool:  # a hand turns the knob until something moves
            keyboard.send_message(cc(74, value).bytes())
            qtbot.wait(50)
            return window.midi.bindings == {(0, 74): "alpha"} and window.slider.value() == round(
                value / 127 * SLIDER_STEPS
            )

        qtbot.waitUntil(lambda: turned_to(10), timeout=3000)
        qtbot.waitUntil(lambda: turned_to(100), timeout=3000)
        assert "test keyboard" in window.transport.midi_label.toolTip()
    finally:
        keyboard.close_port()
    time.sleep(0.1)
    window.midi.open_ports()  # the port went away: let go of it
    assert not any("test keyboard" in name for name in window.midi.ports)
    assert window.session.settings.alpha == pytest.approx(100 / 127, abs=1e-3)
    qtbot.waitUntil(lambda: not window.session.busy, timeout=LOAD_TIMEOUT_MS)
