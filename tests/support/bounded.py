"""Calls that must not block: run them on a thread and fail the test if they hang."""

import threading
from collections.abc import Callable

HANG_LIMIT_S = 30  # a refusal is immediate; a read that blocks would wait forever


def outcome_within(call: Callable[[], object], limit_s: float = HANG_LIMIT_S):
    """What ``call()`` raised, or what it returned, within ``limit_s`` seconds.

    Fails the test when it is still running by then: a read without a bound
    (the stuck thread is a daemon, so it cannot keep the test run alive).
    """
    outcome = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # handed to the test, which judges it
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit_s)
    assert not worker.is_alive(), f"still running after {limit_s} s: it blocked"
    return outcome[0]
