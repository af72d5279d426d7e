"""Tools → Listening test…: the blind listening test of :mod:`musinterp_app.listening_test`
in a dialog.

Three pages: who listens and which tracks (building the trials runs on a
worker), one trial at a time (play, six questions on 1–5, Next once all are
answered; every click is saved at once), and the summary table per condition.
The dialog only lays out and forwards: trials, answers and summaries are
the listening test module's.
"""

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from musinterp_app import listening_test as listening
from musinterp_app.audio import io
from musinterp_app.audio import player as playback
from musinterp_app.base import resources
from musinterp_app.gui.workers import JobPool, Lane
from musinterp_app.model.onnx_vae import ModelError, OnnxVAE

AUDIO_FILTER = f"Audio files (*{' *'.join(sorted(io.AUDIO_SUFFIXES))});;All files (*)"
SCORE_WORDS = {1: "1 not at all", 2: "2", 3: "3", 4: "4", 5: "5 completely"}


class ListeningTestDialog(QDialog):
    """The listening test; answers go to ``folder/answers.csv`` as they are given."""

    def __init__(
        self,
        model: OnnxVAE,
        folder: str | Path,
        *,
        tracks: list[str] = (),
        listener: str = "",
        parent: QWidget | None = None,
        seed: int | None = None,
        seconds: float = listening.EXCERPT_S,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Listening test")
        self.model = model
        self.folder = Path(folder)
        self.seed = seed  # of the pairing and the order (None: a new draw each time)
        self.seconds = seconds  # of each excerpt
        self.session: listening.ListeningRun | None = None
        self.player: playback.Player | None = None
        self.pool = JobPool(1)
        self.lane = Lane(self.pool, self)
        self.lane.finished.connect(self._trials_built)
        self.lane.failed.connect(self._build_failed)
        self.lane.progress.connect(lambda done, total: self.progress.setValue(done * 100 // total))

        self.pages = QStackedWidget()
        self.pages.addWidget(self._setup_page(tracks, listener))
        self.pages.addWidget(self._trial_page())
        self.summary_view = QTextBrowser()
        self.pages.addWidget(self.summary_view)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.resize(640, 560)

    # ----- page 1: listener and tracks -------------------------------------------------------
    def _setup_page(self, tracks: list[str], listener: str) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(
            QLabel(
                "Each trial plays a clip made from your tracks: the original, the model's "
                "reconstruction, two kinds of blend or a plain crossfade, in a random order "
                "you are not told. Answer six questions about each. Every answer is saved "
                f"at once in {self.folder / listening.ANSWERS_FILE}."
            )
        )
        layout.itemAt(0).widget().setWordWrap(True)
        self.listener_edit = QLineEdit(listener)
        self.listener_edit.setPlaceholderText("your name")
        form = QHBoxLayout()
        form.addWidget(QLabel("Listener:"))
        form.addWidget(self.listener_edit)
        layout.addLayout(form)
        self.track_list = QListWidget()
        self.track_list.addItems([str(t) for t in tracks])
        layout.addWidget(QLabel("Tracks (at least two):"))
        layout.addWidget(self.track_list)
        add = QPushButton("Add tracks…")
        add.clicked.connect(self._add_tracks)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addStretch()
        buttons.addWidget(self.start_button)
        layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        return page

    def _add_tracks(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Tracks for the test", "", AUDIO_FILTER)
        self.track_list.addItems(paths)

    @property
    def tracks(self) -> list[str]:
        return [self.track_list.item(i).text() for i in range(self.track_list.count())]

    def start(self) -> None:
        """Check the listener and tracks, then build the trials on a worker."""
        if not self.listener_edit.text().strip():
            self.status.setText("Give your name first: several listeners can share a test.")
            return
        if len(self.tracks) < 2:
            self.status.setText("Add at least two tracks: blends need two.")
            return
        tracks, model, seconds = self.tracks, self.model, self.seconds
        rng = np.random.default_rng(self.seed)
        self.start_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText("Preparing the trials…")
        self.lane.submit(
            lambda cancel, progress: listening.build_trials(
                tracks, model, rng=rng, seconds=seconds, cancel=cancel, progress=progress
            )
        )

    def _build_failed(self, message: str) -> None:
        self.progress.hide()
        self.start_button.setEnabled(True)
        self.status.setText(f"Could not prepare the trials: {message}")

    def _trials_built(self, trials: list[listening.Trial]) -> None:
        try:
            log = listening.AnswerLog(self.folder)
        except OSError as error:
            self._build_failed(f"{self.folder} cannot be written: {error.strerror}")
            return
        self.session = listening.ListeningRun(trials, log, self.listener_edit.text())
        self.pages.setCurrentIndex(1)
        self._show_trial()

    # ----- page 2: one trial -----------------------------------------------------------------
    def _trial_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.trial_title = QLabel()
        layout.addWidget(self.trial_title)
        transport = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(self.play)
        stop = QPushButton("Stop")
        stop.clicked.connect(self.stop)
        transport.addWidget(self.play_button)
        transport.addWidget(stop)
        transport.addStretch()
        layout.addLayout(transport)
        grid = QGridLayout()
        self.groups: dict[str, QButtonGroup] = {}
        for row, (key, text) in enumerate(listening.QUESTIONS):
            label = QLabel(text)
            label.setWordWrap(True)
            grid.addWidget(label, row, 0)
            group = QButtonGroup(self)
            for score in listening.SCORES:
                button = QRadioButton(SCORE_WORDS[score])
                group.addButton(button, score)
                grid.addWidget(button, row, score)
            group.idClicked.connect(lambda score, key=key: self.answer(key, score))
            self.groups[key] = group
        layout.addLayout(grid)
        self.next_button = QPushButton("Next")
        self.next_button.clicked.connect(self.next_trial)
        layout.addWidget(self.next_button)
        self.trial_status = QLabel("")
        layout.addWidget(self.trial_status)
        layout.addStretch()
        reason = playback.unavailable_reason()
        if reason:
            self.play_button.setEnabled(False)
            self.play_button.setToolTip(reason)
        return page

    def _show_trial(self) -> None:
        session = self.session
        self.trial_title.setText(
            f"Trial {session.index + 1} of {len(session.trials)} — listener {session.listener}"
        )
        for group in self.groups.values():
            group.setExclusive(False)
            for button in group.buttons():
                button.setChecked(False)
            group.setExclusive(True)
        self.next_button.setEnabled(False)
        self.next_button.setText("Finish" if session.index == len(session.trials) - 1 else "Next")

    def answer(self, question: str, score: int) -> None:
        """Save one answer now (the radio button the listener clicked)."""
        try:
            self.session.answer(question, score)
        except OSError as error:
            self.trial_status.setText(f"The answer could not be saved: {error.strerror}")
            return
        self.trial_status.setText(f"Saved ({len(self.session.answers)} of 6).")
        self.next_button.setEnabled(self.session.complete)

    def next_trial(self) -> None:
        self.stop()
        self.session.next()
        if self.session.finished:
            self.finish()
        else:
            self._show_trial()

    def play(self) -> None:
        if self.player is None:
            self.player = playback.Player(self.model.mel_config.sample_rate)
        try:
            self.player.play(self.player.buffer_of(self.session.trial.audio))
        except RuntimeError as error:
            self.trial_status.setText(f"Cannot play: {error}")

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()

    # ----- page 3: the summary ---------------------------------------------------------------
    def finish(self) -> None:
        """Write and show the summary of every answer in the folder (all listeners)."""
        self.session.log.close()
        path = listening.write_summary(self.folder)
        self.summary_view.setMarkdown(path.read_text())
        self.pages.setCurrentIndex(2)

    def done(self, result: int) -> None:
        if self.player is not None:
            self.player.release()
        self.lane.cancel()
        if self.session is not None:
            self.session.log.close()
        self.pool.shutdown()
        super().done(result)


def run_listening_test(
    tracks: list[str], folder: str, *, listener: str = "", model_dir: str | None = None
) -> int:
    """``musinterp listening-test``: the dialog on its own; the exit status."""
    _app = QApplication.instance() or QApplication(sys.argv[:1])  # kept alive while shown
    try:
        model = OnnxVAE(Path(model_dir) if model_dir else resources.default_model_dir())
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    ListeningTestDialog(model, folder, tracks=tracks, listener=listener).exec()
    return 0


def open_for(window) -> ListeningTestDialog:
    """Tools → Listening test… of the main window: a non-modal dialog on its model, with
    the tracks loaded in A and B already listed. Answers go to the folder in the window's
    preferences (``listening_test_folder``), by default the app's data folder."""
    default = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    folder = window.preferences.value("listening_test_folder") or str(
        Path(default) / "listening-test"
    )
    tracks = [str(track.path) for track in window.session.tracks.values() if track is not None]
    window.session.transport.stop()  # one thing plays at a time: the test's clips from here on
    window.session.transport.player.release()  # and through one stream (some devices take only one)
    dialog = ListeningTestDialog(window.session.engine.model, folder, tracks=tracks, parent=window)
    dialog.show()
    return dialog
