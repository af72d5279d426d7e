"""A track's panel: drop target, name/duration/rate, overview spectrogram, excerpt region."""

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from musinterp_app.audio.io import FORMAT_NAMES
from musinterp_app.audio.mel import MelConfig
from musinterp_app.engine import Track, overview_config
from musinterp_app.gui.spectrogram import SpectrogramView, region_pen


def _duration_text(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}" if minutes else f"{rest:.1f} s"


class TrackPanel(QFrame):
    """Shows one track; files dropped on it (or chosen with Open…) are asked to be loaded."""

    file_dropped = Signal(str)
    open_requested = Signal()
    excerpt_moved = Signal(float)  # new start in seconds, when the user lets go of the region

    def __init__(self, slot: str, parent=None) -> None:
        super().__init__(parent)
        self.slot = slot
        self.track: Track | None = None
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName(f"track{slot}")

        badge = QLabel(slot)
        badge.setStyleSheet("font-size: 20pt; font-weight: bold; padding: 0 8px;")
        self.title = QLabel("Drop an audio file here")
        self.title.setStyleSheet("font-weight: bold;")
        self.details = QLabel()
        self.details.setStyleSheet("color: #888;")
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip(f"Choose the file for track {slot}")
        self.open_button.clicked.connect(self.open_requested)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.details)
        header = QHBoxLayout()
        header.addWidget(badge)
        header.addLayout(text, 1)
        header.addWidget(self.open_button)

        self.view = SpectrogramView(
            empty_text="Drop an audio file here\nor click Open…\n\n(File → Open examples loads two)"
        )
        self.region = pg.LinearRegionItem(values=(0, 5), movable=True, **region_pen())
        self.region.setZValue(10)
        for line in self.region.lines:  # the excerpt length is set by the duration box
            line.setMovable(False)
        self.region.hide()
        self.region.sigRegionChangeFinished.connect(self._region_moved)
        self.view.addItem(self.region)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        self.show_empty()

    def set_busy(self, message: str) -> None:
        self.details.setText(message)

    def show_empty(self) -> None:
        """No track (yet): say which files can be dropped."""
        self.details.setText(f"{FORMAT_NAMES} (not M4A/AAC: convert those to FLAC first)")
        self.view.show_empty()
        self.region.hide()

    def set_track(self, track: Track, config: MelConfig) -> None:
        """Show ``track`` (analysed with the model's ``config``)."""
        self.track = track
        self.title.setText(track.name)
        self.title.setToolTip(str(track.path))
        info = track.info
        channels = {1: "mono", 2: "stereo"}.get(info.channels, f"{info.channels} channels")
        self.details.setText(
            f"{_duration_text(info.duration_s)} · {info.sample_rate} Hz · {channels} · "
            f"excerpt {track.start_s:.1f}–{track.start_s + track.duration_s:.1f} s"
        )
        self.view.show_mel(
            track.overview, overview_config(config), track.overview_seconds_per_column
        )
        self.view.setXRange(0, max(info.duration_s, 1e-3), padding=0)
        self.region.blockSignals(True)
        self.region.setRegion((track.start_s, track.start_s + track.duration_s))
        self.region.setBounds((0, max(info.duration_s, track.duration_s)))
        self.region.blockSignals(False)
        self.region.show()

    def _region_moved(self) -> None:
        if self.track is not None:
            start, _ = self.region.getRegion()
            if abs(start - self.track.start_s) > 1e-3:
                self.excerpt_moved.emit(max(0.0, float(start)))

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
