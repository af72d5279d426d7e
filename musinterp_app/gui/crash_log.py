"""Unexpected errors in the window: written to a log file and shown once, never silent.

An exception escaping a Qt slot would otherwise only reach stderr (or kill the
app). The hook appends the traceback to ``<state folder>/musinterp/crash.log``
(``~/.local/state/musinterp`` on Linux) and tells the user once per session,
leaving everything loaded as it was.
"""

import sys
import traceback
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QMessageBox, QWidget


def log_folder() -> Path:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.StateLocation)
    return Path(location or Path.home() / ".musinterp")


class CrashLog:
    def __init__(self, window: QWidget, folder: Path | None = None) -> None:
        self.window = window
        self.path = (folder or log_folder()) / "crash.log"
        self.shown = False
        self.message: QMessageBox | None = None

    def install(self) -> None:
        sys.excepthook = self.handle

    def handle(self, kind, error, trace) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        text = "".join(traceback.format_exception(kind, error, trace))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(f"--- {datetime.now().isoformat(timespec='seconds')}\n{text}\n")
            where = f"The details were written to {self.path}."
        except OSError as failure:
            where = f"The details could not be written to {self.path} ({failure.strerror})."
        print(text, file=sys.stderr)
        if not self.shown:
            self.shown = True
            self.message = QMessageBox(
                QMessageBox.Icon.Critical,
                "musinterp hit an unexpected error",
                f"Something went wrong: {kind.__name__}: {error}\n\n{where}\n\n"
                "Your tracks are still loaded; you can keep working or save and restart.",
                QMessageBox.StandardButton.Ok,
                self.window,
            )
            self.message.open()
