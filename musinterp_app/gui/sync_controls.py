"""Tempo and key alignment in the window: two toggles; each track's BPM and key, typed or
chosen over the estimate, with how sure the estimate is.

The estimates come from ``Engine.estimates`` and the fitting from
``Engine.synced`` (B, C and D fitted to A), both on lanes. A wrong estimate is
corrected by hand: a typed tempo, ×2 / ÷2 for a tempo counted twice too fast or
too slow (matched as given: ×2 stretches twice as far), a key chosen from the
list, or the relative key (C major ↔ A minor). The owner swaps in the synced engine
through ``on_synced`` (as it does for a model switch).

Estimates and what was given by hand belong to a track's *content* (its file
and excerpt, :attr:`Track.content`), not to its slot: a swap only moves them,
and a model switch or a fit (which re-encode or stretch the same excerpt) keeps
them; only a track whose content is new is estimated, once. The estimate job
estimates the tracks it was given, not what their slots hold when it runs (a
swap may come meanwhile).
"""

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from musinterp_app.audio.analysis import Key, Tempo
from musinterp_app.audio.cancel import CancelToken
from musinterp_app.base import limits
from musinterp_app.engine import SLOTS, Content, Engine, Track
from musinterp_app.gui.workers import Lane


class SyncControls(QWidget):
    """Toggles *Match tempo* / *Match key*, readouts and override buttons per loaded track."""

    synced = Signal(object)  # the new engine
    described = Signal(str, str)  # slot, its tempo and key in words ("121.0 BPM · D minor")

    def __init__(
        self,
        current_engine: Callable[[], Engine],
        lanes: Callable[[tuple[str, ...], QWidget], dict[str, Lane]],
        on_synced: Callable[[Engine], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._current_engine = current_engine
        self.on_synced = on_synced
        # All by content (Track.content), for the contents loaded in some slot:
        self.estimates: dict[Content, tuple[Tempo, Key]] = {}
        self.problems: dict[Content, str] = {}  # why a track has no estimate (too short)
        self.tempo_bpm: dict[Content, float] = {}  # overrides given by hand
        self.keys: dict[Content, Key] = {}
        self.seen: dict[str, Content | None] = {}  # each slot's content at its last change
        self._estimating: set[Content] = set()  # what the running estimate job covers
        # A saved session's hand-given values, by slot, until that slot's track is loaded:
        # slot → (file, excerpt start, tempo or None, key or None)
        self._restoring: dict[str, tuple[str, float, float | None, Key | None]] = {}
        self.lanes = lanes(("estimate", "sync"), self)  # the session's: Esc cancels them
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
        toggles = QHBoxLayout()  # on their own: the fields' columns stay as narrow as they are
        toggles.addWidget(self.tempo_box)
        toggles.addWidget(self.key_box)
        toggles.addStretch(1)
        layout.addLayout(toggles, 0, 0, 1, 5)
        self.readouts: dict[str, QLabel] = {}  # each slot's name and how sure its estimate is
        self.words: dict[str, str] = {}  # each slot's tempo and key in words, as `described`
        self.tempo_fields: dict[str, QDoubleSpinBox] = {}
        self.key_fields: dict[str, QComboBox] = {}
        self.buttons: dict[str, dict[str, QPushButton]] = {}
        for row, slot in enumerate(SLOTS, start=1):
            self.readouts[slot] = QLabel(f"{slot}: –", self)
            self.tempo_fields[slot] = self._tempo_field(slot)
            self.key_fields[slot] = self._key_field(slot)
            self.buttons[slot] = {
                "double": QPushButton("×2", self, clicked=lambda _=0, s=slot: self.scale(s, 2.0)),
                "half": QPushButton("÷2", self, clicked=lambda _=0, s=slot: self.scale(s, 0.5)),
                "relative": QPushButton("Rel.", self, clicked=lambda _=0, s=slot: self.relative(s)),
            }
            tips = {
                "double": "the tempo is twice what it says: B is stretched twice as far",
                "half": "the tempo is half what it says",
                "relative": "the key is the relative major or minor of what it says",
            }
            fields = (
                self.tempo_fields[slot],
                self.buttons[slot]["double"],
                self.buttons[slot]["half"],
                self.key_fields[slot],
                self.buttons[slot]["relative"],
            )  # under the slot's name and how sure it is: narrow enough for a side panel
            for name, button in self.buttons[slot].items():
                button.setToolTip(tips[name])
                button.setFixedWidth(button.fontMetrics().horizontalAdvance(button.text()) + 20)
            layout.addWidget(self.readouts[slot], 2 * row - 1, 0, 1, len(fields))
            for column, widget in enumerate(fields):
                layout.addWidget(widget, 2 * row, column)
        self.status.setWordWrap(True)  # a long fit report wraps instead of widening the window
        layout.addWidget(self.status, 2 * len(SLOTS) + 1, 0, 1, 5)
        layout.setRowStretch(2 * len(SLOTS) + 2, 1)  # a tall panel keeps its rows together
        self._show()

    @property
    def engine(self) -> Engine:
        """The engine to use now (its owner may have swapped it since the last call)."""
        return self._current_engine()

    def _tempo_field(self, slot: str) -> QDoubleSpinBox:
        """``slot``'s tempo, typed over the estimate (Enter or leaving the field applies it)."""
        field = QDoubleSpinBox(self, decimals=1, suffix=" BPM", keyboardTracking=False)
        field.setRange(limits.TEMPO_BPM.low, limits.TEMPO_BPM.high)
        field.setToolTip("type the tempo if the estimate is wrong")
        field.editingFinished.connect(lambda s=slot: self.give_tempo(s, field.value()))
        return field

    def _key_field(self, slot: str) -> QComboBox:
        """``slot``'s key, chosen over the estimate."""
        field = QComboBox(self)
        for index in range(24):  # C major … B major, then C minor … B minor
            field.addItem(Key(index % 12, index >= 12).name)
        field.setToolTip("choose the key if the estimate is wrong")
        field.activated.connect(lambda i, s=slot: self.give_key(s, Key(i % 12, i >= 12)))
        return field

    @property
    def sync(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, box in (("tempo", self.tempo_box), ("key", self.key_box))
            if box.isChecked()
        )

    def loaded(self) -> dict[str, Content]:
        """The content of each loaded slot."""
        tracks = self.engine.tracks
        return {slot: track.content for slot, track in tracks.items() if track is not None}

    def refresh(self) -> None:
        """Estimate the tempo and key of each loaded track not estimated yet (in the
        background, once per content), forget those of contents no longer loaded, and show
        what is known."""
        engine = self.engine
        tracks = {t.content: t for t in engine.tracks.values() if t is not None}
        for known in (self.estimates, self.problems, self.tempo_bpm, self.keys):
            for content in set(known) - set(tracks):
                del known[content]
        missing = {
            content: track
            for content, track in tracks.items()
            if content not in self.estimates and content not in self.problems
        }
        # A running estimate of tracks still loaded goes on (what it leaves out is asked
        # for when it ends); one of a track no longer loaded is cancelled between tracks.
        running = self.lanes["estimate"].busy and self._estimating <= set(tracks)
        if missing and not running:
            self._estimating = set(missing)
            self.lanes["estimate"].submit(
                lambda cancel, _progress: _estimate_each(engine, missing, cancel)
            )
        self._show()

    def given(self) -> tuple[dict[str, float], dict[str, Key]]:
        """The tempos and keys given by hand, by slot (what a session file keeps)."""
        loaded = self.loaded()
        tempos = {s: self.tempo_bpm[c] for s, c in loaded.items() if c in self.tempo_bpm}
        return tempos, {s: self.keys[c] for s, c in loaded.items() if c in self.keys}

    def restore(
        self,
        match: tuple[str, ...],
        tracks: dict[str, tuple[str, float]],
        tempo_bpm: dict[str, float],
        keys: dict[str, Key],
    ) -> None:
        """A saved session's matching: the toggles at once, and what was given by hand for
        each slot as soon as the track it was given for (``tracks``: file and excerpt
        start by slot) is loaded there."""
        self._restoring = {
            slot: (*tracks[slot], tempo_bpm.get(slot), keys.get(slot))
            for slot in set(tempo_bpm) | set(keys)
            if slot in tracks
        }
        for box, name in ((self.tempo_box, "tempo"), (self.key_box, "key")):
            box.blockSignals(True)  # one fit below, not one per toggle
            box.setChecked(name in match)
            box.blockSignals(False)
        for slot in SLOTS:
            self._take_restored(slot)
        self._show()
        self.apply()

    def _take_restored(self, slot: str) -> None:
        """Give ``slot`` the session's hand-given values if its saved track is loaded there."""
        track = self.engine.tracks[slot]
        waiting = self._restoring.get(slot)
        if track is None or waiting is None:
            return
        path, start_s, bpm, key = waiting
        if str(track.path) == path and abs(track.start_s - start_s) < 1e-3:
            del self._restoring[slot]
            if bpm is not None:
                self.tempo_bpm[track.content] = bpm
            if key is not None:
                self.keys[track.content] = key

    def track_changed(self, slot: str) -> None:
        """A track was loaded, moved, swapped, re-encoded or fitted: estimate it if its
        content is new, and fit again while matching is on when it is new or not fitted as
        the toggles say (B, C, D are fitted to A)."""
        self._take_restored(slot)
        track = self.engine.tracks[slot]
        content = None if track is None else track.content
        new = self.seen.get(slot) != content
        self.seen[slot] = content
        self.refresh()
        if (new and self.sync) or not self._fitted_as_asked(slot, track):
            self.apply()

    def _fitted_as_asked(self, slot: str, track: Track | None) -> bool:
        """Whether ``track`` in ``slot`` is fitted as the toggles say (A never is)."""
        if track is None:
            return True
        if slot == "A" or not self.sync:
            return track.alignment is None
        return track.alignment is not None and track.alignment.sync == self.sync

    def scale(self, slot: str, factor: float) -> None:
        """Count ``slot``'s tempo ``factor`` times as fast (×2 or ÷2), then sync again."""
        if self.loaded().get(slot) in self.estimates:
            self.give_tempo(slot, self.current(slot)[0].bpm * factor)

    def relative(self, slot: str) -> None:
        """Take ``slot``'s key to be the relative major/minor of what it is now."""
        if self.loaded().get(slot) in self.estimates:
            self.give_key(slot, self.current(slot)[1].relative())

    def give_tempo(self, slot: str, bpm: float) -> None:
        """``slot``'s tempo is ``bpm`` (typed, or ×2 / ÷2), not the estimate: sync again."""
        content = self.loaded().get(slot)
        if content not in self.estimates or abs(bpm - self.current(slot)[0].bpm) < 0.05:
            return
        self.tempo_bpm[content] = min(max(bpm, limits.TEMPO_BPM.low), limits.TEMPO_BPM.high)
        self._show()
        self.apply()

    def give_key(self, slot: str, key: Key) -> None:
        """``slot``'s key is ``key``, not the estimate: sync again."""
        content = self.loaded().get(slot)
        if content not in self.estimates or key.name == self.current(slot)[1].name:
            return
        self.keys[content] = key
        self._show()
        self.apply()

    def current(self, slot: str) -> tuple[Tempo, Key]:
        """The tempo and key used for ``slot``: the estimate unless given by hand."""
        content = self.loaded()[slot]
        tempo, key = self.estimates[content]
        if content in self.tempo_bpm:
            tempo = tempo.scaled(self.tempo_bpm[content] / tempo.bpm)
        return tempo, self.keys.get(content, key)

    def apply(self) -> None:
        """Fit the tracks as the toggles and overrides say (nothing ticked: undo)."""
        engine = self.engine
        if not engine.ready:
            return
        loaded = self.loaded()
        tempo_bpm = {s: self.tempo_bpm[c] for s, c in loaded.items() if c in self.tempo_bpm}
        keys = {s: self.keys[c] for s, c in loaded.items() if c in self.keys}
        sync = self.sync
        self.status.setText("Matching…" if sync else "Undoing the match…")
        self.lanes["sync"].submit(
            lambda cancel, progress: (
                engine,
                engine.synced(sync, tempo_bpm=tempo_bpm, keys=keys, cancel=cancel),
            )
        )

    def _estimated(
        self, result: tuple[dict[Content, tuple[Tempo, Key]], dict[Content, str]]
    ) -> None:
        estimates, problems = result
        self.estimates.update(estimates)
        self.problems.update(problems)
        self._estimating = set()
        self.refresh()  # keeps only what is still loaded; estimates any track loaded since

    def cancelled(self) -> None:
        """Esc cancelled the panel's jobs (they are the session's): an estimate under way is
        forgotten (a track change asks for it again), and a fit is not waited for."""
        self._estimating = set()
        self._show()
        self.status.setText("Cancelled: tempo and key are estimated again when a track changes.")

    def _synced(self, result: tuple[Engine, Engine]) -> None:
        source, engine = result
        if self.engine is not source:  # a track or model changed while fitting
            self.apply()  # fit what is there now (this result would drop that change)
            return
        self.on_synced(engine)  # its track changes: the same contents, fitted as asked
        self.status.setText(self._fit_text(engine))
        self.synced.emit(engine)

    @staticmethod
    def _fit_text(engine: Engine) -> str:
        fits = [
            f"{slot} ×{t.alignment.speed:.2f} speed, {t.alignment.semitones:+d} st"
            for slot, t in engine.tracks.items()
            if t is not None and t.alignment is not None
        ]
        notes = [t.note for t in engine.tracks.values() if t is not None and t.alignment and t.note]
        text = "Fitted to A: " + "; ".join(fits) if fits else "Tracks as loaded"
        return ". ".join([text, *notes])

    def _failed(self, message: str) -> None:
        self.status.setText(message)

    def _show(self) -> None:
        loaded = self.loaded()
        for slot in SLOTS:
            content = loaded.get(slot)
            known = content in self.estimates
            for widget in (*self.buttons[slot].values(), self.tempo_fields[slot]):
                widget.setEnabled(known)
            self.key_fields[slot].setEnabled(known)
            if not known:
                words = self.problems.get(content, "")
                self.readouts[slot].setText(f"{slot}: {words or '–'}")
                self.readouts[slot].setToolTip("")
                self.words[slot] = words
                self.described.emit(slot, words)
                continue
            tempo, key = self.current(slot)
            given = " (given)" if content in self.tempo_bpm or content in self.keys else ""
            if not self.tempo_fields[slot].hasFocus():  # never over what is being typed
                self.tempo_fields[slot].setValue(tempo.bpm)
            self.key_fields[slot].setCurrentIndex(12 * key.minor + key.tonic)
            self.readouts[slot].setText(f"{slot}: {self._sureness(content, tempo, key)}")
            self.readouts[slot].setToolTip(
                f"beat clarity {tempo.confidence:.2f}, key fit {key.confidence:.2f} (0 … 1)"
            )
            self.words[slot] = f"{tempo.label} · {key.label}{given}"
            self.described.emit(slot, self.words[slot])

    def _sureness(self, content: Content, tempo: Tempo, key: Key) -> str:
        """How far to trust ``content``'s tempo and key, in a word or two each."""
        if not tempo.found:
            return tempo.label
        beat = "given" if content in self.tempo_bpm else "clear" if tempo.clear else "unclear"
        tonality = "given" if content in self.keys else "clear" if key.clear else "unclear"
        return f"tempo {beat}, key {tonality}"


def _estimate_each(
    engine: Engine, tracks: dict[Content, Track], cancel: CancelToken
) -> tuple[dict[Content, tuple[Tempo, Key]], dict[Content, str]]:
    """The tempo and key of each track (``tracks``: content → track, as they were when the
    job was asked for), and for those that have none, why (one track too short to estimate
    leaves the others' standing). Stops between tracks when ``cancel`` is set (a newer
    request replaces this one)."""
    estimates, problems = {}, {}
    for content, track in tracks.items():
        cancel.raise_if_cancelled()
        try:
            estimates[content] = engine.estimates_of(track)
        except ValueError as error:
            problems[content] = str(error)
    return estimates, problems
