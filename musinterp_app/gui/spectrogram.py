"""A log-mel spectrogram plot: time in seconds, frequency in Hz on a mel-spaced axis.

All spectrogram views share one :class:`ColourScale`, so A, B and the blend
can be compared by eye: its range follows the data shown (percentiles of all
views together) until the user drags the colour bar. A difference view has its
own diverging scale in ± dB. Hovering a view reads out time, frequency and level.
"""

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from musinterp_app.audio import mel

COLOUR_MAP = "magma"
CURSOR_COLOUR = "#39ff14"  # the play cursor: green, unlike the magma image and the cyan region
NICE_HZ = [200, 500, 1000, 2000, 5000, 10000]
DIFFERENCE_MAP = "CET-D1"  # diverging: blue quieter, red louder, white the same
DIFFERENCE_DB = 20.0  # the difference view's range: ± this many dB
LEVEL_PERCENTILES = (2.0, 99.7)  # the automatic colour range: what most of the data spans
MIN_RANGE_DB = 20.0
TOP_DB = 40  # the top of the colour bar (mel power, dB)
READOUT_VALUES = 50_000  # values sampled to find the percentiles (fast on any size)
REFIT_DB = 0.5  # the automatic range moves only by more than this (each move repaints all)
PLOT_MARGIN_PX = 1  # pyqtgraph's own margin around a plot


class MelAxis(pg.AxisItem):
    """Left axis labelling mel band rows with their frequency in Hz."""

    def __init__(self) -> None:
        super().__init__("left")
        self.centres_hz = np.zeros(1)
        self.setLabel("frequency", units="")

    def set_config(self, config: mel.MelConfig) -> None:
        self.centres_hz = mel.band_centres_hz(config)
        ticks = []
        for hz in NICE_HZ:
            if self.centres_hz[0] <= hz <= self.centres_hz[-1]:
                row = float(np.interp(hz, self.centres_hz, np.arange(len(self.centres_hz))))
                ticks.append((row, f"{hz // 1000}k" if hz >= 1000 else str(hz)))
        self.setTicks([ticks])


class SpectrogramView(pg.PlotWidget):
    """One spectrogram image with optional excerpt region and play cursor."""

    hovered = Signal(str)  # "1.23 s · 440 Hz · −23 dB" under the mouse ('' when off the image)
    drag_hover = Signal(str)  # drag_source: the mouse came over a view whose sound can be dragged
    drag_started = Signal(str)  # drag_source: the mouse dragged it (see gui.drag_out)

    def __init__(self, title: str = "", parent=None, *, empty_text: str = "") -> None:
        self.mel_axis = MelAxis()
        super().__init__(parent=parent, axisItems={"left": self.mel_axis})
        self.setBackground("#1e1e1e")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("bottom", "time", units="s")
        if title:
            self.setTitle(title, color="#dddddd", size="10pt")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen(CURSOR_COLOUR, width=2))
        self.cursor.setZValue(20)
        self.cursor.hide()
        self.addItem(self.cursor)
        self.empty_text = pg.TextItem(empty_text, color="#9a9a9a", anchor=(0.5, 0.5))
        self.empty_text.setPos(0.5, 0.5)
        self.addItem(self.empty_text)
        self.scale: ColourScale | None = None  # set by the ColourScale this view joins
        self.shown: tuple[np.ndarray, mel.MelConfig, float, bool] | None = None
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.setMinimumHeight(150)
        self.drag_source = ""  # what dragging this view hands over ('' : nothing)
        self._press = None  # where the left button went down, for a drag
        self.show_empty()

    def enterEvent(self, event) -> None:
        if self.drag_source:
            self.drag_hover.emit(self.drag_source)
        super().enterEvent(event)

    def mousePressEvent(self, event) -> None:
        left = event.button() == Qt.MouseButton.LeftButton
        self._press = event.position() if left and self.drag_source else None
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            moved = (event.position() - self._press).manhattanLength()
            if moved >= QApplication.startDragDistance():
                self._press = None
                self.drag_started.emit(self.drag_source)
                return
        super().mouseMoveEvent(event)

    def show_empty(self) -> None:
        """Nothing to show yet: no axes (they would read −400…400), only the inviting text."""
        self.image.clear()
        self.shown = None
        self.cursor.hide()
        plot = self.getPlotItem()
        for side in ("left", "bottom"):
            plot.hideAxis(side)
        # Without the time axis the plot reaches the bottom edge: room for the lower half
        # of a colour bar's last label ("-80 dB"), which is centred on the bar's end.
        label_room = QFontMetrics(self.font()).height() // 2 + PLOT_MARGIN_PX
        plot.layout.setContentsMargins(*(PLOT_MARGIN_PX,) * 3, label_room)
        self.setXRange(0, 1, padding=0)
        self.setYRange(0, 1, padding=0)
        self.empty_text.show()

    def show_mel(
        self,
        image: np.ndarray,
        config: mel.MelConfig,
        seconds_per_column: float,
        *,
        difference: bool = False,
    ) -> None:
        """Draw ``[n_mels, columns]`` (normalised log-mel, or a difference of two when
        ``difference``); each column lasts ``seconds_per_column``."""
        if image.shape[1] == 0 or seconds_per_column <= 0:  # nothing to draw (a tiny file)
            self.show_empty()
            return
        self.empty_text.hide()
        plot = self.getPlotItem()
        for side in ("left", "bottom"):
            plot.showAxis(side)
        plot.layout.setContentsMargins(*(PLOT_MARGIN_PX,) * 4)
        if difference:
            span = DIFFERENCE_DB / config.norm_scale_db
            levels = (-span, span)
        else:
            levels = self.scale.levels() if self.scale else levels_for(config)
        self.image.setImage(image, autoLevels=False, levels=levels)
        self.shown = (image, config, seconds_per_column, difference)
        width_s = image.shape[1] * seconds_per_column
        self.image.setRect(0.0, 0.0, width_s, image.shape[0])
        self.mel_axis.set_config(config)
        self.setXRange(0, max(width_s, 1e-3), padding=0)
        self.setYRange(0, image.shape[0], padding=0)

    def set_cursor(self, seconds: float | None) -> None:
        if seconds is None:
            self.cursor.hide()
        else:
            self.cursor.setValue(seconds)
            self.cursor.show()

    def readout(self, seconds: float, row: float) -> str:
        """Time, frequency and level of the image at (``seconds``, mel ``row``); '' outside."""
        if self.shown is None:
            return ""
        image, config, seconds_per_column, difference = self.shown
        column, band = int(seconds / seconds_per_column), int(row)
        if not (0 <= column < image.shape[1] and 0 <= band < image.shape[0]) or seconds < 0:
            return ""
        hz = mel.band_centres_hz(config)[band]
        value = float(image[band, column]) * config.norm_scale_db
        level = f"{value:+.0f} dB" if difference else f"{value + config.norm_offset_db:.0f} dB"
        return f"{seconds:.2f} s · {hz:.0f} Hz · {level}"

    def _mouse_moved(self, scene_position) -> None:
        point = self.getPlotItem().vb.mapSceneToView(scene_position)
        self.hovered.emit(self.readout(point.x(), point.y()))


class ColourScale(QObject):
    """One colour scale for several views, on one interactive colour bar labelled in dB.

    While ``auto`` the range follows the data (:meth:`fit`); dragging the bar's
    ends sets it by hand and turns ``auto`` off (:attr:`adjusted`).
    """

    adjusted = Signal()  # the user dragged the range

    def __init__(self, bar_view: SpectrogramView, views: list[SpectrogramView], config) -> None:
        super().__init__(bar_view)
        self.config = config
        self.auto = True
        self.bar = pg.ColorBarItem(
            values=levels_for(config), colorMap=COLOUR_MAP, interactive=True, width=12, label=""
        )
        self.bar.setImageItem([view.image for view in views], insert_in=bar_view.getPlotItem())
        for view in views:
            view.scale = self
        self.bar.axis.setTicks([db_ticks(config, 20), db_ticks(config, 10, labelled=False)])
        # Room for its longest label however narrow the view gets (a squeezed bar cut them).
        label_px = QFontMetrics(bar_view.font()).horizontalAdvance(f"{int(config.floor_db)} dB")
        self.bar.axis.setWidth(label_px + 14)
        self.bar.setMinimumWidth(label_px + 14 + 12 + 6)
        bar_view.getPlotItem().layout.setColumnMinimumWidth(5, label_px + 14 + 12 + 6)
        self.bar.sigLevelsChangeFinished.connect(self._dragged)

    def levels(self) -> tuple[float, float]:
        low, high = self.bar.levels()
        return float(low), float(high)

    def set_levels(self, low: float, high: float) -> None:
        self.bar.setLevels(low=low, high=high)

    def fit(self, images: list[np.ndarray]) -> None:
        """While automatic: the range that most of ``images`` (normalised log-mel) span."""
        if self.auto and images:
            levels = data_levels(images, self.config)
            moved = max(abs(a - b) for a, b in zip(levels, self.levels(), strict=True))
            if moved * self.config.norm_scale_db > REFIT_DB:
                self.set_levels(*levels)  # repaints every view: only for a visible change

    def _dragged(self) -> None:
        self.auto = False
        self.adjusted.emit()


def levels_for(config: mel.MelConfig) -> tuple[float, float]:
    """The widest colour range: silence (the floor) to ``TOP_DB`` (mel power in dB, the
    model's scale; loud music reaches +30 dB on it)."""
    return config.floor_normalised, (TOP_DB - config.norm_offset_db) / config.norm_scale_db


def data_levels(images: list[np.ndarray], config: mel.MelConfig) -> tuple[float, float]:
    """Normalised levels between the ``LEVEL_PERCENTILES`` of all ``images`` together, at
    least ``MIN_RANGE_DB`` apart, within :func:`levels_for`."""
    every = max(1, sum(image.size for image in images) // READOUT_VALUES)
    values = np.concatenate([image.ravel()[::every] for image in images])
    low, high = np.percentile(values, LEVEL_PERCENTILES)
    floor, top = levels_for(config)
    span = MIN_RANGE_DB / config.norm_scale_db
    high = float(np.clip(high, floor + span, top))
    return float(np.clip(min(low, high - span), floor, top)), high


def db_ticks(
    config: mel.MelConfig, step_db: int, *, labelled: bool = True
) -> list[tuple[float, str]]:
    """Colour bar ticks every ``step_db`` from ``TOP_DB`` down to the floor: (normalised,
    label). Labels every 20 dB keep apart on a bar as short as the blend view's (every
    10 dB they overlapped)."""
    return [
        ((db - config.norm_offset_db) / config.norm_scale_db, f"{db} dB" if labelled else "")
        for db in range(TOP_DB, int(config.floor_db) - 1, -step_db)
    ]


def add_difference_bar(view: SpectrogramView, config: mel.MelConfig) -> pg.ColorBarItem:
    """The difference view's own bar: ± ``DIFFERENCE_DB`` on a diverging map."""
    span = DIFFERENCE_DB / config.norm_scale_db
    bar = pg.ColorBarItem(
        values=(-span, span), colorMap=DIFFERENCE_MAP, interactive=False, width=12, label=""
    )
    bar.setImageItem(view.image, insert_in=view.getPlotItem())
    step = DIFFERENCE_DB / 2
    bar.axis.setTicks(
        [[(k * step / config.norm_scale_db, f"{k * step:+.0f} dB") for k in (-2, -1, 0, 1, 2)]]
    )
    return bar


def region_pen() -> dict:
    """Looks of the excerpt region: bright edges and no veil, so the colours inside are the
    same as everywhere (a faint veil only while the mouse is over it)."""
    return {
        "brush": pg.mkBrush(0, 0, 0, 0),
        "hoverBrush": pg.mkBrush(127, 219, 255, 40),
        "pen": pg.mkPen("#7fdbff", width=2),
    }
