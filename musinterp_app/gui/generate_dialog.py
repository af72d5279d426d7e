"""File → Generate…: new music from the model's latent prior, put into slot A or B.

The dialog asks for the length, temperature, seed, prior and slot; the
generation runs on a worker (:meth:`Engine.generate`), is written to a WAV in
``folder`` (temporary name, then rename) and announced with
:attr:`GenerateDialog.generated` ``(slot, path)``, which the window answers by
loading that file into the slot like any other.
"""

import secrets
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from musinterp_app.base import limits
from musinterp_app.engine import GENERATE_TEMPERATURE, PAIR_SLOTS, Engine, export_audio
from musinterp_app.gui.workers import JobPool, Lane
from musinterp_app.model import prior
from musinterp_app.model.onnx_vae import OnnxVAE

PRIOR_TITLES = {
    "ar": "fitted walk (AR)",
    "spectral": "filtered noise (spectral)",
    "white": "independent frames (white)",
}


class GenerateDialog(QDialog):
    """Length, temperature, seed, prior, slot → a generated WAV in ``folder``."""

    generated = Signal(str, str)  # slot, path of the written file

    def __init__(
        self,
        model: OnnxVAE,
        folder: str | Path,
        parent: QWidget | None = None,
        *,
        loaded: dict[str, str] | None = None,
    ) -> None:
        """``loaded``: the name of the file in each slot that holds one: the dialog starts on
        an empty slot, and says what a chosen full slot's track would give way to."""
        super().__init__(parent)
        self.setWindowTitle("Generate")
        self.model = model
        self.folder = Path(folder)
        self.pool = JobPool(1)
        self.lane = Lane(self.pool, self)
        self.lane.finished.connect(self._finished)
        self.lane.failed.connect(self._failed)
        self.lane.progress.connect(lambda done, total: self.progress.setValue(done * 100 // total))

        form = QFormLayout()
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(limits.EXCERPT_S.low, limits.EXCERPT_S.high)
        self.seconds.setValue(10.0)
        self.seconds.setSuffix(" s")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(limits.TEMPERATURE.low, limits.TEMPERATURE.high)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(GENERATE_TEMPERATURE)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)  # a QSpinBox holds a C int; SEED allows more
        self.seed.setValue(secrets.randbelow(2**31))  # new music each time unless chosen
        self.kind = QComboBox()
        for kind in prior.KINDS:
            self.kind.addItem(PRIOR_TITLES[kind], kind)
        self.kind.setCurrentIndex(prior.KINDS.index(prior.DEFAULT_KIND))
        self.slots = QButtonGroup(self)
        slot_row = QHBoxLayout()
        loaded = loaded or {}
        empty = next((slot for slot in PAIR_SLOTS if slot not in loaded), "A")
        for slot in PAIR_SLOTS:
            button = QRadioButton(slot)
            button.setChecked(slot == empty)
            if slot in loaded:  # choosing it replaces that track: said before, not after
                button.setText(f"{slot} (instead of {loaded[slot]})")
            button.setProperty("slot", slot)
            self.slots.addButton(button)
            slot_row.addWidget(button)
        form.addRow("Length", self.seconds)
        form.addRow("Temperature", self.temperature)
        form.addRow("Seed", self.seed)
        form.addRow("Prior", self.kind)
        form.addRow("Into slot", slot_row)
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.generate_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

    @property
    def slot(self) -> str:
        return self.slots.checkedButton().property("slot")

    def generate(self) -> None:
        """Start the generation on the worker (a new request replaces a running one)."""
        seconds, temperature = self.seconds.value(), self.temperature.value()
        seed, kind, slot = self.seed.value(), self.kind.currentData(), self.slot
        engine = Engine(self.model)
        path = self.folder / f"generated-seed{seed}-T{temperature:g}-{kind}-{seconds:g}s.wav"

        def work(cancel, progress):
            audio = engine.generate(
                seconds,
                temperature=temperature,
                seed=seed,
                kind=kind,
                cancel=cancel,
                progress=progress,
            )
            self.folder.mkdir(parents=True, exist_ok=True)
            export_audio(path, audio, engine.config.sample_rate, level="peak")
            return slot, str(path)

        self.generate_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText("Generating…")
        self.lane.submit(work)

    def _finished(self, result: tuple[str, str]) -> None:
        slot, path = result
        self.progress.hide()
        self.generate_button.setEnabled(True)
        self.status.setText(f"Wrote {path}; loading it into {slot}.")
        self.generated.emit(slot, path)
        self.accept()

    def _failed(self, message: str) -> None:
        self.progress.hide()
        self.generate_button.setEnabled(True)
        self.status.setText(f"Could not generate: {message}")

    def done(self, result: int) -> None:
        self.lane.cancel()
        self.pool.shutdown()
        super().done(result)


def open_for(window) -> GenerateDialog:
    """File → Generate… of the main window: a non-modal dialog on its model whose result
    the window loads like a dropped file. Files go to the folder in the window's preferences
    (``generate_folder``), by default the app's data folder."""
    default = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    folder = window.preferences.value("generate_folder") or str(Path(default) / "generated")
    loaded = {slot: t.name for slot, t in window.session.tracks.items() if t is not None}
    dialog = GenerateDialog(window.session.engine.model, folder, parent=window, loaded=loaded)
    dialog.generated.connect(window.load)
    dialog.show()
    return dialog
