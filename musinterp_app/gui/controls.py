"""Controls whose keyboard behaviour is predictable: the α slider and number boxes.

- Space is always the transport: a number box being typed in takes what was
  typed and lets Space through to the window's shortcut (a number has no spaces).
- Arrow keys step by a visible amount (``step``), by a fine one with Shift.
- A typed number outside the box's range is said (:attr:`NumberBox.refused`),
  never silently cut to fit (typing 120 in a box that ends at 60 used to give 12).
"""

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QValidator
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QSlider

STEP_KEYS = {
    Qt.Key.Key_Left: -1,
    Qt.Key.Key_Down: -1,
    Qt.Key.Key_Right: 1,
    Qt.Key.Key_Up: 1,
}


def _shift_held() -> bool:
    return bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)


class AlphaSlider(QSlider):
    """A horizontal slider of ``steps`` positions; arrows move by ``step`` (Shift: ``fine``),
    Page Up/Down by a quarter, Home/End to the ends."""

    def __init__(self, steps: int, *, step: int, fine: int, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, steps)
        self.step, self.fine = step, fine
        self.setSingleStep(step)
        self.setPageStep(steps // 4)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        direction = STEP_KEYS.get(Qt.Key(event.key()))
        if direction is None:
            super().keyPressEvent(event)
            return
        fine = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        self.setValue(self.value() + direction * (self.fine if fine else self.step))
        event.accept()


class NumberBox(QDoubleSpinBox):
    """A number box that hands Space to the window, steps finer with Shift and says when a
    typed value is out of range (:attr:`refused` carries the sentence)."""

    refused = Signal(str)

    def __init__(
        self, what: str, *, minimum: float, maximum: float, step: float, fine: float, **options
    ) -> None:
        super().__init__(minimum=minimum, maximum=maximum, singleStep=step, **options)
        self.what, self.step, self.fine = what, step, fine
        self.setKeyboardTracking(False)  # valueChanged on Enter, arrows or leaving, not per key

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Space:
            self.interpretText()  # what was typed counts; Space stays the transport
            event.ignore()
            return False
        return super().event(event)

    def stepBy(self, steps: int) -> None:
        self.setSingleStep(self.fine if _shift_held() else self.step)
        super().stepBy(steps)
        self.setSingleStep(self.step)

    def validate(self, text: str, position: int):
        state, text, position = super().validate(text, position)
        if state == QValidator.State.Invalid:
            value = self._number(text)
            if value is None:
                return state, text, position
            self._refuse(value)
            return QValidator.State.Intermediate, text, position
        return state, text, position

    def fixup(self, text: str) -> str:
        """Enter on an unfinished number: one below the minimum ("0.2" where 1 is the
        least) is not invalid while typing, so it is refused here, with the sentence."""
        value = self._number(text)
        if value is not None and not self.minimum() <= value <= self.maximum():
            self._refuse(value)
        return super().fixup(text)

    def _number(self, text: str) -> float | None:
        number = text.removeprefix(self.prefix()).removesuffix(self.suffix()).strip()
        try:
            return float(number.replace(",", "."))
        except ValueError:
            return None

    def _refuse(self, value: float) -> None:
        unit = self.suffix().strip()
        self.refused.emit(
            f"{self.what}: {value:g}{' ' + unit if unit else ''} is out of range; "
            f"type {self.minimum():g} … {self.maximum():g}{' ' + unit if unit else ''}"
        )
