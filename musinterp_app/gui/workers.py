"""Background jobs for the window: "latest wins" per lane, results tagged by request.

Each kind of work (loading A, loading B, decoding the blend, rendering audio,
exporting) has its own lane. Submitting to a lane cancels the job running
there (through its :class:`CancelToken`) and drops any result it still
produces: only the newest request's result reaches the UI thread. Jobs run
on a ``QThreadPool``; their signals are delivered on the UI thread.
"""

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from musinterp_app.audio.cancel import Cancelled, CancelToken


class _Signals(QObject):
    """Only plain values cross threads; the result stays on the job until the UI takes it."""

    progress = Signal(int, int, int)  # request id, done, total
    finished = Signal(int)  # request id (the result is the job's `result`)
    failed = Signal(int, str)  # request id, message for the user
    done = Signal(int)  # request id, once run() has returned (in every case)


class _Job(QRunnable):
    """Runs ``work(cancel, progress)`` off the UI thread and reports back by signals."""

    def __init__(self, request_id: int, work: Callable, cancel: CancelToken) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns the job (see Lane._jobs), not the pool
        self.request_id = request_id
        self.work = work
        self.cancel = cancel
        self.result: Any = None
        self.signals = _Signals()

    def run(self) -> None:
        def progress(done: int, total: int) -> None:
            self.signals.progress.emit(self.request_id, done, total)

        try:
            result = self.work(self.cancel, progress)
        except Cancelled:
            pass
        except Exception as error:  # shown to the user, never raised into Qt
            self.signals.failed.emit(self.request_id, str(error) or type(error).__name__)
        else:
            self.result = result
            self.signals.finished.emit(self.request_id)
        finally:
            self.signals.done.emit(self.request_id)


class Lane(QObject):
    """One kind of job: at most one wanted at a time; stale results are dropped."""

    finished = Signal(object)  # the newest request's result
    failed = Signal(str)
    progress = Signal(int, int)

    def __init__(self, pool: QThreadPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.latest = 0
        self._cancel: CancelToken | None = None
        self._jobs: dict[int, _Job] = {}  # running jobs by request id, alive until done
        self.busy = False

    def submit(self, work: Callable[[CancelToken, Callable[[int, int], None]], Any]) -> int:
        """Run ``work(cancel, progress)``; cancels the previous job of this lane."""
        self.cancel()
        self.latest += 1
        self._cancel = CancelToken()
        job = _Job(self.latest, work, self._cancel)
        job.signals.finished.connect(self._on_finished)
        job.signals.failed.connect(self._on_failed)
        job.signals.progress.connect(self._on_progress)
        job.signals.done.connect(self._forget)
        self._jobs[self.latest] = job
        self.busy = True
        self.pool.start(job)
        return self.latest

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
        self.busy = False

    def _forget(self, request_id: int) -> None:
        self._jobs.pop(request_id, None)

    def _on_finished(self, request_id: int) -> None:
        job = self._jobs.get(request_id)
        if request_id == self.latest and job is not None:
            self.busy = False
            self.finished.emit(job.result)

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id == self.latest:
            self.busy = False
            self.failed.emit(message)

    def _on_progress(self, request_id: int, done: int, total: int) -> None:
        if request_id == self.latest:
            self.progress.emit(done, total)
