"""The blend's controls under the spectrograms: the α slider and its number box, then the
options (interpolation, morph over time, keep detail, excerpt length). Widgets only: the
window connects them to its session."""

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from musinterp_app import engine
from musinterp_app.base import limits
from musinterp_app.gui.controls import AlphaSlider, NumberBox


class BlendControls(QWidget):
    """``slider`` (0 … ``slider_steps``) and ``alpha_box`` (0 … 1), ``mode_box`` (its items'
    data: "lerp", "slerp"), ``morph_box``, ``detail_box`` and ``excerpt_box`` (seconds).
    ``step`` and ``fine``: α's arrow-key steps, without and with Shift."""

    def __init__(
        self, slider_steps: int, step: float, fine: float, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.slider = AlphaSlider(
            slider_steps, step=round(step * slider_steps), fine=round(fine * slider_steps)
        )
        self.slider.setValue(slider_steps // 2)
        self.slider.setToolTip(
            f"Blend from A (left) to B (right); arrow keys ± {step:g}, with Shift ± {fine:g}"
        )
        self.alpha_box = NumberBox("α", minimum=0.0, maximum=1.0, step=step, fine=fine, decimals=2)
        self.alpha_box.setValue(0.5)
        self.alpha_box.setToolTip("α: 0 is all A, 1 is all B")
        self.mode_box = QComboBox()
        self.mode_box.addItem("Linear", "lerp")
        self.mode_box.addItem("Spherical", "slerp")
        self.mode_box.setToolTip("How latents are interpolated")
        self.morph_box = QCheckBox("Morph over time")
        self.morph_box.setToolTip(
            "α ramps from A to B across the excerpt: a transition (the slider is not used)"
        )
        self.detail_box = QCheckBox("Keep detail")
        self.detail_box.setChecked(True)
        self.detail_box.setToolTip(
            "Add back what the model misses of each track, weighted by "
            "its share: α = 0 and 1 give the originals exactly"
        )
        self.excerpt_box = NumberBox(
            "Excerpt",
            minimum=engine.MIN_EXCERPT_S,
            maximum=limits.MAX_EXCERPT_S,
            step=0.5,
            fine=0.1,
            decimals=1,
            suffix=" s",
        )
        self.excerpt_box.setValue(engine.DEFAULT_EXCERPT_S)
        self.excerpt_box.setToolTip(
            "Length of the excerpts that are blended (each is at most its whole track)"
        )

        alpha_row = QGridLayout()
        for column, widget in enumerate(
            (QLabel("A"), self.slider, QLabel("B"), QLabel("α"), self.alpha_box)
        ):
            alpha_row.addWidget(widget, 0, column)
        options = QHBoxLayout()
        for widget in (
            QLabel("Interpolation:"),
            self.mode_box,
            self.morph_box,
            self.detail_box,
            QLabel("Excerpt:"),
            self.excerpt_box,
        ):
            options.addWidget(widget)
        options.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(alpha_row)
        layout.addLayout(options)
