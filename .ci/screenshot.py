"""Open the real window, save a PNG of it empty (``NAME-empty.png``), then with the two
example clips once the blend is drawn (``NAME.png``): `make screenshot` runs this under Xvfb."""

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from musinterp_app.base import resources
from musinterp_app.gui.main_window import MainWindow
from musinterp_app.model.onnx_vae import OnnxVAE


def main(path: str) -> int:
    app = QApplication(sys.argv[:1])
    settings_file = Path(tempfile.mkdtemp()) / "settings.ini"  # never a remembered session
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    window = MainWindow(OnnxVAE(resources.default_model_dir()), preferences=settings)
    window.autoplay_box.setChecked(False)
    window.resize(1280, 860)
    window.show()
    for _ in range(20):
        app.processEvents()
    empty = Path(path).with_name(Path(path).stem + "-empty.png")
    window.grab().save(str(empty))
    print(f"saved {empty}")
    window.open_examples()
    window.slider.setValue(350)

    def check() -> None:
        session = window.session
        if session.ready and session.blended_mel is not None and not session.busy:
            app.processEvents()
            window.grab().save(path)
            print(f"saved {path}")
            app.quit()

    timer = QTimer(interval=200, timeout=check)
    timer.start()
    QTimer.singleShot(60_000, app.quit)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "screenshot.png"))
