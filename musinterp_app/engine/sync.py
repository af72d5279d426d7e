"""Tempo and key estimates kept by excerpt, shared by every engine that a fit or a model switch
builds."""

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

from musinterp_app.audio import analysis

ESTIMATES_KEPT = 16  # excerpts whose tempo and key are kept (see _EstimateCache)


class _EstimateCache:
    """Tempo and key by excerpt (a track's content and the rate), kept across the engines
    that fits and model switches build: each ``synced`` asks for every track's again.
    The least recently used go first; a request for an excerpt being estimated on
    another thread waits for that estimate instead of making a second one."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._known: OrderedDict[tuple, tuple[analysis.Tempo, analysis.Key]] = OrderedDict()
        self._running: dict[tuple, Future] = {}
        self._lock = threading.Lock()

    def get(
        self, key: tuple, estimate: Callable[[], tuple[analysis.Tempo, analysis.Key]]
    ) -> tuple[analysis.Tempo, analysis.Key]:
        """The estimate for ``key``, made by ``estimate()`` unless known or being made."""
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
                return self._known[key]
            running = self._running.get(key)
            if running is None:
                future = self._running[key] = Future()
        if running is not None:
            return running.result()  # its error too (an excerpt too short)
        try:
            known = estimate()
        except BaseException as error:
            with self._lock:
                del self._running[key]
            future.set_exception(error)
            raise
        with self._lock:
            del self._running[key]
            self._known[key] = known
            while len(self._known) > self.kept:
                self._known.popitem(last=False)
        future.set_result(known)
        return known


_ESTIMATES = _EstimateCache(ESTIMATES_KEPT)
