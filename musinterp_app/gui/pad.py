"""The four-corner pad: drag the puck to blend A, B, C and D; draw a path to export a morph.

:class:`PadSurface` is the square itself (A top left, B top right, C bottom left,
D bottom right; x to the right, y down). :class:`PadPanel` puts it to work on an
engine: C and D are loaded into the engine's pad slots; while the puck is dragged
the blend is decoded only (throttled, on a lane: ``blended`` carries the log-mel),
on release it is rendered with phases from the four sources (``rendered`` carries
the audio); a drawn path is exported as a morph that follows it over the excerpt,
with its sidecar (``Engine.export``).
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from musinterp_app import sidecar
from musinterp_app.audio import io
from musinterp_app.engine import (
    CORNER_SLOTS,
    DEFAULT_EXCERPT_S,
    BlendSettings,
    Engine,
    ExportOptions,
    PadSettings,
    Track,
    latest_start_s,
    load_track,
    with_excerpt,
)
from musinterp_app.gui.throttle import Throttle
from musinterp_app.gui.workers import Lane

CORNERS = {"A": (0.0, 0.0), "B": (1.0, 0.0), "C": (0.0, 1.0), "D": (1.0, 1.0)}
PUCK_RADIUS_PX = 9
DRAG_INTERVAL_MS = 33  # decode at most ~30 times a second while dragging
KNOB_REST_MS = 300  # a knob that has not moved for this long has come to rest
MIN_PATH_STEP = 0.01  # path points closer than this (in pad units) are not kept


class PadSurface(QWidget):
    """The square pad with its puck (and a drawn path); positions are in 0 … 1."""

    moved = Signal(float, float)  # while the puck is dragged
    released = Signal(float, float)  # where the drag ended
    path_drawn = Signal(object)  # tuple of (x, y) points, when drawing

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.position = (0.5, 0.5)
        self.path: tuple[tuple[float, float], ...] = ()
        self.drawing = False  # dragging draws a path instead of moving the puck
        self.names = dict.fromkeys(CORNERS, "")
        self._stroke: list[tuple[float, float]] = []
        self.setMinimumSize(220, 220)
        self.setMouseTracking(False)
        self.setToolTip("Drag the puck to blend the four corners; release to hear it rendered")

    def set_names(self, names: dict[str, str]) -> None:
        self.names.update(names)
        self.update()

    def square(self) -> QRectF:
        """The pad's square in widget pixels (centred, with room for the corner names)."""
        margin = 22
        side = max(10, min(self.width(), self.height()) - 2 * margin)
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_pad(self, point: QPointF) -> tuple[float, float]:
        area = self.square()
        x = (point.x() - area.left()) / area.width()
        y = (point.y() - area.top()) / area.height()
        return float(np.clip(x, 0, 1)), float(np.clip(y, 0, 1))

    def to_pixels(self, x: float, y: float) -> QPointF:
        area = self.square()
        return QPointF(area.left() + x * area.width(), area.top() + y * area.height())

    def set_position(self, x: float, y: float) -> None:
        self.position = (x, y)
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self.square()
        painter.fillRect(area, QColor("#1e1e1e"))
        painter.setPen(QPen(QColor("#777777"), 1))
        painter.drawRect(area)
        width = area.width() / 2 - 4  # each corner's name keeps to its half: no overlap
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))  # off the square
        for slot, (x, y) in CORNERS.items():
            corner = self.to_pixels(x, y)
            label = self.fontMetrics().elidedText(
                f"{slot} {self.names[slot]}".strip(), Qt.TextElideMode.ElideMiddle, int(width)
            )
            flags = (Qt.AlignmentFlag.AlignLeft if x == 0 else Qt.AlignmentFlag.AlignRight) | (
                Qt.AlignmentFlag.AlignBottom if y == 0 else Qt.AlignmentFlag.AlignTop
            )
            box = QRectF(corner.x() - (0 if x == 0 else width), corner.y() - (20 if y == 0 else 0),
                         width, 20)  # fmt: skip
            painter.drawText(box, int(flags), label)
        points = self._stroke or list(self.path)
        if len(points) > 1:
            line = QPainterPath(self.to_pixels(*points[0]))
            for point in points[1:]:
                line.lineTo(self.to_pixels(*point))
            painter.setPen(QPen(QColor("#00bcd4"), 2))
            painter.drawPath(line)
        painter.setPen(QPen(QColor("#39ff14"), 2))
        painter.setBrush(QColor(57, 255, 20, 90))
        painter.drawEllipse(self.to_pixels(*self.position), PUCK_RADIUS_PX, PUCK_RADIUS_PX)

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.to_pad(event.position())
        if self.drawing:
            self._stroke = [point]
        else:
            self.set_position(*point)
            self.moved.emit(*point)

    def mouseMoveEvent(self, event) -> None:
        if not event.buttons() & Qt.MouseButton.LeftButton:
            return
        point = self.to_pad(event.position())
        if self.drawing:
            last = self._stroke[-1] if self._stroke else None
            if last is None or np.hypot(point[0] - last[0], point[1] - last[1]) >= MIN_PATH_STEP:
                self._stroke.append(point)
                self.update()
        else:
            self.set_position(*point)
            self.moved.emit(*point)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.to_pad(event.position())
        if self.drawing:
            stroke = [*self._stroke, point] if self._stroke[-1:] != [point] else self._stroke
            self._stroke = []
            if len(stroke) > 1:
                self.path = tuple(stroke)
                self.path_drawn.emit(self.path)
            self.update()
        else:
            self.set_position(*point)
            self.released.emit(*point)


class PadPanel(QWidget):
    """The pad at work on an engine (see the module docstring).

    ``current_engine`` returns the engine to use now (its owner may swap it, e.g. on a
    model switch; :attr:`engine` reads it); ``lanes(names, parent)`` makes the pad's
    job lanes (the session's ``new_lanes``, so Esc cancels them too); C and D, once
    loaded, go in through ``set_corner(slot, track)`` (the session's). ``options`` gives
    the window's blend options (interpolation, keep detail, steady level), which the pad
    uses too.
    """

    blended = Signal(object)  # log-mel [n_mels, frames] of the puck's blend (decode only)
    play_live = Signal(object)  # PadSettings: the puck was let go (its blend plays live)
    puck_moved = Signal(float, float)  # x, y: a live pad blend follows
    rendered = Signal(object)  # audio [samples] of the drawn path's morph
    exported = Signal(object)  # Path of the written morph
    failed = Signal(str)
    track_loaded = Signal(str)  # "C" or "D": a corner track is in the engine now

    def __init__(
        self,
        current_engine: Callable[[], Engine],
        lanes: Callable[[tuple[str, ...], QWidget], dict[str, Lane]],
        set_corner: Callable[[str, Track], None],
        options: Callable[[], BlendSettings] = BlendSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._current_engine = current_engine
        self.set_corner = set_corner
        self.options = options
        self.surface = PadSurface(self)
        self.lanes = lanes(("load C", "load D", "decode", "render", "export"), self)
        self.draw_box = QCheckBox("Draw a path", self)
        self.draw_box.setToolTip("Drag on the pad to draw the path a morph will follow")
        self.draw_box.toggled.connect(self._set_drawing)
        self.load_buttons = {
            slot: QPushButton(f"Load {slot}…", self, clicked=lambda _=False, s=slot: self._ask(s))
            for slot in CORNER_SLOTS
        }
        self.start_fields = {slot: self._start_field(slot) for slot in CORNER_SLOTS}
        self.export_button = QPushButton("Export path morph…", self, enabled=False)
        self.export_button.clicked.connect(self._ask_export)
        self.status = QLabel("Load C and D (A and B are the window's tracks)", self)
        self.status.setWordWrap(True)
        self._throttle = Throttle(
            DRAG_INTERVAL_MS, self._decode, busy=lambda: self.lanes["decode"].busy, parent=self
        )
        self.lanes["decode"].finished.connect(self._decoded)
        self.lanes["render"].finished.connect(self.rendered.emit)  # a drawn path's morph
        self.lanes["export"].finished.connect(self._exported)
        for slot in CORNER_SLOTS:
            self.lanes[f"load {slot}"].finished.connect(
                lambda track, s=slot: self._loaded(s, track)
            )
        for lane in self.lanes.values():
            lane.failed.connect(self._failed)
        self.surface.moved.connect(self._moved)
        self.surface.released.connect(self._released)
        self.surface.path_drawn.connect(lambda _path: self._render_path())
        # A knob (MIDI) moving the puck: decoded as it moves, played once it rests.
        self._knob_rest = Throttle(KNOB_REST_MS, self._released, leading=False, parent=self)
        self.surface.path_drawn.connect(lambda _path: self.refresh())

        buttons = QGridLayout()  # C's and D's rows, then the export: narrow enough for a dock
        for row, slot in enumerate(CORNER_SLOTS):
            buttons.addWidget(self.load_buttons[slot], row, 0)
            buttons.addWidget(self.start_fields[slot], row, 1)
        buttons.addWidget(self.export_button, 2, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.surface, 1)
        layout.addWidget(self.draw_box)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.refresh()

    @property
    def engine(self) -> Engine:
        """The engine to use now (its owner may have swapped it since the last call)."""
        return self._current_engine()

    @property
    def ready(self) -> bool:
        return all(self.engine.tracks[slot] is not None for slot in CORNERS)

    def settings(self, *, path: bool = False) -> PadSettings:
        x, y = self.surface.position
        options = self.options()
        return PadSettings(
            x=x,
            y=y,
            path=self.surface.path if path else (),
            mode=options.mode,
            keep_detail=options.keep_detail,
            steady_level=options.steady_level,
        )

    def _start_field(self, slot: str) -> QDoubleSpinBox:
        """Where corner ``slot``'s excerpt starts in its file (seconds), as A's and B's can."""
        field = QDoubleSpinBox(
            self, decimals=1, suffix=" s", prefix="from ", keyboardTracking=False, enabled=False
        )
        field.setRange(0.0, 0.0)
        field.setToolTip(f"where {slot}'s excerpt starts in its file")
        field.editingFinished.connect(lambda s=slot: self._move_excerpt(s, field.value()))
        return field

    def load(
        self, slot: str, path: str | Path, *, start_s: float = 0.0, excerpt_s: float | None = None
    ) -> None:
        """Load a file into corner C or D from ``start_s`` (in the background), as long as the
        other tracks' excerpts (or ``excerpt_s``); A and B are the window's."""
        engine = self.engine
        model = engine.model
        excerpt_s = excerpt_s or next(
            (t.excerpt_s for t in engine.tracks.values() if t is not None),
            DEFAULT_EXCERPT_S,
        )
        self.status.setText(f"Loading {Path(path).name} into {slot}…")
        options = {"start_s": start_s, "excerpt_s": excerpt_s, "overview": False}

        def work(cancel, _progress):
            return model, load_track(path, model, cancel=cancel, **options)

        self.lanes[f"load {slot}"].submit(work)

    def _move_excerpt(self, slot: str, start_s: float) -> None:
        """Analyse another excerpt of corner ``slot``'s file."""
        engine = self.engine
        track, model = engine.tracks[slot], engine.model
        if track is None or abs(track.start_s - start_s) < 0.05:
            return
        self.status.setText(f"Analysing the new excerpt of {slot}…")
        self.lanes[f"load {slot}"].submit(
            lambda cancel, progress: (
                model,
                with_excerpt(
                    track, model, start_s=start_s, excerpt_s=track.excerpt_s, cancel=cancel
                ),
            )
        )

    def _loaded(self, slot: str, result: tuple) -> None:
        model, track = result
        if self.engine.model is not model:  # the model changed meanwhile: encoded for
            self.status.setText(f"{track.name} was loaded for another model; load it again.")
            return  # the old one, so it cannot be blended with the new one's latents
        self.set_corner(slot, track)
        self.refresh()
        self.track_loaded.emit(slot)

    def cancelled(self) -> None:
        """Esc cancelled the pad's jobs (they are the session's): nothing waits to start
        either (a knob's rest, a throttled decode); show where things are."""
        self._throttle.cancel()
        self._knob_rest.cancel()
        self.refresh()

    def refresh(self) -> None:
        """Show the corners' names and what is missing (after any track changed)."""
        tracks = self.engine.tracks
        self.surface.set_names({s: t.name if t else "" for s, t in tracks.items() if s in CORNERS})
        for slot, field in self.start_fields.items():
            track = tracks[slot]
            field.setEnabled(track is not None)
            if track is not None:
                field.setRange(0.0, latest_start_s(track.info))
                field.setValue(track.start_s)
        missing = [slot for slot in CORNERS if tracks[slot] is None]
        self.export_button.setEnabled(not missing and len(self.surface.path) > 1)
        self.status.setText(
            f"Load {', '.join(missing)} to use the pad" if missing else "Drag the puck to blend"
        )

    def move_puck(self, *, x: float | None = None, y: float | None = None) -> None:
        """Move the puck (from a MIDI knob): ``x`` and/or ``y`` in 0 … 1."""
        old_x, old_y = self.surface.position
        self.surface.set_position(old_x if x is None else x, old_y if y is None else y)
        self._moved(*self.surface.position)
        self._knob_rest.call()

    def _moved(self, x: float, y: float) -> None:
        self._throttle.call()
        self.puck_moved.emit(x, y)

    def _set_drawing(self, drawing: bool) -> None:
        self.surface.drawing = drawing

    def _decode(self) -> None:
        if not self.ready:
            return
        engine, settings = self.engine, self.settings()
        self.lanes["decode"].submit(lambda cancel, progress: engine.blend_mel(settings))

    def _decoded(self, log_mel: np.ndarray) -> None:
        self.blended.emit(log_mel)
        self._throttle.ready()

    def _released(self, *_position: float) -> None:
        """The puck was let go (or a knob rested): decode where it is, and play it live."""
        self._throttle.cancel()
        if self.ready:
            self._decode()
            self.play_live.emit(self.settings())

    def _render_path(self) -> None:
        """A path was drawn: render the morph along it, to play (before any export)."""
        if not self.ready:
            return
        engine, settings = self.engine, self.settings(path=True)
        self.lanes["render"].submit(
            lambda cancel, progress: engine.render(settings, cancel=cancel, progress=progress)
        )

    def export_to(self, path: str | Path, options: ExportOptions | None = None) -> None:
        """Export the morph along the drawn path (and its sidecar), in the background."""
        engine, settings = self.engine, self.settings(path=True)
        options = options or ExportOptions()
        self.status.setText(f"Exporting {Path(path).name}…")
        self.lanes["export"].submit(
            lambda cancel, progress: engine.export(
                path, settings, options, cancel=cancel, progress=progress
            )
        )

    def _exported(self, path: Path) -> None:
        self.status.setText(f"Exported {path.name} (and {sidecar.path_for(path).name})")
        self.exported.emit(path)

    def _failed(self, message: str) -> None:
        self.status.setText(message)
        self.failed.emit(message)

    def _ask(self, slot: str) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            f"Load track {slot}",
            "",
            f"Audio ({' '.join('*' + s for s in io.AUDIO_SUFFIXES)})",
        )
        if path:
            self.load(slot, path)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export path morph", "", "WAV (*.wav)")
        if path:
            self.export_to(path if Path(path).suffix else path + ".wav")
