"""A track's panel: drop target, name/duration/rate, overview spectrogram, excerpt region.

Choosing an excerpt: the overview zooms with the wheel and pans with a drag; a
click puts the excerpt there (centred on the click), the region can be dragged,
and the start can be typed. A level strip under the overview shows the loudness
of the whole track; a double-click plays the track from there.
"""

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from musinterp_app.audio import levels
from musinterp_app.audio.io import FORMAT_NAMES
from musinterp_app.audio.mel import MelConfig
from musinterp_app.base import limits
from musinterp_app.engine import Track, overview_config
from musinterp_app.gui.controls import NumberBox
from musinterp_app.gui.spectrogram import SpectrogramView, region_pen

MIN_ZOOM_S = 1.0  # the narrowest the overview zooms to
STRIP_FLOOR_DB = -60.0  # the level strip's bottom, below the loudest column


def _duration_text(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}" if minutes else f"{rest:.1f} s"


class TrackPanel(QFrame):
    """Shows one track; files dropped on it (or chosen with Open…) are asked to be loaded."""

    file_dropped = Signal(str)
    open_requested = Signal()
    excerpt_moved = Signal(float)  # new start in seconds (region let go, click, typed start)
    play_from = Signal(float)  # seconds into the whole track (double-click)

    def __init__(self, slot: str, parent=None) -> None:
        super().__init__(parent)
        self.slot = slot
        self.track: Track | None = None
        self.blended: tuple[float, str] | None = None  # see set_blended
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName(f"track{slot}")

        badge = QLabel(slot)
        badge.setStyleSheet("font-size: 20pt; font-weight: bold; padding: 0 8px;")
        self.title = QLabel("Drop an audio file here")
        self.title.setStyleSheet("font-weight: bold;")
        self.details = QLabel()
        self.details.setStyleSheet("color: #888;")
        # Long file names and the list of formats wrap rather than widen the window
        # (it was 1422 px at least, wider than a 1366-px laptop screen).
        for label in (self.title, self.details):
            label.setWordWrap(True)
        self.tempo_key = QLabel()  # "121.0 BPM · D minor", from the window's tempo and key
        self.tempo_key.setStyleSheet("color: #888;")
        self.start_box = NumberBox(
            f"{slot}'s start",
            minimum=0.0,
            maximum=limits.MAX_START_S,
            step=1.0,
            fine=0.1,
            decimals=1,
            suffix=" s",
        )
        self.start_box.setToolTip(f"Where {slot}'s excerpt starts in the track")
        self.start_box.setEnabled(False)
        self.start_box.valueChanged.connect(self._start_typed)
        self.open_button = QPushButton("Open…")
        self.open_button.setFixedWidth(
            self.open_button.fontMetrics().horizontalAdvance("Open…") + 28
        )
        self.open_button.setToolTip(f"Choose the file for track {slot}")
        self.open_button.clicked.connect(self.open_requested)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.details)
        text.addWidget(self.tempo_key)
        header = QHBoxLayout()
        header.addWidget(badge)
        header.addLayout(text, 1)
        header.addWidget(QLabel("Start"))
        header.addWidget(self.start_box)
        header.addWidget(self.open_button)

        self.view = SpectrogramView(
            empty_text="Drop an audio file here\nor click Open…\n\n(File → Open examples loads two)"
        )
        self.view.setLabel("bottom", "")  # seconds in the ticks: the label's room went to
        # the image (in a small window the label was cut by the strip under it)
        self.view.setToolTip(
            "Click: put the excerpt here · drag the excerpt to move it · double-click: play "
            "from here · wheel: zoom · drag elsewhere: pan"
        )
        self.region = pg.LinearRegionItem(values=(0, 5), movable=True, **region_pen())
        self.region.setZValue(10)
        for line in self.region.lines:  # the excerpt length is set by the duration box
            line.setMovable(False)
        self.region.hide()
        self.region.sigRegionChanged.connect(self._region_dragged)
        self.region.sigRegionChangeFinished.connect(self._region_moved)
        self.view.addItem(self.region)
        self.view.scene().sigMouseClicked.connect(self._clicked)

        self.strip, self.level_curve = self._loudness_strip()

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.strip)
        self.show_empty()

    def _loudness_strip(self) -> tuple[pg.PlotWidget, pg.PlotDataItem]:
        """The strip under the view: the whole track's loudness, on the view's time axis."""
        strip = pg.PlotWidget(background="#1e1e1e")
        strip.setMaximumHeight(36)
        strip.hideAxis("bottom")
        strip.getAxis("left").setWidth(self.view.getAxis("left").width())
        strip.getAxis("left").setTicks([[]])
        strip.setMouseEnabled(x=False, y=False)
        strip.setMenuEnabled(False)
        strip.hideButtons()
        strip.setXLink(self.view)
        curve = strip.plot(
            pen=pg.mkPen("#9a9a9a"), fillLevel=STRIP_FLOOR_DB, brush=(150, 150, 150, 90)
        )
        strip.setToolTip("Loudness of the whole track")
        return strip, curve

    def set_busy(self, message: str) -> None:
        self.details.setText(message)

    def show_empty(self) -> None:
        """No track (yet): say which files can be dropped."""
        self.track = None
        self.details.setText(f"{FORMAT_NAMES} (not M4A/AAC: convert those to FLAC first)")
        self.view.show_empty()
        self.view.setMouseEnabled(x=False, y=False)
        self.region.hide()
        self.level_curve.setData([], [])
        self.strip.hide()
        self.start_box.setEnabled(False)

    def set_track(self, track: Track, config: MelConfig) -> None:
        """Show ``track`` (analysed with the model's ``config``); a zoom into the same file
        is kept when only its excerpt changed."""
        same_file = self.track is not None and self.track.path == track.path
        zoom = self.view.viewRange()[0] if same_file else None
        self.track = track
        self.title.setText(track.name)
        self.title.setToolTip(str(track.path))
        self._show_details(track.start_s)
        length_s = max(track.info.duration_s, 1e-3)
        coarse = overview_config(config)
        self.view.show_mel(track.overview, coarse, track.overview_seconds_per_column)
        self.view.setMouseEnabled(x=True, y=False)
        self.view.setLimits(xMin=0, xMax=length_s, minXRange=min(MIN_ZOOM_S, length_s))
        self.view.setXRange(*(zoom or (0, length_s)), padding=0)
        self.region.blockSignals(True)
        self.region.setRegion((track.start_s, track.start_s + track.excerpt_s))
        self.region.setBounds((0, max(track.info.duration_s, track.excerpt_s)))
        self.region.blockSignals(False)
        self.region.show()
        self.start_box.blockSignals(True)
        self.start_box.setMaximum(max(0.0, track.info.duration_s - track.excerpt_s))
        self.start_box.setValue(track.start_s)
        self.start_box.blockSignals(False)
        self.start_box.setEnabled(True)
        columns = track.overview.shape[1]
        if columns:
            times = (np.arange(columns) + 0.5) * track.overview_seconds_per_column
            loudness_db = levels.frame_loudness_db(track.overview, coarse)  # per column
            floor_db = loudness_db.max() + STRIP_FLOOR_DB
            self.level_curve.setData(times, np.maximum(loudness_db, floor_db))
            self.level_curve.setFillLevel(floor_db)
            self.strip.show()

    def set_blended(self, seconds: float | None, shorter: str = "") -> None:
        """The blend uses only the first ``seconds`` of this excerpt, because track
        ``shorter`` is shorter (None: all of it); the header says so."""
        self.blended = None if seconds is None else (seconds, shorter)
        if self.track is not None:
            self._show_details(self.track.start_s)

    def _show_details(self, start_s: float) -> None:
        track = self.track
        info = track.info
        channels = {1: "mono", 2: "stereo"}.get(info.channels, f"{info.channels} channels")
        blended = ""
        if self.blended is not None:
            seconds, shorter = self.blended
            blended = f" · blended {start_s:.1f}–{start_s + seconds:.1f} s ({shorter} is shorter)"
        self.details.setText(
            f"{_duration_text(info.duration_s)} · {info.sample_rate} Hz · {channels} · "
            f"excerpt {start_s:.1f}–{start_s + track.excerpt_s:.1f} s"
            + (" (fitted to the file)" if track.note else "")
            + blended
        )
        self.details.setToolTip(track.note)

    def _region_dragged(self) -> None:
        """The header follows the region while it is dragged."""
        if self.track is not None:
            self._show_details(max(0.0, float(self.region.getRegion()[0])))

    def _region_moved(self) -> None:
        if self.track is not None:
            start, _ = self.region.getRegion()
            if abs(start - self.track.start_s) > 1e-3:
                self.excerpt_moved.emit(max(0.0, float(start)))

    def _start_typed(self, start_s: float) -> None:
        if self.track is not None and abs(start_s - self.track.start_s) > 1e-3:
            self.excerpt_moved.emit(start_s)

    def _clicked(self, event) -> None:
        """A click outside the excerpt puts it there (centred); a double-click plays."""
        if self.track is None or event.button() != Qt.MouseButton.LeftButton:
            return
        seconds = self.view.getPlotItem().vb.mapSceneToView(event.scenePos()).x()
        if not 0 <= seconds < self.track.info.duration_s:  # at the very end: nothing to play
            return
        if event.double():
            self.play_from.emit(float(seconds))
            return
        start, stop = self.region.getRegion()
        if not start <= seconds <= stop:
            latest = max(0.0, self.track.info.duration_s - self.track.excerpt_s)
            self.place_excerpt(float(np.clip(seconds - self.track.excerpt_s / 2, 0, latest)))

    def place_excerpt(self, start_s: float) -> None:
        """Move the region to ``start_s`` and ask for that excerpt."""
        self.region.setRegion((start_s, start_s + self.track.excerpt_s))  # emits _region_moved

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.setStyleSheet(f"QFrame#track{self.slot} {{ border: 2px solid #7fdbff; }}")

    def dragLeaveEvent(self, event) -> None:
        self.setStyleSheet("")

    def dropEvent(self, event: QDropEvent) -> None:
        self.setStyleSheet("")
        urls = [url for url in event.mimeData().urls() if url.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.file_dropped.emit(urls[0].toLocalFile())
