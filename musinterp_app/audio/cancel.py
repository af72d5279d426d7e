"""Long audio work (loading, rendering) is cancellable and reports progress.

Both contracts are here, once: a job takes ``cancel: CancelToken | None`` and
``progress: Progress | None`` and honours them between its steps.
"""

import threading
from collections.abc import Callable

Progress = Callable[[int, int], None]
"""``progress(done, total)``: how far a job is, in its own units (frames, samples, ms)."""


class Cancelled(Exception):
    """Raised inside a job when its cancel token was triggered."""


class CancelToken:
    """A flag a job checks between steps; any thread may set it.

    Jobs call :meth:`raise_if_cancelled` between iterations or chunks, so a
    cancelled render stops within one step instead of running to the end.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()
