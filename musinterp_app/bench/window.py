"""The window's own numbers for ``musinterp bench`` (``app.*`` keys), measured on the real
window: ``python -m musinterp_app.bench.window`` prints one JSON object. Part of the
benchmark, not of the app: :mod:`musinterp_app.bench.measure` runs it in a child process so the
benchmark itself stays Qt-free.

- ``app.startup_s``: launching ``musinterp`` until its window is shown;
- ``app.slider_to_mel_ms``: a slider move (while dragging) until the blend
  spectrogram shows it (median over moves; ``…_p95_ms`` too);
- ``app.release_to_first_sound_ms`` (5-s excerpts) and ``…_30s_ms``: letting go
  of the slider while nothing plays until the audio callback plays the first
  rendered chunk (median of five releases);
- ``app.playback_dropouts``: device blocks that found no samples while that 5-s
  blend played to its end (its later chunks rendering meanwhile);
- ``app.rss_mb``: resident memory with two 5-minute tracks loaded;
- ``live.*``: the blend playing live while the slider moves (see :mod:`.live`).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from musinterp_app.audio import player as playback
from musinterp_app.base import allocator, resources
from musinterp_app.base.child import python_command
from musinterp_app.bench import live as bench_live
from musinterp_app.gui.main_window import SLIDER_STEPS, MainWindow
from musinterp_app.model.onnx_vae import OnnxVAE


def wait_until(app: QApplication, done, timeout_s: float = 120.0) -> None:
    """Process events until ``done()`` is true; ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not finish in time")
        app.processEvents()
        time.sleep(0.0005)


def _idle(window: MainWindow) -> bool:
    return not window.session.busy


def startup_s() -> float:
    """Seconds from starting ``python -m musinterp_app`` until the window is shown."""
    started = time.perf_counter()
    process = subprocess.Popen(
        python_command("-m", "musinterp_app", "--exit-when-shown"),
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")},
    )
    for line in process.stdout:
        if line.startswith("shown"):
            elapsed = time.perf_counter() - started
            break
    else:
        raise RuntimeError("musinterp exited without showing its window")
    process.wait(timeout=30)
    return elapsed


def _window(app: QApplication, folder: Path) -> MainWindow:
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(OnnxVAE(resources.default_model_dir()), preferences=settings)
    window.show()
    app.processEvents()
    return window


def _load(app: QApplication, window: MainWindow, paths: list[Path]) -> None:
    window.load("A", str(paths[0]))
    window.load("B", str(paths[1]))
    wait_until(
        app,
        lambda: (
            window.session.engine.ready and window.session.blended_mel is not None and _idle(window)
        ),
    )


def slider_to_mel_ms(app: QApplication, window: MainWindow, moves: int = 40) -> list[float]:
    """Milliseconds from each slider move (dragging) to the redrawn blend."""
    drawn = []
    window.blend_drawn.connect(lambda: drawn.append(time.perf_counter()))
    window.slider.setSliderDown(True)
    latencies = []
    rng = np.random.default_rng(0)
    for _ in range(moves):
        time.sleep(0.05)  # a hand moving the slider: one step every ~50 ms
        app.processEvents()
        before = len(drawn)
        started = time.perf_counter()
        window.slider.setValue(int(rng.integers(0, SLIDER_STEPS + 1)))
        wait_until(app, lambda before=before: len(drawn) > before)
        latencies.append(1000 * (drawn[-1] - started))
    window.slider.setSliderDown(False)
    wait_until(app, lambda: _idle(window))
    return latencies


RELEASE_POSITIONS = (0.4, 0.6, 0.3, 0.7, 0.45)  # of the slider: one release each, a median


def release_to_first_sound_ms(
    app: QApplication, window: MainWindow, position: float, *, play_to_end: bool = False
) -> tuple[float, int]:
    """Milliseconds from letting go of the slider until the audio callback hands the
    device the blend's first samples (so a device block's wait is counted too; the
    device's own output latency, the same for every program, is not). Measured as a
    user meets it: the blend was drawn while dragging and the output stream is open.
    Also the dropouts counted while it plays (to its end, with ``play_to_end``: the
    rest renders while the start plays)."""
    window.autoplay_box.setChecked(True)
    player = window.session.transport.player
    window.slider.setSliderDown(True)
    window.slider.setValue(int(SLIDER_STEPS * position))
    wait_until(app, lambda: _idle(window) and player.stream_open)
    started = time.perf_counter()
    window.slider.setSliderDown(False)
    window.slider.sliderReleased.emit()
    wait_until(app, lambda: player.sounding_since is not None)
    sounding = player.sounding_since
    if play_to_end:
        wait_until(app, lambda: not player.playing)
    dropouts = player.dropouts
    window.session.transport.stop()
    wait_until(app, lambda: _idle(window))
    return 1000 * (sounding - started), dropouts


def _median_release_ms(app: QApplication, window: MainWindow) -> float:
    times = [release_to_first_sound_ms(app, window, at)[0] for at in RELEASE_POSITIONS]
    return round(float(np.median(times)), 1)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _clip(folder: Path, name: str, seconds: float, seed: int) -> Path:
    """Write a synthetic stereo clip, in a child process so its memory is not counted here."""
    path = folder / name
    code = (
        "import sys, numpy as np, soundfile as sf\n"
        "from musinterp_app.audio import synth\n"
        f"clip = synth.music_like({seconds}, 44100, rng=np.random.default_rng({seed}),"
        f" root_midi={45 + seed}, tempo_bpm={80.0 + 10 * seed})\n"
        f"sf.write({str(path)!r}, np.stack([clip, clip], axis=1), 44100, subtype='PCM_16')\n"
    )
    subprocess.run(python_command("-c", code), check=True)
    return path


def measure() -> dict[str, float]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    results: dict[str, float] = {"app.startup_s": round(startup_s(), 3)}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        window = _window(app, folder)
        examples = sorted(resources.examples_dir().glob("*.ogg"))
        _load(app, window, examples)
        latencies = slider_to_mel_ms(app, window)
        results["app.slider_to_mel_ms"] = round(float(np.median(latencies)), 1)
        results["app.slider_to_mel_p95_ms"] = round(float(np.percentile(latencies, 95)), 1)
        if playback.unavailable_reason():
            print(
                f"app.release_to_first_sound_* skipped: {playback.unavailable_reason()}",
                file=sys.stderr,
            )
        else:
            results["app.playback_dropouts"] = release_to_first_sound_ms(
                app, window, 0.55, play_to_end=True
            )[1]
            results["app.release_to_first_sound_ms"] = _median_release_ms(app, window)
            results.update(bench_live.measure(window, wait_until, SLIDER_STEPS))
            long_clips = [_clip(folder, f"long{k}.wav", 40.0, k) for k in (1, 2)]
            window.session.set_excerpt_length(30.0)
            _load(app, window, long_clips)
            results["app.release_to_first_sound_30s_ms"] = _median_release_ms(app, window)
        window.close()
        five_minutes = [_clip(folder, f"five{k}.flac", 300.0, k) for k in (3, 4)]
        results["app.rss_mb"] = loaded_rss_mb(five_minutes)
    return results


def loaded_rss_mb(paths: list[Path]) -> float:
    """Resident memory of a fresh window process once both files are loaded and blended."""
    code = (
        "import sys\n"
        "from musinterp_app.bench import window as bench_window\n"
        "print(bench_window.rss_after_loading(sys.argv[1:]))\n"
    )
    child = subprocess.run(
        python_command("-c", code, *map(str, paths)),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return round(float(child.stdout.strip().splitlines()[-1]), 1)


def rss_after_loading(paths: list[str]) -> float:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as temporary:
        window = _window(app, Path(temporary))
        _load(app, window, [Path(path) for path in paths])
        used = rss_mb()
        window.close()
    return used


if __name__ == "__main__":
    allocator.limit_arenas()  # as `musinterp` does at start
    print(json.dumps(measure()))
