"""Python 3.11's ``tracemalloc.stop()`` crashes a thread that numpy lets allocate without
the GIL (CPython issue 128679): why the slider soak stops tracemalloc only after the live
renderer's thread has ended.

    .venv/bin/python -X faulthandler docs/measurements/scripts/tracemalloc_race.py 3000

Two threads multiply complex64 by float32 arrays (numpy allocates the cast's buffers after
releasing the GIL) while the main thread starts and stops tracemalloc. On this machine
(Python 3.11.7, numpy 2.4.6) four runs in seven ended in a segmentation fault inside the
workers' multiplication, the crash the soak met once in about a hundred runs.
"""

import sys
import threading
import time
import tracemalloc

import numpy as np

spectrum = np.ones((640, 2049), np.complex64)
magnitude = np.ones((640, 2049), np.float32)[:, ::-1]  # not contiguous: buffered
running = True


def multiply() -> None:
    while running:
        product = spectrum.copy()
        product *= magnitude


def main(pairs: int) -> None:
    global running
    for _ in range(2):
        threading.Thread(target=multiply, daemon=True).start()
    for _ in range(pairs):
        tracemalloc.start()
        time.sleep(0.002)
        tracemalloc.stop()
        time.sleep(0.002)
    running = False
    print(f"no crash after {pairs} start/stop pairs")


if __name__ == "__main__":
    main(int(sys.argv[1]))
