"""A log-mel spectrogram plot: time in seconds, frequency in Hz on a mel-spaced axis.

All views share one colour scale (the normalised log-mel range), so A, B
and the blend can be compared by eye; the blend view carries the colour bar.
"""

import numpy as np
import pyqtgraph as pg

from musinterp_app.audio import mel

COLOUR_MAP = "magma"
CURSOR_COLOUR = "#39ff14"  # the play cursor: green, unlike the magma image and the cyan region
NICE_HZ = [200, 500, 1000, 2000, 5000, 10000]


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
        self.setMinimumHeight(150)
        self.show_empty()

    def show_empty(self) -> None:
        """Nothing to show yet: no axes (they would read −400…400), only the inviting text."""
        self.image.clear()
        self.cursor.hide()
        for side in ("left", "bottom"):
            self.getPlotItem().hideAxis(side)
        self.setXRange(0, 1, padding=0)
        self.setYRange(0, 1, padding=0)
        self.empty_text.show()

    def show_mel(self, image: np.ndarray, config: mel.MelConfig, seconds_per_column: float) -> None:
        """Draw ``[n_mels, columns]``; each column lasts ``seconds_per_column``."""
        if image.shape[1] == 0 or seconds_per_column <= 0:  # nothing to draw (a tiny file)
            self.show_empty()
            return
        self.empty_text.hide()
        for side in ("left", "bottom"):
            self.getPlotItem().showAxis(side)
        self.image.setImage(image, autoLevels=False, levels=levels_for(config))
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


def levels_for(config: mel.MelConfig) -> tuple[float, float]:
    """The shared colour range: silence (the floor) to loud (0 dB)."""
    return config.floor_normalised, (0.0 - config.norm_offset_db) / config.norm_scale_db


def add_colour_bar(view: SpectrogramView, images: list[pg.ImageItem], config: mel.MelConfig):
    """One colour bar (in dB) driving every image: the scale they all share."""
    low, high = levels_for(config)
    bar = pg.ColorBarItem(
        values=(low, high), colorMap=COLOUR_MAP, interactive=False, width=12, label=""
    )
    bar.setImageItem(images, insert_in=view.getPlotItem())
    bar.axis.setTicks([[(low, f"{config.floor_db:.0f} dB"), (high, "0 dB")]])
    return bar


def region_pen() -> dict:
    """Looks of the excerpt region: a light veil with bright edges."""
    return {
        "brush": pg.mkBrush(127, 219, 255, 60),
        "hoverBrush": pg.mkBrush(127, 219, 255, 90),
        "pen": pg.mkPen("#7fdbff", width=2),
    }
