"""Lanes: the newest request wins, and a cancelled job is never heard from again."""

import threading

import pytest
from PySide6.QtWidgets import QApplication

from musinterp_app.gui.workers import JobPool, Lane

pytestmark = pytest.mark.gui


@pytest.fixture
def lane(qtbot):
    pool = JobPool(max_workers=2)
    yield Lane(pool)
    pool.shutdown()


def test_a_cancelled_job_reports_nothing_after_the_cancel(qtbot, lane):
    heard = []
    lane.progress.connect(lambda done, total: heard.append(("progress", done)))
    lane.finished.connect(lambda result: heard.append(("finished", result)))
    reported = threading.Event()

    def work(cancel, progress):
        for step in range(3):
            progress(step, 3)  # queued for the UI thread, which has not run them yet
        reported.set()
        return "done anyway"  # ignores the cancel: its result must be dropped too

    lane.submit(work)
    assert reported.wait(10)
    lane.cancel()
    assert lane.pool.wait_for_done(10)
    QApplication.processEvents()
    assert heard == []
    assert not lane.busy


def test_only_the_newest_request_finishes(qtbot, lane):
    results = []
    lane.finished.connect(results.append)
    release = threading.Event()
    lane.submit(lambda cancel, progress: release.wait(10) and "old")
    lane.submit(lambda cancel, progress: "new")
    release.set()
    assert lane.pool.wait_for_done(10)
    qtbot.waitUntil(lambda: results == ["new"])
    QApplication.processEvents()
    assert results == ["new"]
