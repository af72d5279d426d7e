"""Calling a function at most every so often: a throttle (leading + trailing) or a debounce.

A slider drag asks for a decode on every move; the throttle runs the first at
once, then at most one every ``interval_ms``, and always the last one
(trailing), never a queue. ``busy`` holds calls back while the previous one's
work is still running; call :meth:`Throttle.ready` when it ends. With
``leading=False`` it is a debounce: the function runs once, ``interval_ms``
after the last call.
"""

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class Throttle(QObject):
    """Runs ``function()`` for a burst of :meth:`call` s as described in the module."""

    def __init__(
        self,
        interval_ms: int,
        function: Callable[[], None],
        *,
        leading: bool = True,
        busy: Callable[[], bool] = lambda: False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.function = function
        self.leading = leading
        self.busy = busy
        self.pending = False
        self._last_run_s = -float("inf")
        self._timer = QTimer(self, singleShot=True, timeout=self._try)

    def call(self) -> None:
        """Ask for a run (the newest ask replaces any waiting one)."""
        self.pending = True
        if not self.leading:
            self._timer.start(self.interval_ms)
            return
        self._try()

    def ready(self) -> None:
        """The work of the last run ended: run a waiting call when its time has come."""
        self._try()

    def cancel(self) -> None:
        """Forget a waiting call."""
        self.pending = False
        self._timer.stop()

    def _try(self) -> None:
        if not self.pending or self.busy() or (self.leading and self._timer.isActive()):
            return
        wait_ms = self.interval_ms - 1000 * (time.monotonic() - self._last_run_s)
        if self.leading and wait_ms > 0:
            self._timer.start(int(wait_ms) + 1)
            return
        self.pending = False
        self._last_run_s = time.monotonic()
        self.function()
