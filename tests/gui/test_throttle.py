"""gui.throttle: the first call at once, the last one always, never a queue; a debounce runs
once after the burst; a busy job holds calls back until it is ready."""

import pytest

from musinterp_app.gui.throttle import Throttle

pytestmark = pytest.mark.gui


def test_a_burst_runs_the_first_call_at_once_and_the_last_one_once(qtbot):
    runs = []
    throttle = Throttle(50, lambda: runs.append(len(calls)))
    calls = []
    for _ in range(20):
        calls.append(None)
        throttle.call()
    assert runs == [1]  # leading: the first at once, the rest wait
    qtbot.waitUntil(lambda: len(runs) == 2, timeout=2000)
    assert runs == [1, 20]  # trailing: the last one, not a queue of 19
    qtbot.wait(150)
    assert runs == [1, 20]


def test_a_debounce_runs_once_after_the_burst(qtbot):
    runs = []
    debounce = Throttle(40, lambda: runs.append(None), leading=False)
    for _ in range(5):
        debounce.call()
        qtbot.wait(10)
    assert runs == []
    qtbot.waitUntil(lambda: len(runs) == 1, timeout=2000)
    qtbot.wait(100)
    assert len(runs) == 1


def test_a_busy_job_holds_calls_back_until_ready_and_cancel_forgets_them(qtbot):
    runs, busy = [], [True]
    throttle = Throttle(0, lambda: runs.append(None), busy=lambda: busy[0])
    throttle.call()
    qtbot.wait(30)
    assert runs == [] and throttle.pending
    busy[0] = False
    throttle.ready()
    assert runs == [None]
    busy[0] = True
    throttle.call()
    throttle.cancel()
    busy[0] = False
    throttle.ready()
    assert runs == [None] and not throttle.pending
