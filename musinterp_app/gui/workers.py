"""Background jobs for the window: "latest wins" per lane, results tagged by request.

Each kind of work (loading A, loading B, decoding the blend, rendering audio,
exporting) has its own lane. Submitting to a lane cancels the job running
there (through its :class:`CancelToken`) and drops any result it still
produces: only the newest request's result reaches the UI thread.

Jobs run on a plain Python thread pool; only plain values cross threads in
Qt signals (request ids, numbers, messages), which Qt queues to the UI
thread. Results wait in the lane until the UI thread takes them, and are
dropped there when stale, so nothing outlives its request.
"""

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

from musinterp_app.audio.cancel import Cancelled, CancelToken, Progress

Work = Callable[[CancelToken, Progress], Any]

# Jobs yield the cores to the window and to live playback's render thread: with the jobs at
# normal priority, the spectrogram's decodes while the slider moved starved the live renderer
# (12 dropouts in 60 s of motion; see live.dropouts_60s in docs/benchmark.md).
JOB_NICENESS = 10


def _lower_priority() -> None:
    """Run this worker thread at ``JOB_NICENESS`` (Linux sets niceness per thread; elsewhere
    the jobs keep the normal priority)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOB_NICENESS)


class JobPool:
    """The threads the window's jobs run on."""

    def __init__(self, max_workers: int = 4) -> None:
        self.max_workers = max_workers
        self._executor = ThreadPoolExecutor(
            max_workers, thread_name_prefix="musinterp-job", initializer=_lower_priority
        )
        self._running: set[Future] = set()
        self._lock = threading.Lock()

    def start(self, function: Callable[[], None]) -> None:
        future = self._executor.submit(function)
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: Future) -> None:
        with self._lock:
            self._running.discard(future)

    def active_jobs(self) -> int:
        with self._lock:
            return len(self._running)

    def wait_for_done(self, timeout_s: float) -> bool:
        """Wait until no job runs (at most ``timeout_s``); True when all finished."""
        with self._lock:
            running = list(self._running)
        for future in running:
            with contextlib.suppress(Exception):  # the lane reports job errors; here we wait
                future.result(timeout=timeout_s)
        return self.active_jobs() == 0

    def shutdown(self) -> None:
        """Let running jobs end (they were cancelled) and stop the threads."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class Lane(QObject):
    """One kind of job: at most one wanted at a time; stale results are dropped."""

    finished = Signal(object)  # the newest request's result
    failed = Signal(str)
    progress = Signal(int, int)
    _succeeded = Signal(int)  # request id (emitted on a worker thread, queued to the UI)
    _errored = Signal(int, str)
    _stepped = Signal(int, int, int)

    def __init__(self, pool: JobPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.latest = 0
        self.busy = False
        self._cancel: CancelToken | None = None
        self._results: dict[int, Any] = {}
        self._succeeded.connect(self._on_succeeded)
        self._errored.connect(self._on_errored)
        self._stepped.connect(self._on_stepped)

    def submit(self, work: Work) -> int:
        """Run ``work(cancel, progress)`` in the background; cancels this lane's previous job."""
        self.cancel()
        request_id, token = self.latest, CancelToken()
        self._cancel = token
        self.busy = True

        def run() -> None:
            try:
                result = work(
                    token, lambda done, total: self._stepped.emit(request_id, done, total)
                )
            except Cancelled:
                return
            except Exception as error:  # shown to the user, never raised into Qt
                self._errored.emit(request_id, str(error) or type(error).__name__)
                return
            self._results[request_id] = result
            self._succeeded.emit(request_id)

        self.pool.start(run)
        return request_id

    def cancel(self) -> None:
        """Stop the running job; the progress and result it still reports are dropped."""
        if self._cancel is not None:
            self._cancel.cancel()
            self._cancel = None
        self.latest += 1  # the next request's id; anything older is stale
        self.busy = False

    def _on_succeeded(self, request_id: int) -> None:
        result = self._results.pop(request_id, None)
        if request_id == self.latest:
            self.busy = False
            self.finished.emit(result)

    def _on_errored(self, request_id: int, message: str) -> None:
        if request_id == self.latest:
            self.busy = False
            self.failed.emit(message)

    def _on_stepped(self, request_id: int, done: int, total: int) -> None:
        if request_id == self.latest:
            self.progress.emit(done, total)


def new_lanes(pool: JobPool, names: tuple[str, ...], parent: QObject) -> dict[str, Lane]:
    """A :class:`Lane` on ``pool`` for each of ``names`` (for a panel used on its own; the
    window's panels get theirs from the session, which cancels them with its own)."""
    return {name: Lane(pool, parent) for name in names}
