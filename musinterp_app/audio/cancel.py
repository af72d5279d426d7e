"""Cooperative cancellation for long audio work (rendering, loading)."""

import threading


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

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()
