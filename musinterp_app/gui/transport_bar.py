"""The transport row under the controls: ▶ A, ▶ B, ▶ Blend, ■ Stop, Loop, Play on
release, ● Record, volume and the output level: widgets, and :meth:`TransportBar.connect_to`
to hand them to a session."""

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

LEVEL_FLOOR_DB = -60


class TransportBar(QWidget):
    """The play buttons (``buttons``: ``"A"``, ``"B"``, ``"blend"``, ``"stop"``), the
    ``loop_box``, ``autoplay_box`` and ``record_button`` toggles, ``volume_slider``
    (0 … 100) and ``level_meter`` (dBFS), and ``midi_label`` (what MIDI controls)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons = {
            "A": QPushButton("▶ A"),
            "B": QPushButton("▶ B"),
            "blend": QPushButton("▶ Blend"),
            "stop": QPushButton("■ Stop"),
        }
        for name in ("A", "B", "blend"):
            self.buttons[name].setCheckable(True)
        widest = {"A": "■ A", "B": "■ B", "blend": "■ Morph", "stop": "■ Stop"}
        for name, button in self.buttons.items():  # as wide as their words: a style's 80 px
            words = button.fontMetrics().horizontalAdvance(widest[name])  # each made the row
            button.setFixedWidth(words + 28)  # too wide for a small window with side panels
        self.buttons["A"].setToolTip(
            "Play A's excerpt from where the blend plays (key A; again: stop)"
        )
        self.buttons["B"].setToolTip(
            "Play B's excerpt from where the blend plays (key B; again: stop)"
        )
        self.buttons["blend"].setToolTip(
            "Play the blend (Space or N): it follows the slider while it plays"
        )
        self.loop_box = QCheckBox("Loop")
        self.autoplay_box = QCheckBox("Play on release")
        self.autoplay_box.setChecked(True)
        self.autoplay_box.setToolTip("Play the blend as soon as the slider settles")
        self.record_button = QPushButton("● Record", checkable=True)
        self.record_button.setToolTip(
            "Record the slider's moves while the blend plays (R); then File → Export "
            "performance… writes exactly what was heard"
        )
        self.volume_slider = QSlider(Qt.Orientation.Horizontal, maximumWidth=120)
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setValue(100)
        self.volume_slider.setToolTip("Playback volume (exports keep their level)")
        self.level_meter = QProgressBar(
            minimum=LEVEL_FLOOR_DB, maximum=0, textVisible=False, maximumWidth=160
        )
        self.level_meter.setValue(LEVEL_FLOOR_DB)
        self.level_meter.setToolTip(f"Output level ({LEVEL_FLOOR_DB} … 0 dBFS)")
        self.midi_label = QLabel()
        self.midi_label.setToolTip("MIDI: Tools → MIDI learn maps a controller to α")

        self.volume_slider.setMinimumWidth(70)
        self.level_meter.setMinimumWidth(60)
        self.output = QWidget()  # MIDI, volume and level: beside the buttons, or under them
        output_row = QHBoxLayout(self.output)
        output_row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.midi_label, QLabel("Volume"), self.volume_slider, QLabel("Level")):
            output_row.addWidget(widget)
        output_row.addWidget(self.level_meter)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)  # see minimumSizeHint
        self.first_row, self.second_row = QHBoxLayout(), QHBoxLayout()
        for name in ("A", "B", "blend", "stop"):
            self.first_row.addWidget(self.buttons[name])
        for widget in (self.loop_box, self.autoplay_box, self.record_button):
            self.first_row.addWidget(widget)
        self.first_row.addStretch(1)
        self.first_row.addWidget(self.output)
        self.second_row.addStretch(1)
        rows.addLayout(self.first_row)
        rows.addLayout(self.second_row)
        self.compact = False

    def _buttons_width(self) -> int:
        """The first row's minimum width without the output controls."""
        width = self.first_row.minimumSize().width()
        return width if self.compact else width - self.output.minimumSizeHint().width()

    def minimumSizeHint(self) -> QSize:
        """Narrow enough for the output controls under the buttons: the window may be as
        narrow as that; :meth:`resizeEvent` puts them there when there is no room beside."""
        output = self.output.minimumSizeHint()
        height = self.first_row.minimumSize().height()
        if self.compact:
            height += self.first_row.spacing() + output.height()
        return QSize(max(self._buttons_width(), output.width()), height)

    def resizeEvent(self, event) -> None:
        """The output controls beside the buttons when they fit, else on a row of their own."""
        beside = self._buttons_width() + self.output.minimumSizeHint().width() + 16
        compact = event.size().width() < beside
        if compact != self.compact:
            self.compact = compact
            (self.second_row if compact else self.first_row).addWidget(self.output)
            self.updateGeometry()
        super().resizeEvent(event)

    def connect_to(self, session, play: Callable[[str], None]) -> None:
        """Each control to ``session``'s method; a play button calls ``play(name)`` (the
        window decides between starting and stopping)."""
        for name in ("A", "B", "blend"):
            self.buttons[name].clicked.connect(lambda _on, n=name: play(n))
        self.buttons["stop"].clicked.connect(session.transport.stop)
        self.loop_box.toggled.connect(session.transport.set_loop)
        self.autoplay_box.toggled.connect(lambda on: setattr(session, "autoplay", on))
        self.record_button.toggled.connect(session.transport.set_recording)
        self.volume_slider.valueChanged.connect(
            lambda value: session.transport.set_volume(value / 100)
        )

    def show_level(self, db: float) -> None:
        self.level_meter.setValue(max(LEVEL_FLOOR_DB, int(db)))
