"""MIDI control: a controller's knob or fader (a control change, CC) moves α or the pad's
puck; *MIDI learn* binds the next CC that arrives, and the bindings are remembered.

Ports are opened with python-rtmidi (messages parsed with mido), through ALSA's
sequencer where the machine has one, else through a running JACK server. rtmidi
calls back on its own thread; the message only crosses to the UI thread in a queued Qt signal. Every
input port is listened to, and ports that appear later are picked up. Without a
MIDI system the window says so in a word and everything else works.
"""

import contextlib
import os
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal

TARGETS = {"alpha": "α", "pad_x": "pad x", "pad_y": "pad y"}  # what a CC can move
CC_MAX = 127
PORT_SCAN_MS = 2000  # new ports (a controller plugged in) are opened within this


def _apis() -> list[int]:
    """rtmidi APIs worth trying here, in order: probing one that cannot work prints a C
    library's complaint on the terminal, so only those whose system is there."""
    import rtmidi

    if not sys.platform.startswith("linux"):
        return [rtmidi.API_UNSPECIFIED]  # the platform's own (CoreMIDI, Windows MM)
    apis = []
    if Path("/dev/snd/seq").exists():
        apis.append(rtmidi.API_LINUX_ALSA)
    shm = Path("/dev/shm")
    if shm.is_dir() and any(shm.glob(f"jack_*_{os.getuid()}_*")):  # a JACK server runs
        apis.append(rtmidi.API_UNIX_JACK)
    return apis


def open_lister() -> tuple[object | None, str]:
    """(an rtmidi input that lists the ports, "") or (None, why MIDI is off, in a few words).

    Ports are listed with this one client: mido's ``get_input_names`` makes a new
    client each time, which took 0.16 s (0.5 s on a busy machine) holding the GIL,
    and stalled live playback every time it looked for new ports."""
    try:
        import mido  # noqa: F401  (messages are parsed with it)
        import rtmidi
    except ImportError as error:
        return None, f"MIDI support is not installed ({error})"
    apis = _apis()
    if not apis:
        return None, "no MIDI system (no ALSA sequencer, no JACK server)"
    reasons = []
    for api in apis:
        try:
            lister = rtmidi.MidiIn(rtapi=api, name="musinterp")
            lister.get_ports()
        except Exception as error:  # rtmidi's SystemError / RtMidiError
            reasons.append(str(error).strip().splitlines()[0][:80] if str(error) else str(api))
            continue
        return lister, ""
    return None, "MIDI cannot start (" + "; ".join(reasons) + ")"


def describe(binding: tuple[int, int]) -> str:
    channel, control = binding
    return f"CC {control} (channel {channel + 1})"


class MidiControl(QObject):
    """Bindings of CCs to ``TARGETS`` and the ports they come in on.

    ``moved(target, value)``: a bound CC moved (value 0 … 1); ``learned(target, words)``:
    *MIDI learn* bound one; ``state_changed``: ports or bindings changed (see ``summary``).
    """

    moved = Signal(str, float)
    learned = Signal(str, str)
    state_changed = Signal()
    _arrived = Signal(object)  # a message, from rtmidi's thread to this object's

    def __init__(self, preferences: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.preferences = preferences
        self.bindings: dict[tuple[int, int], str] = self._remembered()
        self.learning = ""  # the target the next CC binds to ('' when not learning)
        self.lister, self.problem = None, ""
        self.started = False  # MIDI is opened once a binding exists or is being learnt
        self.ports: dict[str, object] = {}  # name → an rtmidi input listening to it
        self._arrived.connect(self.handle)
        self._scan = QTimer(self, interval=PORT_SCAN_MS, timeout=self.open_ports)

    def start(self) -> None:
        """Find the MIDI system and listen to every input port (again every few seconds).

        Called when a binding is remembered or MIDI learn is asked for, not before: a
        MIDI client of a JACK server maps the server's shared memory (100 MB of resident
        memory here) and a window without a controller has no use for it."""
        self.started = True
        self.lister, self.problem = open_lister()
        if self.lister is not None:
            self.open_ports()
            self._scan.start()
        self.state_changed.emit()

    def open_ports(self) -> None:
        """Listen to the input ports there are now (and let go of those that are gone)."""
        import rtmidi

        before = set(self.ports)
        try:
            names = self.lister.get_ports()
        except Exception as error:  # the MIDI system went away
            self.problem = f"MIDI stopped ({error})"
            self.close()
            self.state_changed.emit()
            return
        for name in set(self.ports) - set(names):
            with contextlib.suppress(Exception):
                self.ports.pop(name).close_port()
        for index, name in enumerate(names):
            if name in self.ports:
                continue
            with contextlib.suppress(Exception):  # a port that vanished meanwhile
                port = rtmidi.MidiIn(rtapi=self.lister.get_current_api(), name="musinterp")
                port.open_port(index, name="control in")
                port.set_callback(self._received)
                self.ports[name] = port
        if set(self.ports) != before:
            self.state_changed.emit()

    def _received(self, event: tuple, _data=None) -> None:
        """rtmidi's callback (its thread): the message, parsed, to the UI thread."""
        import mido

        with contextlib.suppress(ValueError, TypeError):  # a message mido cannot read
            self._arrived.emit(mido.Message.from_bytes(event[0]))

    def learn(self, target: str) -> None:
        """Bind the next CC that arrives to ``target`` (one of ``TARGETS``; '' cancels)."""
        if target and target not in TARGETS:
            raise ValueError(f"MIDI can move {', '.join(TARGETS)}, not {target!r}")
        if target and not self.started:
            self.start()
        self.learning = target
        self.state_changed.emit()

    def forget(self) -> None:
        self.bindings.clear()
        self._remember()
        self.state_changed.emit()

    def handle(self, message) -> None:
        """A message that arrived (on the UI thread): learn it, or move what it is bound to."""
        if getattr(message, "type", "") != "control_change":
            return
        key = (message.channel, message.control)
        if self.learning:
            target, self.learning = self.learning, ""
            self.bindings = {k: t for k, t in self.bindings.items() if t != target}
            self.bindings[key] = target
            self._remember()
            self.learned.emit(target, describe(key))
            self.state_changed.emit()
        target = self.bindings.get(key)
        if target:
            self.moved.emit(target, message.value / CC_MAX)

    def summary(self) -> tuple[str, str]:
        """A word or two for the transport row, and a sentence for its tooltip."""
        if not self.started:
            return "MIDI", "MIDI: Tools → MIDI learn binds a controller's knob to α or the pad"
        if self.lister is None:
            return "MIDI off", f"MIDI is off: {self.problem}. Everything else works."
        if self.learning:
            return "MIDI learn…", f"Move a knob to control {TARGETS[self.learning]}"
        bound = ", ".join(f"{describe(k)} → {TARGETS[t]}" for k, t in sorted(self.bindings.items()))
        ports = ", ".join(sorted(self.ports)) or "none yet"
        words = f"MIDI: {len(self.bindings)} bound" if self.bindings else "MIDI"
        return words, f"MIDI ports: {ports}. Bound: {bound or 'nothing (Tools → MIDI learn)'}."

    def _remembered(self) -> dict[tuple[int, int], str]:
        bindings = {}
        for target in TARGETS:
            value = str(self.preferences.value(f"midi/{target}", ""))
            with contextlib.suppress(ValueError):
                channel, control = (int(part) for part in value.split(","))
                if 0 <= channel < 16 and 0 <= control <= CC_MAX:
                    bindings[(channel, control)] = target
        return bindings

    def _remember(self) -> None:
        for target in TARGETS:
            bound = [key for key, t in self.bindings.items() if t == target]
            self.preferences.setValue(
                f"midi/{target}", ",".join(map(str, bound[0])) if bound else ""
            )

    def close(self) -> None:
        self._scan.stop()
        for port in self.ports.values():
            with contextlib.suppress(Exception):
                port.close_port()
        self.ports.clear()
        self.lister = None  # its client too (on JACK, 100 MB of the server's memory)


def connect_window(window) -> None:
    """``window.midi`` wired to the window: a bound knob moves α (as the slider would) or the
    pad's puck, the transport row says what MIDI does, and MIDI opens at once (after the
    window is up) when a controller was bound before."""
    control = window.midi

    def moved(target: str, value: float) -> None:
        if target == "alpha":
            if window.slider.isEnabled():
                window.slider.setValue(round(value * window.slider.maximum()))
        else:
            window.pad.move_puck(**{target.removeprefix("pad_"): value})

    def show() -> None:
        words, sentence = control.summary()
        window.transport.midi_label.setText(words)
        window.transport.midi_label.setToolTip(sentence)
        if control.learning:
            window._show_status(
                f"Move a knob on your MIDI controller: {sentence.lower()} (Esc: cancel)"
            )

    control.moved.connect(moved)
    control.learned.connect(
        lambda target, words: window._show_status(f"{TARGETS[target]} follows {words} now")
    )
    control.state_changed.connect(show)
    show()
    if control.bindings:
        QTimer.singleShot(0, control.start)
