"""Open the real window with the two example clips, wait until the blend is drawn,
and save a PNG of it: `make screenshot` runs this under Xvfb."""

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from musinterp_app import resources
from musinterp_app.gui.main_window import MainWindow
from musinterp_app.model.onnx_vae import OnnxVAE


def main(path: str) -> int:
    app = QApplication(sys.argv[:1])
    app.setOrganizationName("musinterp-screenshot")
    window = MainWindow(OnnxVAE(resources.default_model_dir()))
    window.autoplay_box.setChecked(False)
    window.resize(1280, 860)
    window.show()
    window.open_examples()
    window.slider.setValue(350)

    def check() -> None:
        if (
            window.session.engine.ready
            and window.session.blended_mel is not None
            and not any(lane.busy for lane in window.session.lanes.values())
        ):
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
    sys.exit(main(sys.argv[1]))
