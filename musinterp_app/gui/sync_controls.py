"""Tempo and key alignment in the window: two toggles, each track's BPM and key, overrides.

The estimates come from ``Engine.estimates`` and the fitting from
``Engine.synced`` (B, C and D fitted to A), both on lanes. A wrong estimate is
corrected by hand: ×2 / ÷2 for a tempo counted twice too fast or too slow, and
the relative key (C major ↔ A minor). The owner swaps in the synced engine
through ``on_synced`` (as it does for a model switch).
"""

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QPushButton, QWidget

from musinterp_app.audio.analysis import Key, Tempo
from musinterp_app.engine import SLOTS, Engine
from musinterp_app.gui.workers import JobPool, Lane


class SyncControls(QWidget):
    """Toggles *Match tempo* / *Match key*, readouts and override buttons per loaded track."""

    synced = Signal(object)  # the new engine
    described = Signal(str, str)  # slot, its tempo and key in words ("121.0 BPM · D minor")

    def __init__(
        self,
        engine_now: Callable[[], Engine],
        pool: JobPool,
        on_synced: Callable[[Engine], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine_now = engine_now
        self.on_synced = on_synced
        self.estimates: dict[str, tuple[Tempo, Key]] = {}
        self.problems: dict[str, str] = {}  # why a loaded track has no estimate (too short)
        self.tempo_bpm: dict[str, float] = {}  # overrides given by hand
        self.keys: dict[str, Key] = {}
        self._adopting = False  # the owner announces the fitted tracks: not a new load
        self.lanes = {"estimate": Lane(pool, self), "sync": Lane(pool, self)}
        self.lanes["estimate"].finished.connect(self._estimated)
        self.lanes["sync"].finished.connect(self._synced)
        for lane in self.lanes.values():
            lane.failed.connect(self._failed)
        self.tempo_box = QCheckBox("Match tempo", self, toggled=lambda _on: self.apply())
        self.tempo_box.setToolTip("Stretch B (C, D) to A's tempo, first downbeats together")
        self.key_box = QCheckBox("Match key", self, toggled=lambda _on: self.apply())
        self.key_box.setToolTip("Shift B (C, D) by the smallest interval onto A's key")
        self.status = QLabel("", self)
        layout = QGridLayout(self)
        layout.addWidget(self.tempo_box, 0, 0)
        layout.addWidget(self.key_box, 0, 1)
        self.readouts: dict[str, QLabel] = {}
        self.buttons: dict[str, dict[str, QPushButton]] = {}
        for row, slot in enumerate(SLOTS, start=1):
            self.readouts[slot] = QLabel(f"{slot}: –", self)
            layout.addWidget(self.readouts[slot], row, 0)
            self.buttons[slot] = {
                "double": QPushButton("×2", self, clicked=lambda _=0, s=slot: self.scale(s, 2.0)),
                "half": QPushButton("÷2", self, clicked=lambda _=0, s=slot: self.scale(s, 0.5)),
                "relative": QPushButton(
                    "Relative key", self, clicked=lambda _=0, s=slot: self.relative(s)
                ),
            }
            for column, button in enumerate(self.buttons[slot].values(), start=1):
                button.setToolTip(
                    {
                        1: "the tempo is twice what was estimated",
                        2: "the tempo is half what was estimated",
                        3: "the key is the relative major or minor of the estimate",
                    }[column]
                )
                layout.addWidget(button, row, column)
        layout.addWidget(self.status, len(SLOTS) + 1, 0, 1, 4)
        self._show()

    @property
    def sync(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, box in (("tempo", self.tempo_box), ("key", self.key_box))
            if box.isChecked()
        )

    def refresh(self) -> None:
        """Estimate every loaded track's tempo and key again (after a track or excerpt change)."""
        blender = self.engine_now()
        slots = [slot for slot, track in blender.tracks.items() if track is not None]
        self.lanes["estimate"].submit(lambda cancel, progress: _estimate_each(blender, slots))

    def track_changed(self, slot: str) -> None:
        """A track was loaded or its excerpt moved: forget what was given by hand for it,
        estimate again, and fit again while matching is on (B, C, D are fitted to A)."""
        if self._adopting:
            return
        self.tempo_bpm.pop(slot, None)
        self.keys.pop(slot, None)
        self.refresh()
        if self.sync:
            self.apply()

    def scale(self, slot: str, factor: float) -> None:
        """Count ``slot``'s tempo ``factor`` times as fast (×2 or ÷2), then sync again."""
        if slot in self.estimates:
            self.tempo_bpm[slot] = self.current(slot)[0].bpm * factor
            self._show()
            self.apply()

    def relative(self, slot: str) -> None:
        """Take ``slot``'s key to be the relative major/minor of what it is now."""
        if slot in self.estimates:
            self.keys[slot] = self.current(slot)[1].relative()
            self._show()
            self.apply()

    def current(self, slot: str) -> tuple[Tempo, Key]:
        """The tempo and key used for ``slot``: the estimate unless given by hand."""
        tempo, key = self.estimates[slot]
        if slot in self.tempo_bpm:
            tempo = tempo.scaled(self.tempo_bpm[slot] / tempo.bpm)
        return tempo, self.keys.get(slot, key)

    def apply(self) -> None:
        """Fit the tracks as the toggles and overrides say (nothing ticked: undo)."""
        blender = self.engine_now()
        if not blender.ready:
            return
        sync, tempo_bpm, keys = self.sync, dict(self.tempo_bpm), dict(self.keys)
        self.status.setText("Matching…" if sync else "Undoing the match…")
        self.lanes["sync"].submit(
            lambda cancel, progress: (
                blender,
                blender.synced(sync, tempo_bpm=tempo_bpm, keys=keys, cancel=cancel),
            )
        )

    def _estimated(self, result: tuple[dict[str, tuple[Tempo, Key]], dict[str, str]]) -> None:
        self.estimates, self.problems = result
        self._show()

    def _synced(self, result: tuple[Engine, Engine]) -> None:
        source, blender = result
        if self.engine_now() is not source:  # a track or model changed while fitting
            self.apply()  # fit what is there now (this result would drop that change)
            return
        self._adopting = True
        try:
            self.on_synced(blender)
        finally:
            self._adopting = False
        self.status.setText(self._fit_text(blender))
        self.synced.emit(blender)

    @staticmethod
    def _fit_text(blender: Engine) -> str:
        fits = [
            f"{slot} ×{t.alignment.speed:.2f} speed, {t.alignment.semitones:+d} st"
            for slot, t in blender.tracks.items()
            if t is not None and t.alignment is not None
        ]
        notes = [
            t.note for t in blender.tracks.values() if t is not None and t.alignment and t.note
        ]
        text = "Fitted to A: " + "; ".join(fits) if fits else "Tracks as loaded"
        return ". ".join([text, *notes])

    def _failed(self, message: str) -> None:
        self.status.setText(message)

    def _show(self) -> None:
        for slot in SLOTS:
            known = slot in self.estimates
            for button in self.buttons[slot].values():
                button.setEnabled(known)
            if not known:
                self.readouts[slot].setText(f"{slot}: {self.problems.get(slot, '–')}")
                continue
            tempo, key = self.current(slot)
            given = " (given)" if slot in self.tempo_bpm or slot in self.keys else ""
            words = f"{tempo.label} · {key.label}{given}"
            self.readouts[slot].setText(f"{slot}: {words}")
            self.described.emit(slot, words)
            self.readouts[slot].setToolTip(f"beat clarity {tempo.confidence:.2f} (0 … 1)")


def _estimate_each(
    blender: Engine, slots: list[str]
) -> tuple[dict[str, tuple[Tempo, Key]], dict[str, str]]:
    """Each slot's tempo and key, and for those that have none, why (one track too short
    to estimate leaves the others' estimates standing)."""
    estimates, problems = {}, {}
    for slot in slots:
        try:
            estimates[slot] = blender.estimates(slot)
        except ValueError as error:
            problems[slot] = str(error)
    return estimates, problems
