"""A listener in a child process: the listening-test dialog answering question after
question, printing the count after each answer is reported saved; after ``stop_after``
answers it waits (for the parent to kill it). Run as
``python -m support.listening_child FOLDER TRACK_A TRACK_B STOP_AFTER``."""

import sys
import time

from PySide6.QtWidgets import QApplication

from musinterp_app import listening_test as listening
from musinterp_app.base.resources import default_model_dir
from musinterp_app.gui.listening_test import ListeningTestDialog
from musinterp_app.model.onnx_vae import OnnxVAE


def main() -> None:
    folder, track_a, track_b, stop_after = sys.argv[1:5]
    app = QApplication(sys.argv[:1])
    dialog = ListeningTestDialog(
        OnnxVAE(default_model_dir()),
        folder,
        tracks=[track_a, track_b],
        listener="Kim",
        seed=2,
        seconds=2.0,
    )
    dialog.show()
    dialog.start()
    while dialog.pages.currentIndex() != 1:
        app.processEvents()
        time.sleep(0.02)  # QTest.qWait holds the GIL: the trials' worker crawled (24 s)
    given = 0
    while True:
        for score, (key, _) in enumerate(listening.QUESTIONS, start=given):
            dialog.groups[key].button(1 + score % 5).click()
            given += 1
            print(given, flush=True)
            if given == int(stop_after):
                sys.stdin.readline()  # killed while waiting here
        dialog.next_button.click()


if __name__ == "__main__":
    main()
