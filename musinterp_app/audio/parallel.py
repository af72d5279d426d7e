"""Split array work over a few threads (numpy, scipy.fft and sparse products
release the GIL, so blocks of frames run truly in parallel)."""

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

THREADS_VARIABLE = "MUSINTERP_DSP_THREADS"  # set it to use fewer threads (e.g. to benchmark)
WORKERS = int(os.environ.get(THREADS_VARIABLE, "0") or 0) or max(1, min(os.cpu_count() or 1, 8))


@lru_cache(maxsize=1)
def _thread_pool() -> ThreadPoolExecutor | None:
    if WORKERS == 1:
        return None
    return ThreadPoolExecutor(WORKERS - 1, thread_name_prefix="musinterp-dsp")


def run_blocks(task: Callable[[int, int], None], bounds: list[tuple[int, int]]) -> None:
    """Run ``task(start, stop)`` for every block, the first one on this thread."""
    pool = _thread_pool()
    if pool is None or len(bounds) == 1:
        for start, stop in bounds:
            task(start, stop)
        return
    futures = [pool.submit(task, start, stop) for start, stop in bounds[1:]]
    task(*bounds[0])
    for future in futures:
        future.result()


def split(count: int, parts: int = WORKERS, multiple: int = 1) -> list[tuple[int, int]]:
    """``[0, count)`` cut into at most ``parts`` ranges whose inner edges are multiples."""
    units = -(-count // multiple)
    edges = [min(count, round(units * k / parts) * multiple) for k in range(parts + 1)]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]
