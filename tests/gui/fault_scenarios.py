"""The real window in a process of its own, for faults a test cannot survive in-process.

``python fault_scenarios.py SCENARIO TRACK_A TRACK_B TARGET`` loads the two
tracks, then:

- ``device-lost``: plays the blend in a loop and prints ``playing``; the
  parent kills the sound server; prints the message the window shows;
- ``quit-mid-export``: starts rendering and exporting to ``TARGET`` and quits
  through File → Quit as soon as the export reports progress;
- ``read-only-export``: as an ordinary user (root writes anywhere), exports
  to ``TARGET`` and prints the message the window shows;
- ``unreadable-drop``: as an ordinary user, loads ``TARGET`` into A and prints
  the message and which track A holds.

The process exits 0 when the window closed normally. It imports the tests'
helpers (``support.commands.child_env`` puts them on its path).
"""

import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication
from support.commands import become_ordinary_user
from support.window import make_window

from musinterp_app.base import resources
from musinterp_app.bench.window import wait_until
from musinterp_app.gui.main_window import MainWindow
from musinterp_app.model.onnx_vae import OnnxVAE


def shown_message(app: QApplication, window: MainWindow) -> str:
    wait_until(app, lambda: window.last_message is not None)
    return window.last_message.text().replace("\n", " ")


def main(scenario: str, track_a: str, track_b: str, target: str) -> int:
    app = QApplication([])
    window = make_window(
        OnnxVAE(resources.default_model_dir()), Path(tempfile.mkdtemp()) / "settings.ini"
    )
    window.autoplay_box.setChecked(False)
    window.show()
    window.load("A", track_a)
    window.load("B", track_b)
    wait_until(app, lambda: window.session.engine.ready and not window.session.lanes["decode"].busy)

    if scenario == "device-lost":
        window.loop_box.setChecked(True)
        window.session.transport.play_blend()
        wait_until(app, lambda: window.session.transport.player.playing)
        print("playing", flush=True)
        print("message:", shown_message(app, window), flush=True)
        print("play button enabled:", window.buttons["blend"].isEnabled(), flush=True)
        window.close()
    elif scenario == "quit-mid-export":
        window.session.request_render(play=False)
        exporting = []
        window.session.lanes["export"].progress.connect(lambda done, total: exporting.append(done))
        window.export_to(target, morph=True)
        wait_until(app, lambda: exporting)
        print("quitting while exporting", flush=True)
        window.actions["quit"].trigger()
    elif scenario in ("read-only-export", "unreadable-drop"):
        become_ordinary_user()
        if scenario == "read-only-export":
            window.export_to(target)
        else:
            window.panels["A"].file_dropped.emit(target)
        print("message:", shown_message(app, window), flush=True)
        print("track A:", window.session.engine.tracks["A"].name, flush=True)
        window.close()
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    app.processEvents()
    return 0 if not window.isVisible() and window.session.pool.active_jobs() == 0 else 3


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
