"""The allocator cap the app sets at start: worker threads share two malloc arenas."""

import platform
import re
import subprocess
import sys

import pytest

THREADS_ALLOCATING = """
import ctypes, sys, threading
from musinterp_app.base import allocator
if sys.argv[1] == "capped":
    assert allocator.limit_arenas()
together = threading.Barrier(6)
def allocate():
    held = bytearray(200_000)  # from malloc, in this thread's arena
    together.wait()
threads = [threading.Thread(target=allocate) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def arenas_used(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", THREADS_ALLOCATING, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return len(re.findall(r"^Arena \d+:", result.stderr, flags=re.MULTILINE))


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the cap is glibc's mallopt")
def test_worker_threads_share_two_arenas_once_capped():
    assert arenas_used("capped") == 2
    assert arenas_used("default") > 2
