"""Slider soak: thousands of moves at random speeds while renders and playback run."""

import random
import threading
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtWidgets import QApplication
from support.window import make_window

from musinterp_app.audio import synth
from musinterp_app.engine import BlendSettings
from musinterp_app.gui.main_window import SLIDER_STEPS

pytestmark = pytest.mark.gui


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))


@pytest.mark.parametrize(
    "moves",
    [pytest.param(500, id="short"), pytest.param(10_000, id="long", marks=pytest.mark.slow)],
)
def test_slider_soak_last_alpha_wins_memory_stays_flat(qtbot, shipped_model, tmp_path, moves):
    paths = []
    for name, root in [("a.wav", 47), ("b.wav", 66)]:
        sf.write(
            tmp_path / name,
            synth.music_like(6.0, 32768, rng=np.random.default_rng(root), root_midi=root),
            32768,
        )
        paths.append(tmp_path / name)
    threads_before = threading.active_count()
    window = make_window(shipped_model, tmp_path / "s.ini")
    qtbot.addWidget(window)
    window.show()
    window.load("A", str(paths[0]))
    window.load("B", str(paths[1]))
    qtbot.waitUntil(
        lambda: window.session.engine.ready and window.session.blended_mel is not None,
        timeout=60_000,
    )
    rng = random.Random(moves)

    def wiggle(count: int) -> None:
        for _ in range(count):
            if rng.random() < 0.03:  # let go: a render (and playback, where a device exists)
                window.slider.setSliderDown(False)
                window.slider.sliderReleased.emit()
            else:
                window.slider.setSliderDown(True)
                window.slider.setValue(rng.randrange(SLIDER_STEPS + 1))
            QApplication.processEvents()
            if rng.random() < 0.2:
                time.sleep(rng.random() * 0.01)

    wiggle(200)  # warm up: caches, thread pool, allocator
    window.session.pool.wait_for_done(30)
    QApplication.processEvents()
    tracemalloc.start()  # Python objects and numpy arrays: where a leak would show first
    before_mb = rss_mb()
    for _ in range(10):
        wiggle(moves // 10)
        print(f"rss {rss_mb():.1f} MB")
    window.slider.setSliderDown(True)
    window.slider.setValue(421)
    window.slider.setSliderDown(False)
    window.slider.sliderReleased.emit()
    qtbot.waitUntil(
        lambda: not any(lane.busy for lane in window.session.lanes.values()), timeout=60_000
    )
    window.session.pool.wait_for_done(30)
    QApplication.processEvents()
    growth_mb = rss_mb() - before_mb
    traced_growth_mb = tracemalloc.get_traced_memory()[0] / 2**20
    print(
        f"\n{moves} slider moves: resident memory grew {growth_mb:+.1f} MB, "
        f"Python and numpy allocations still held {traced_growth_mb:+.1f} MB"
    )

    session = window.session
    expected = session.engine.blend_mel(session.heard(session.engine, BlendSettings(alpha=0.421)))
    heard = window.session.blended_mel
    window.close()
    window.session.pool.wait_for_done(30)
    qtbot.waitUntil(
        lambda: not any(t.name == "live render" for t in threading.enumerate()), timeout=30_000
    )
    # Stopped only once no other thread allocates: in Python 3.11, tracemalloc.stop() races a
    # thread that allocates without the GIL (numpy's ufunc buffers, here the live renderer's)
    # and can crash it (CPython issue 128679; one soak in about a hundred did).
    tracemalloc.stop()
    np.testing.assert_array_equal(heard, expected)
    assert traced_growth_mb < 10
    assert growth_mb < 60
    assert window.session.pool.active_jobs() == 0
    assert not window.session.transport.player.playing
    assert threading.active_count() <= threads_before + 2  # PortAudio, the shared DSP pool
