"""``musinterp bench``: speed and quality, measured in one run on this machine.

Every number comes from running the real code on a music-like signal the
project synthesises itself (:mod:`musinterp_app.audio.synth`). Timings are
the best of several repeats (the least disturbed by other processes).
Keys are grouped by prefix: ``gl.*`` for mel → audio, ``model.*`` for the VAE,
``app.*`` for the window (measured in a child process; skipped with ``--quick``).
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.fft

from musinterp_app.audio import mel, stft, synth
from musinterp_app.audio.griffinlim import griffinlim
from musinterp_app.audio.parallel import WORKERS
from musinterp_app.model.onnx_vae import ModelError, OnnxVAE
from musinterp_app.resources import default_model_dir

N_ITER = 32
CLIP_S = 5.0
STREAM_CLIP_S = 30.0


def _best_time(run: Callable[[], object], repeats: int) -> float:
    """Fastest wall-clock time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def _timed(run: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    """``(seconds, result)`` of one call."""
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def fft_floor_s(n_frames: int, n_fft: int, *, n_iter: int, repeats: int) -> float:
    """Bare cost of the FFTs ``n_iter`` Griffin-Lim iterations need over ``n_frames``.

    One real forward and one inverse FFT of every frame per iteration, float32,
    with scipy's pocketfft on all cores: nothing else.
    """
    frames = np.random.default_rng(0).standard_normal((n_frames, n_fft)).astype(np.float32)

    def transforms() -> None:
        for _ in range(n_iter):
            spectrum = scipy.fft.rfft(frames, axis=-1, workers=WORKERS)
            scipy.fft.irfft(spectrum, n=n_fft, axis=-1, workers=WORKERS)

    return _best_time(transforms, repeats)


def bench_griffinlim(*, quick: bool = False) -> dict[str, float]:
    """Ours against ``librosa.feature.inverse.mel_to_audio`` on the same mel input.

    Both start from the same mel power spectrogram of a 5-s clip and run 32
    Griffin-Lim iterations; quality is the spectral convergence against the
    clip's true STFT magnitude, averaged over the same number of random
    initial phases for each.
    """
    import librosa

    config = mel.MelConfig()
    rng = np.random.default_rng(1)
    clip = synth.music_like(CLIP_S, config.sample_rate, rng=rng)
    true_magnitude = stft.magnitude(clip, n_fft=config.n_fft, hop_length=config.hop_length)
    mel_power = mel.power_mel(clip, config)
    seeds = range(1 if quick else 3)

    def quality(audio: np.ndarray) -> float:
        return stft.spectral_convergence_db(
            audio, true_magnitude, n_fft=config.n_fft, hop_length=config.hop_length
        )

    def librosa_audio(seed: int, power: np.ndarray = mel_power) -> np.ndarray:
        np.random.seed(seed)  # librosa draws its initial phase from numpy's global generator
        return librosa.feature.inverse.mel_to_audio(
            power,
            sr=config.sample_rate,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            n_iter=N_ITER,
        )

    def our_audio(seed: int) -> np.ndarray:
        magnitude = mel.power_mel_to_magnitude(mel_power, config)
        return griffinlim(
            magnitude,
            hop_length=config.hop_length,
            n_iter=N_ITER,
            rng=np.random.default_rng(seed),
        )

    librosa_audio(0, mel_power[:, :64])  # compile librosa's numba code outside the timing
    librosa_runs = [_timed(lambda s=seed: librosa_audio(s)) for seed in seeds]
    our_runs = [_timed(lambda s=seed: our_audio(s)) for seed in seeds]
    repeats = 3 if quick else 7
    librosa_s = min(seconds for seconds, _ in librosa_runs)
    ours_s = min(_best_time(lambda: our_audio(0), repeats), *(seconds for seconds, _ in our_runs))
    librosa_sc = float(np.mean([quality(audio) for _, audio in librosa_runs]))
    ours_sc = float(np.mean([quality(audio) for _, audio in our_runs]))
    magnitude = mel.power_mel_to_magnitude(mel_power, config)
    mel_inverse_s = _best_time(lambda: mel.power_mel_to_magnitude(mel_power, config), repeats)
    phase_s = _best_time(
        lambda: griffinlim(magnitude, hop_length=config.hop_length, n_iter=N_ITER), repeats
    )
    floor_s = fft_floor_s(mel_power.shape[1], config.n_fft, n_iter=N_ITER, repeats=repeats)

    long_clip = synth.music_like(STREAM_CLIP_S, config.sample_rate, rng=rng)
    long_mel = mel.log_mel(long_clip, config)

    def first_chunk() -> np.ndarray:
        stream = mel.audio_stream(
            lambda start, stop: long_mel[:, start:stop], long_mel.shape[1], config, n_iter=N_ITER
        )
        chunk = next(stream)
        stream.close()
        return chunk

    first_chunk_s = _best_time(first_chunk, repeats)
    return {
        "gl.librosa_s": round(librosa_s, 4),
        "gl.ours_s": round(ours_s, 4),
        "gl.speedup": round(librosa_s / ours_s, 2),
        "gl.librosa_sc_db": round(librosa_sc, 2),
        "gl.ours_sc_db": round(ours_sc, 2),
        "gl.ours_mel_inverse_s": round(mel_inverse_s, 4),
        "gl.ours_phase_s": round(phase_s, 4),
        "gl.fft_floor_s": round(floor_s, 4),
        "gl.floor_ratio": round(phase_s / floor_s, 3),
        "gl.first_chunk_s": round(first_chunk_s, 4),
    }


def bench_model(model_dir: Path, *, quick: bool = False) -> dict[str, float]:
    """Encode and decode time of a 5-s clip with onnxruntime (milliseconds)."""
    model = OnnxVAE(model_dir)
    config = model.mel_config
    clip = synth.music_like(CLIP_S, config.sample_rate, rng=np.random.default_rng(2))
    features = mel.log_mel(clip, config)
    latent = model.encode(features)
    repeats = 10 if quick else 50
    model.decode(latent)  # the first runs allocate; time the steady state
    return {
        "model.encode_ms": round(1000 * _best_time(lambda: model.encode(features), repeats), 2),
        "model.decode_ms": round(1000 * _best_time(lambda: model.decode(latent), repeats), 2),
    }


# (key, unit, what it is, target) for the human-readable table.
DESCRIPTIONS = {
    "gl.librosa_s": ("s", "librosa mel_to_audio, 5-s clip, 32 iterations", ""),
    "gl.ours_s": ("s", "ours, same input: mel inverse + Griffin-Lim", ""),
    "gl.speedup": ("×", "librosa time / our time", "≥ 15"),
    "gl.librosa_sc_db": ("dB", "librosa spectral convergence (lower is better)", ""),
    "gl.ours_sc_db": ("dB", "our spectral convergence", "≤ librosa + 0.5"),
    "gl.ours_mel_inverse_s": ("s", "ours: mel → linear magnitude only", ""),
    "gl.ours_phase_s": ("s", "ours: Griffin-Lim iterations only", ""),
    "gl.fft_floor_s": ("s", "bare FFTs of 32 iterations (pocketfft, all cores)", ""),
    "gl.floor_ratio": ("×", "Griffin-Lim time / FFT floor", "≤ 1.6"),
    "gl.first_chunk_s": ("s", "first streamed chunk of a 30-s clip", "≤ 0.1"),
    "model.encode_ms": ("ms", "encode a 5-s clip (onnxruntime)", "≤ 30"),
    "model.decode_ms": ("ms", "decode a 5-s clip (onnxruntime)", "≤ 30"),
    "app.startup_s": ("s", "launch until the window is shown", "≤ 3"),
    "app.slider_to_mel_ms": ("ms", "slider move to redrawn blend (median)", "≤ 50"),
    "app.slider_to_mel_p95_ms": ("ms", "same, 95th percentile", ""),
    "app.release_to_first_sound_ms": ("ms", "slider release to sound, 5-s excerpts", "≤ 200"),
    "app.release_to_first_sound_30s_ms": ("ms", "same, 30-s excerpts", "≤ 200"),
    "app.rss_mb": ("MB", "memory with two 5-minute tracks loaded", "≤ 600"),
}


def run_all(*, quick: bool = False, model_dir: Path | None = None) -> dict[str, float]:
    """Every benchmark, one flat dict of ``group.key → number``.

    The model keys need a model folder (default: the shipped model); without
    one they are left out and the reason is printed.
    """
    results: dict[str, float] = {}
    results.update(bench_griffinlim(quick=quick))
    try:
        results.update(bench_model(model_dir or default_model_dir(), quick=quick))
    except ModelError as error:
        print(f"model keys skipped: {error}", file=sys.stderr)
    if not quick:
        results.update(bench_app())
    return results


def bench_app() -> dict[str, float]:
    """The window's numbers, measured in a separate process (this one stays Qt-free)."""
    measured = subprocess.run(
        [sys.executable, "-m", "musinterp_app.gui.measure"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")},
    )
    if measured.returncode != 0:
        print(f"app keys skipped: {measured.stderr.strip()[-500:]}", file=sys.stderr)
        return {}
    if measured.stderr.strip():
        print(measured.stderr.strip(), file=sys.stderr)
    return json.loads(measured.stdout.strip().splitlines()[-1])


def format_table(results: dict[str, float]) -> str:
    lines = [f"{'key':24s} {'value':>10s} {'unit':5s} {'target':16s} what"]
    for key, value in results.items():
        unit, what, target = DESCRIPTIONS.get(key, ("", "", ""))
        lines.append(f"{key:24s} {value:>10g} {unit:5s} {target:16s} {what}")
    return "\n".join(lines)
