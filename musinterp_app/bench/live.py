"""Live playback's numbers for ``musinterp bench`` (``live.*`` keys), measured on the real
window with a real output device while the slider moves (run by
:mod:`musinterp_app.bench.window`; part of the benchmark, not of the app).

- ``live.alpha_to_sound_ms`` (median, ``_p95_ms``): from a slider step of at least 0.2
  during playback to the audio callback handing the device the first sample whose
  applied α has covered 90 % of the step (the smoothing ramp counts in it);
- ``live.dropouts_60s``: device blocks without samples during 60 s of continuous
  random slider motion (the spectrogram following it, as a user sees it);
- ``live.join_jump_ratio``: the 99th percentile of sample-to-sample jumps at render
  joins and α changes ÷ the same at as many random positions of the same output;
  ``live.join_dip_db``: how much less power the 10 ms around the joins hold than the
  100 ms around them, averaged over every join (``…_random_db``: the same at random
  places: the deepest dip at one join is the music's, up to 15 dB anywhere);
- ``live.realtime_factor``: seconds of audio rendered per second of compute;
- ``live.sc_db_moving`` / ``live.sc_db_resting``: spectral convergence of the live
  output against the blend of the α curve it applied, while the slider moves and
  once it rests; ``…_offline`` beside each: an export of the same curve.
"""

import time
from collections.abc import Callable

import numpy as np

from musinterp_app.audio import mel, stft
from musinterp_app.engine import Engine
from musinterp_app.engine.live import LiveRenderer

STEPS = 24  # slider steps timed for the latency
MOTION_S = 60.0
REST_S = 6.0
MOVE_EVERY_S = 0.03  # a hand dragging: a new slider position every ~30 ms


def measure(window, wait_until: Callable, slider_steps: int) -> dict[str, float]:
    """Every ``live.*`` key, on ``window`` (both tracks loaded, idle, audio available)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    session = window.session
    session.transport.live.capture = True
    window.loop_box.setChecked(True)

    def process_for(seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.001)

    def move_to(alpha: float) -> float:
        """The slider (held down, as in a drag) to ``alpha``; the time just before."""
        started = time.perf_counter()
        window.slider.setValue(round(alpha * slider_steps))
        return started

    window.slider.setValue(round(0.2 * slider_steps))
    wait_until(app, lambda: not session.busy)
    session.transport.play_blend()
    wait_until(
        app,
        lambda: (
            session.transport.live.renderer is not None and session.transport.player.sounding_since
        ),
    )
    live = session.transport.live.playback
    renderer, feed = live.renderer, live.feed
    window.slider.setSliderDown(True)
    process_for(1.0)

    rng = np.random.default_rng(0)
    steps, alpha = [], 0.2
    for _ in range(STEPS):
        new = alpha + rng.choice([-1, 1]) * rng.uniform(0.2, 0.6)
        if not 0 <= new <= 1:
            new = alpha - np.sign(new - alpha) * rng.uniform(0.2, 0.6)
        new = float(np.clip(round(new, 3), 0, 1))
        done = renderer.done
        steps.append((move_to(new), alpha, new, done))
        alpha = new
        process_for(0.35 + rng.uniform(0, 0.15))
    latencies = _step_latencies_ms(renderer, feed, steps)

    dropouts_before, compute_before = session.transport.player.dropouts, live.render_seconds
    starved_before = feed.starved_blocks
    frames_before = renderer.done
    motion_first = renderer.done
    deadline = time.perf_counter() + MOTION_S
    while time.perf_counter() < deadline:
        alpha = float(np.clip(alpha + rng.normal(0, 0.04), 0, 1))
        move_to(alpha)
        process_for(MOVE_EVERY_S)
    motion_stop = renderer.done
    dropouts = session.transport.player.dropouts - dropouts_before
    starved = feed.starved_blocks - starved_before
    config = renderer.config
    rendered_s = (renderer.done - frames_before) * config.hop_length / config.sample_rate
    realtime = rendered_s / max(live.render_seconds - compute_before, 1e-9)

    move_to(0.3)
    window.slider.setSliderDown(False)
    process_for(0.3)
    rest_first = renderer.done
    process_for(REST_S)
    rest_stop = renderer.done
    session.transport.stop()
    wait_until(app, lambda: not session.busy)
    window.loop_box.setChecked(False)
    session.transport.live.capture = False

    spans = {"moving": (motion_first, motion_stop), "resting": (rest_first, rest_stop)}
    return _keys(session.engine, live, latencies, int(dropouts), int(starved), realtime, spans)


def _keys(
    engine, live, latencies: list[float], dropouts: int, starved: int, realtime: float,
    spans: dict[str, tuple[int, int]],
) -> dict[str, float]:  # fmt: skip
    """The ``live.*`` keys from what :func:`measure` played: ``spans`` are the rendered frames
    ``(first, stop)`` while the slider moved and while it rested."""
    renderer, config = live.renderer, live.renderer.config
    audio = np.concatenate(live.captured)
    moving = _convergence(engine, renderer, audio, *spans["moving"])
    resting = _convergence(engine, renderer, audio, *spans["resting"])
    joins = _join_positions(live.captured, renderer, *spans["moving"])
    jump_ratio, dip_db, dip_random_db = _join_measures(audio, joins, config.sample_rate)
    return {
        "live.alpha_to_sound_ms": round(float(np.median(latencies)), 1),
        "live.alpha_to_sound_p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "live.dropouts_60s": dropouts,
        "live.starved_60s": starved,
        "live.join_jump_ratio": round(jump_ratio, 3),
        "live.join_dip_db": round(dip_db, 2),
        "live.join_dip_random_db": round(dip_random_db, 2),
        "live.realtime_factor": round(realtime, 2),
        "live.chunk_ms": round(1000 * float(np.median(live.chunk_seconds)), 1),
        "live.chunk_p95_ms": round(1000 * float(np.percentile(live.chunk_seconds, 95)), 1),
        "live.sc_db_moving": moving[0],
        "live.sc_db_moving_offline": moving[1],
        "live.sc_db_resting": resting[0],
        "live.sc_db_resting_offline": resting[1],
    }


def _step_latencies_ms(renderer: LiveRenderer, feed, steps: list) -> list[float]:
    """Each step's time from the slider's event to the callback that handed the device the
    first sample of the first frame whose applied α covered 90 % of the step."""
    config = renderer.config
    handed = feed.handed[: feed.handed_count]
    ratio = feed.output_rate / config.sample_rate
    latencies = []
    for started, old, new, done in steps:
        covered = np.abs(renderer.alpha[done:] - old) >= 0.9 * abs(new - old)
        frame = done + int(np.argmax(covered))
        output_sample = frame * config.hop_length * ratio - feed.delay_samples
        callback = np.searchsorted(handed[:, 1], output_sample, side="right")
        latencies.append(1000 * (handed[min(callback, len(handed) - 1), 0] - started))
    return latencies


def _convergence(
    engine: Engine, renderer: LiveRenderer, audio: np.ndarray, first: int, stop: int
) -> tuple[float, float]:
    """SC (dB) of the live output of frames ``[first, stop)`` and of an offline render of
    the α curve applied to them, both against that curve's blend."""
    config = renderer.config
    performance = renderer.performance(first, stop)
    target = mel.to_magnitude(engine.blend(performance).mel(), config)
    live_audio = audio[first * config.hop_length : stop * config.hop_length]
    offline_audio = engine.render(performance)

    def convergence(samples: np.ndarray) -> float:
        sc = stft.spectral_convergence_db(
            samples, target, n_fft=config.n_fft, hop_length=config.hop_length
        )
        return round(sc, 2)

    return convergence(live_audio), convergence(offline_audio)


def _join_positions(
    chunks: list[np.ndarray], renderer: LiveRenderer, first: int, stop: int
) -> np.ndarray:
    """Output samples where a chunk ends and the next begins, or where α's ramp starts or
    ends, within frames ``[first, stop)``."""
    hop = renderer.config.hop_length
    chunk_joins = np.cumsum([len(chunk) for chunk in chunks])[:-1]
    bends = np.flatnonzero(np.abs(np.diff(renderer.alpha, 2)) > 1e-6) + 1
    joins = np.union1d(chunk_joins, bends * hop)
    return joins[(joins > first * hop) & (joins < stop * hop)]


def _join_measures(
    audio: np.ndarray, joins: np.ndarray, sample_rate: int
) -> tuple[float, float, float]:
    """(99th-percentile jump at joins ÷ at as many random places; the dip at joins in dB;
    the same dip at the random places).

    A dip is the power of the 10 ms around a place against the 100 ms around it,
    averaged over all the places before the ratio: a render that loses level at its
    joins shows as a dip, while the music's own dips (at one place, as deep as 15 dB
    anywhere) average out."""
    rng = np.random.default_rng(1)
    jumps = np.abs(np.diff(audio))
    around, half = int(0.05 * sample_rate), int(0.005 * sample_rate)
    joins = joins[(joins >= around) & (joins <= len(audio) - around)]
    places = rng.integers(around, len(audio) - around, size=len(joins))
    ratio = np.percentile(jumps[joins - 1], 99) / max(np.percentile(jumps[places - 1], 99), 1e-12)
    power = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])

    def dip_db(positions: np.ndarray) -> float:
        inner = (power[positions + half] - power[positions - half]) / (2 * half)
        outer = (power[positions + around] - power[positions - around]) / (2 * around)
        return float(10 * np.log10(np.mean(outer) / max(np.mean(inner), 1e-20)))

    return float(ratio), dip_db(joins), dip_db(places)
