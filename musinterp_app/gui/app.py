"""Starting the window: ``musinterp [A [B]]``."""

import sys
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from musinterp_app import __version__
from musinterp_app.base import resources
from musinterp_app.engine import PAIR_SLOTS
from musinterp_app.gui.crash_log import CrashLog
from musinterp_app.gui.main_window import NOTE, MainWindow
from musinterp_app.model.onnx_vae import ModelError, OnnxVAE

EXIT_WHEN_SHOWN = "--exit-when-shown"


def remembered_model(folder: str) -> tuple[OnnxVAE | None, str]:
    """The model of the last session (its folder), else the shipped one; and a sentence
    when that was not the one remembered (or when none can be used)."""
    default = resources.default_model_dir()
    note = ""
    if folder and Path(folder) != default:
        try:
            return OnnxVAE(folder), ""
        except ModelError as error:
            name = Path(folder).name
            note = f"The last model (“{name}”) cannot be used, so the shipped one is: {error}"
    try:
        return OnnxVAE(default), note
    except ModelError as error:
        return None, f"The shipped model is unusable: {error}"


def run_gui(args: list[str]) -> int:
    """Open the window, loading up to two files given on the command line."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("musinterp")
    app.setApplicationName("musinterp")
    app.setApplicationVersion(__version__)
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    preferences = QSettings()
    model, note = remembered_model(str(preferences.value("model_folder", "")))
    if model is None:
        QMessageBox.critical(None, "musinterp cannot start", note)
        return 1
    window = MainWindow(model, preferences=preferences)
    CrashLog(window).install()
    window.show()
    if note:
        window.status_text.setText(NOTE + note)
    if EXIT_WHEN_SHOWN in args:  # for measuring start-up time (musinterp bench)
        QTimer.singleShot(0, lambda: (print("shown", flush=True), window.close(), app.quit()))
    files = [arg for arg in args if not arg.startswith("--")]
    for slot, path in zip(PAIR_SLOTS, files[:2], strict=False):
        window.load(slot, path)
    return app.exec()
