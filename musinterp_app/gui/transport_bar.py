"""The transport row under the controls: ▶ A, ▶ B, ▶ Blend, ■ Stop, Loop, Play on
release, ● Record, volume and the output level: widgets, and :meth:`TransportBar.connect_to`
to hand them to a session."""

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
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

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for name in ("A", "B", "blend", "stop"):
            row.addWidget(self.buttons[name])
        for widget in (self.loop_box, self.autoplay_box, self.record_button):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.midi_label)
        row.addWidget(QLabel("Volume"))
        row.addWidget(self.volume_slider)
        row.addWidget(QLabel("Level"))
        row.addWidget(self.level_meter)

    def connect_to(self, session, play: Callable[[str], None]) -> None:
        """Each control to ``session``'s method; a play button calls ``play(name)`` (the
        window decides between starting and stopping)."""
        for name in ("A", "B", "blend"):
            self.buttons[name].clicked.connect(lambda _on, n=name: play(n))
        self.buttons["stop"].clicked.connect(session.stop)
        self.loop_box.toggled.connect(session.set_loop)
        self.autoplay_box.toggled.connect(lambda on: setattr(session, "autoplay", on))
        self.record_button.toggled.connect(session.set_recording)
        self.volume_slider.valueChanged.connect(lambda value: session.set_volume(value / 100))

    def show_level(self, db: float) -> None:
        self.level_meter.setValue(max(LEVEL_FLOOR_DB, int(db)))
