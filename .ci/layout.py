"""Check the window's layout as a user's screen shows it (run under Xvfb: offscreen Qt
measures differently): at SIZE (e.g. 1024x700) with the examples loaded, the side panels shut
and open. Saves NAME-shut.png and NAME-open.png and prints one JSON line of what it measured:
the window's size before and after opening the panels (it must not grow by itself), its
minimum size (it must fit the screen), labels whose text is cut, and whether the colour bars
are drawn. `make layout` runs it at 1024x700, 1366x768 and 1920x1080."""

import json
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel

from musinterp_app.base import resources
from musinterp_app.gui.main_window import MainWindow
from musinterp_app.model.onnx_vae import OnnxVAE


def cut_texts(window) -> list[str]:
    """Visible labels and buttons narrower than their text needs."""
    cut = []
    for widget in window.findChildren(QLabel) + window.findChildren(QAbstractButton):
        if not widget.isVisible() or not widget.text() or widget.width() <= 1:
            continue
        if isinstance(widget, QLabel) and widget.wordWrap():
            continue
        needed = widget.fontMetrics().horizontalAdvance(widget.text().split("\n")[0])
        room = widget.contentsRect().width() - (16 if isinstance(widget, QAbstractButton) else 0)
        if needed > room + 2:
            cut.append(f"{widget.text()[:40]!r} needs {needed} px, has {room}")
    return cut


def bars_drawn(window) -> bool:
    bar = window.colour_scale.bar
    return (
        bar.isVisible()
        and bar.boundingRect().width() > 4
        and bar.mapRectToScene(bar.boundingRect()).right() <= window.blend_view.width() + 1
    )


def main(size: str, name: str) -> int:
    width, height = (int(v) for v in size.split("x"))
    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(OnnxVAE(resources.default_model_dir()), preferences=settings)
    window.autoplay_box.setChecked(False)
    available = app.primaryScreen().availableGeometry()
    window.resize(min(width, available.width()), min(height, available.height()) - 30)
    window.show()
    window.open_examples()
    report = {"screen": size, "available": [available.width(), available.height()]}

    def settle(then) -> None:
        def check() -> None:
            session = window.session
            if session.ready and session.blended_mel is not None and not session.busy:
                timer.stop()
                for _ in range(10):
                    app.processEvents()
                then()

        timer = QTimer(interval=200, timeout=check)
        timer.start()

    def shut_done() -> None:
        report["shut"] = [window.width(), window.height()]
        report["minimum"] = [window.minimumSizeHint().width(), window.minimumSizeHint().height()]
        report["cut_shut"] = cut_texts(window)
        report["bars_shut"] = bars_drawn(window)
        window.grab().save(f"{name}-shut.png")
        for dock in window.docks.values():
            dock.show()
        QTimer.singleShot(1500, open_done)

    def open_done() -> None:
        report["open"] = [window.width(), window.height()]
        report["minimum_open"] = [
            window.minimumSizeHint().width(),
            window.minimumSizeHint().height(),
        ]
        report["cut_open"] = cut_texts(window)
        report["bars_open"] = bars_drawn(window)
        report["grew"] = report["open"][0] > report["shut"][0]
        report["fits"] = report["minimum_open"][0] <= width and report["minimum_open"][1] <= height
        window.grab().save(f"{name}-open.png")
        print(json.dumps(report))
        window.close()
        app.quit()

    settle(shut_done)
    QTimer.singleShot(90_000, app.quit)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
