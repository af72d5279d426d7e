"""Building and driving the real window in tests (Qt, offscreen)."""

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from musinterp_app.audio import player as playback
from musinterp_app.gui.main_window import MainWindow
from musinterp_app.model.onnx_vae import OnnxVAE

LOAD_TIMEOUT_MS = 60_000


def make_window(model: OnnxVAE, settings_file: Path) -> MainWindow:
    """The window with its settings in ``settings_file`` (never the user's own)."""
    return MainWindow(model, preferences=QSettings(str(settings_file), QSettings.Format.IniFormat))


def drop(widget, path) -> None:
    """A real drag-enter and drop of a local file on ``widget``."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(
        point.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(
        point,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def idle(window: MainWindow) -> bool:
    """No background job is running in any lane."""
    return not window.session.busy


def load_both(qtbot, window: MainWindow, paths) -> None:
    """Drop ``paths[0]`` on A and ``paths[1]`` on B and wait for the drawn blend."""
    drop(window.panels["A"], paths[0])
    drop(window.panels["B"], paths[1])
    qtbot.waitUntil(
        lambda: (
            window.session.engine.ready and window.session.blended_mel is not None and idle(window)
        ),
        timeout=LOAD_TIMEOUT_MS,
    )


CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton
needs_audio = pytest.mark.skipif(
    bool(playback.unavailable_reason()),
    reason=f"no audio output here: {playback.unavailable_reason()}",
)


def make_shown_window(qtbot, model: OnnxVAE, settings_file: Path) -> MainWindow:
    """The window, shown, with settings in ``settings_file`` and *Play on release* off."""
    win = make_window(model, settings_file)
    win.autoplay_box.setChecked(False)
    qtbot.addWidget(win)
    win.show()
    return win


def settle(qtbot, window: MainWindow) -> None:
    """Wait until no job runs in any lane."""
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)


def type_into(qtbot, box, text: str, key=Qt.Key.Key_Return) -> None:
    """Click a number box, replace its text by typing ``text``, then press ``key``."""
    qtbot.mouseClick(box.lineEdit(), LEFT)
    qtbot.keyClick(box, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, key)


def point_at(view, seconds: float):
    """The widget position of ``seconds`` (half-way up) in a spectrogram view."""
    scene = view.getPlotItem().vb.mapViewToScene(QPointF(seconds, 64))
    return view.mapFromScene(scene)
