"""Starting the window: ``musinterp [A [B]]``."""

import sys

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from musinterp_app import __version__, resources
from musinterp_app.gui.crash_log import CrashLog
from musinterp_app.gui.main_window import MainWindow
from musinterp_app.model.onnx_vae import ModelError, OnnxVAE

EXIT_WHEN_SHOWN = "--exit-when-shown"


def run_gui(args: list[str]) -> int:
    """Open the window, loading up to two files given on the command line."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("musinterp")
    app.setApplicationName("musinterp")
    app.setApplicationVersion(__version__)
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    try:
        model = OnnxVAE(resources.default_model_dir())
    except ModelError as error:
        QMessageBox.critical(
            None, "musinterp cannot start", f"The default model is unusable: {error}"
        )
        return 1
    window = MainWindow(model)
    CrashLog(window).install()
    window.show()
    if EXIT_WHEN_SHOWN in args:  # for measuring start-up time (musinterp bench)
        QTimer.singleShot(0, lambda: (print("shown", flush=True), window.close(), app.quit()))
    files = [arg for arg in args if not arg.startswith("--")]
    for slot, path in zip(("A", "B"), files[:2], strict=False):
        window.load(slot, path)
    return app.exec()
