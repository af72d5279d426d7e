"""``musinterp bench``: speed and quality, measured in one run on this machine.

Every number comes from running the real code: Griffin-Lim on a music-like
signal the project synthesises itself (:mod:`musinterp_app.audio.synth`),
renders on real blends of the shipped example clips. Comparisons are fair:
ours and librosa's run on the same input, interleaved, and the reported time
is the median of the runs. Keys are grouped by prefix: ``gl.*`` for mel →
audio, ``render.*`` for blends as the app renders them, ``model.*`` for the
VAE, ``app.*`` for the window (measured in a child process; skipped with
``--quick``). :mod:`musinterp_app.bench.table` gives each key's unit, meaning and target.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.fft
import soundfile as sf

from musinterp_app.audio import mel, stft, synth
from musinterp_app.audio.griffinlim import chunk_bounds, griffinlim
from musinterp_app.audio.parallel import THREADS_VARIABLE, WORKERS
from musinterp_app.base import resources
from musinterp_app.base.child import python_command
from musinterp_app.engine import (
    PAIR_SLOTS,
    RENDER_ITERATIONS,
    RENDER_STRIDE,
    BlendSettings,
    Engine,
    ExportOptions,
    load_track,
)
from musinterp_app.model.onnx_vae import ModelError, OnnxVAE

N_ITER = 32
CLIP_S = 5.0
STREAM_CLIP_S = 30.0
CURVE_ITERATIONS = (0, 4, 8, 16, 32)
QUICK_CURVE_ITERATIONS = (0, 8, 32)  # --quick: the curves' ends and middle
CURVE_ALPHAS = (0.0, 0.1, 0.5)


def _median_time(run: Callable[[], object], repeats: int) -> float:
    """Median wall-clock time of ``repeats`` calls, in seconds."""
    return float(np.median([_timed(run)[0] for _ in range(repeats)]))


def _timed(run: Callable[[], object]) -> tuple[float, object]:
    """``(seconds, result)`` of one call."""
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def _interleaved(
    runs: dict[str, Callable[[], object]], repeats: int, results: dict | None = None
) -> dict[str, float]:
    """Median time of each run, the runs taking turns (so a disturbance hits all alike).
    ``results``, when given, receives each run's last result by name."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            seconds, result = _timed(run)
            times[name].append(seconds)
            if results is not None:
                results[name] = result
    return {name: float(np.median(values)) for name, values in times.items()}


def fft_floor(n_frames: int, n_fft: int, *, n_iter: int) -> Callable[[], None]:
    """The bare FFTs ``n_iter`` Griffin-Lim iterations need over ``n_frames``, to time.

    One real forward and one inverse FFT of every frame per iteration, float32,
    with scipy's pocketfft on all cores: nothing else.
    """
    frames = np.random.default_rng(0).standard_normal((n_frames, n_fft)).astype(np.float32)

    def transforms() -> None:
        for _ in range(n_iter):
            spectrum = scipy.fft.rfft(frames, axis=-1, workers=WORKERS)
            scipy.fft.irfft(spectrum, n=n_fft, axis=-1, workers=WORKERS)

    return transforms


def _test_signal(config: mel.MelConfig) -> tuple[np.ndarray, np.ndarray]:
    """A 5-s music-like clip: mel power ``[n_mels, frames]``, true magnitude ``[bins, frames]``."""
    clip = synth.music_like(CLIP_S, config.sample_rate, rng=np.random.default_rng(1))
    true_magnitude = stft.magnitude(clip, n_fft=config.n_fft, hop_length=config.hop_length)
    return mel.power_mel(clip, config), true_magnitude


def phase_only_s(*, repeats: int) -> dict[str, float]:
    """Griffin-Lim alone, ours and ``librosa.griffinlim``, on the same magnitude (this process's
    thread count; librosa's FFTs are single-threaded)."""
    import librosa

    config = mel.MelConfig()
    mel_power, _ = _test_signal(config)
    magnitude = mel.power_mel_to_magnitude(mel_power, config)
    times = _interleaved(
        {
            "ours": lambda: griffinlim(magnitude, hop_length=config.hop_length, n_iter=N_ITER),
            "librosa": lambda: librosa.griffinlim(
                magnitude,
                n_iter=N_ITER,
                hop_length=config.hop_length,
                n_fft=config.n_fft,
                momentum=0.99,
                init="random",
                random_state=0,
            ),
        },
        repeats,
    )
    return {"threads": WORKERS, **times}


def _phase_only_in_child(threads: int, repeats: int) -> dict[str, float]:
    """:func:`phase_only_s` in a fresh process limited to ``threads`` DSP threads."""
    code = (
        "import json; from musinterp_app.bench import measure; "
        f"print(json.dumps(measure.phase_only_s(repeats={repeats})))"
    )
    done = subprocess.run(
        python_command("-c", code),
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
        env={**os.environ, THREADS_VARIABLE: str(threads)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_griffinlim(*, quick: bool = False) -> dict[str, float]:
    """Mel → audio: ours against librosa, as a whole and part by part.

    ``gl.ours_s`` / ``gl.librosa_s``: mel inverse + 32 Griffin-Lim iterations
    (``librosa.feature.inverse.mel_to_audio``) from the same mel power of a 5-s
    clip; quality is the spectral convergence against the clip's true STFT.
    Then the two halves separately: the mel inversion, and Griffin-Lim alone on
    the same magnitude at 1 thread and at all threads.
    """
    import librosa

    config = mel.MelConfig()
    mel_power, true_magnitude = _test_signal(config)
    repeats = 3 if quick else 7
    librosa_repeats = 1 if quick else 3

    def librosa_audio() -> np.ndarray:
        """``librosa.feature.inverse.mel_to_audio``'s two steps, with its random start seeded
        (unseeded, its SC moved by 0.2–0.4 dB from run to run)."""
        magnitude = librosa.feature.inverse.mel_to_stft(
            mel_power, sr=config.sample_rate, n_fft=config.n_fft
        )
        return librosa.griffinlim(
            magnitude,
            n_iter=N_ITER,
            hop_length=config.hop_length,
            n_fft=config.n_fft,
            random_state=0,
        )

    def our_audio() -> np.ndarray:
        magnitude = mel.power_mel_to_magnitude(mel_power, config)
        return griffinlim(magnitude, hop_length=config.hop_length, n_iter=N_ITER)

    def quality(audio: np.ndarray) -> float:
        return stft.spectral_convergence_db(
            audio, true_magnitude, n_fft=config.n_fft, hop_length=config.hop_length
        )

    librosa.feature.inverse.mel_to_audio(
        mel_power[:, :64],
        sr=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_iter=1,
    )  # numba compiles here
    audio: dict[str, np.ndarray] = {}  # each one's last result: librosa's takes seconds
    whole = _interleaved({"ours": our_audio, "librosa": librosa_audio}, librosa_repeats, audio)
    ours_s = min(whole["ours"], _median_time(our_audio, repeats))
    inverse, phase, floor_s, phase_s = _halves(config, mel_power, repeats, librosa_repeats)

    return {
        "gl.librosa_s": round(whole["librosa"], 4),
        "gl.ours_s": round(ours_s, 4),
        "gl.speedup": round(whole["librosa"] / ours_s, 2),
        "gl.librosa_sc_db": round(quality(audio["librosa"]), 2),
        "gl.ours_sc_db": round(quality(audio["ours"]), 2),
        "gl.ours_mel_inverse_s": round(inverse["ours"], 4),
        "gl.librosa_mel_inverse_s": round(inverse["librosa"], 4),
        "gl.mel_inverse_speedup": round(inverse["librosa"] / inverse["ours"], 2),
        "gl.ours_phase_s": round(phase_s, 4),
        "gl.phase_speedup_1thread": round(phase[1]["librosa"] / phase[1]["ours"], 2),
        "gl.phase_speedup_all_threads": round(
            phase[WORKERS]["librosa"] / phase[WORKERS]["ours"], 2
        ),
        "gl.fft_floor_s": round(floor_s, 4),
        "gl.floor_ratio": round(phase_s / floor_s, 3),
        "gl.first_chunk_s": round(_median_time(_first_stream_chunk(config), repeats), 4),
    }


def _halves(
    config: mel.MelConfig, mel_power: np.ndarray, repeats: int, librosa_repeats: int
) -> tuple[dict, dict, float, float]:
    """The two halves of mel → audio apart: the mel inversion (ours and librosa's, taking
    turns), Griffin-Lim alone at 1 thread and at all (each in a child process), and
    Griffin-Lim against the bare FFTs it needs (taking turns)."""
    import librosa

    inverse = _interleaved(
        {
            "ours": lambda: mel.power_mel_to_magnitude(mel_power, config),
            "librosa": lambda: librosa.feature.inverse.mel_to_stft(
                mel_power, sr=config.sample_rate, n_fft=config.n_fft
            ),
        },
        librosa_repeats,
    )
    phase = {threads: _phase_only_in_child(threads, librosa_repeats) for threads in (1, WORKERS)}
    magnitude = mel.power_mel_to_magnitude(mel_power, config)
    floor = _interleaved(  # taking turns, so a busy moment hits both alike
        {
            "floor": fft_floor(mel_power.shape[1], config.n_fft, n_iter=N_ITER),
            "phase": lambda: griffinlim(magnitude, hop_length=config.hop_length, n_iter=N_ITER),
        },
        repeats,
    )
    floor_s, phase_s = floor["floor"], floor["phase"]
    return inverse, phase, floor_s, phase_s


def _first_stream_chunk(config: mel.MelConfig) -> Callable[[], np.ndarray]:
    """The first chunk of a streamed render of a ``STREAM_CLIP_S`` clip's log-mel: what a
    long excerpt makes the listener wait for."""
    long_clip = synth.music_like(STREAM_CLIP_S, config.sample_rate, rng=np.random.default_rng(1))
    long_mel = mel.log_mel(long_clip, config)

    def first_chunk() -> np.ndarray:
        stream = mel.audio_stream(
            lambda start, stop: long_mel[:, start:stop], long_mel.shape[1], config, n_iter=N_ITER
        )
        chunk = next(stream)
        stream.close()
        return chunk

    return first_chunk


def example_engine(model: OnnxVAE) -> Engine:
    """An engine with the two shipped example clips loaded as A and B."""
    engine = Engine(model)
    mel.prepare(model.mel_config)  # as the window does when a model loads
    examples = sorted(resources.examples_dir().glob("*.ogg"))[:2]
    for slot, path in zip("AB", examples, strict=True):
        engine.set_track(slot, load_track(path, model, overview=False))
    return engine


def _blend_convergence_db(engine: Engine, settings: BlendSettings, audio) -> float:
    """How consistent rendered audio is with the blend it was asked for (SC, dB)."""
    config = engine.config
    target = mel.to_magnitude(engine.blend_mel(settings), config)
    return stft.spectral_convergence_db(
        audio, target, n_fft=config.n_fft, hop_length=config.hop_length
    )


def _render(
    engine: Engine, settings, n_iter: int, start: str, stride: int = RENDER_STRIDE
) -> np.ndarray:
    """A blend rendered with ``n_iter`` iterations on every ``stride``-th frame from a start:
    ``"source"`` (the sources' phase), ``"phase_gradient"``, both (``"app"``: the sources'
    phase where they explain the blend, as the app renders) or ``"random"`` (never the
    exact-source shortcut: this measures phase retrieval itself)."""
    chunks = mel.audio_stream(
        lambda a, b: engine.blend_mel(settings, a, b),
        engine.blend_frames,
        engine.config,
        stride=stride,
        n_iter=n_iter,
        phase_frames=(
            engine.source_phase(settings, stride=stride) if start in ("source", "app") else None
        ),
        phase_gradient=start in ("phase_gradient", "app"),
    )
    return np.concatenate(list(chunks))


def bench_render(model_dir: Path, *, quick: bool = False) -> dict[str, float]:
    """Blends of the example clips as the app renders them: speed, quality, level."""
    engine = example_engine(OnnxVAE(model_dir))
    iterations = QUICK_CURVE_ITERATIONS if quick else CURVE_ITERATIONS
    results: dict[str, float] = {}
    for alpha in CURVE_ALPHAS:
        settings = BlendSettings(alpha=alpha)
        for start in ("random", "source", "phase_gradient", "app"):
            for n_iter in iterations:
                seconds, audio = _timed(
                    lambda s=settings, n=n_iter, st=start: _render(engine, s, n, st)
                )
                key = f"render.curve.a{alpha:g}.{start}.i{n_iter}"
                results[f"{key}.sc_db"] = round(_blend_convergence_db(engine, settings, audio), 2)
                results[f"{key}.s"] = round(seconds, 4)
    results.update(_decoded_curve(engine, iterations))
    middle = BlendSettings(alpha=0.5)
    repeats = 5 if quick else 15
    times = _interleaved(
        {
            "render": lambda: _fresh(engine).render(middle),
            "floor": _render_floor(engine, middle),
        },
        repeats,
    )
    results["render.blend5s_s"] = round(times["render"], 4)
    results["render.blend5s_floor_s"] = round(times["floor"], 4)
    results["render.blend5s_floor_ratio"] = round(times["render"] / times["floor"], 2)
    engine.blend_mel(middle)  # drawn: as after a slider release, the render reuses this decode
    results["render.blend5s_drawn_s"] = round(
        _median_time(lambda: engine.render(middle), repeats), 4
    )
    for alpha in (0.1, 0.5):
        settings = BlendSettings(alpha=alpha)
        results[f"render.sc_db_a{alpha:g}"] = round(
            _blend_convergence_db(engine, settings, engine.render(settings)), 2
        )
        # The reference: the v1 renderer, 32 iterations from random phases on every frame.
        reference = _render(engine, settings, N_ITER, "random", stride=1)
        results[f"render.sc_db_a{alpha:g}_random32"] = round(
            _blend_convergence_db(engine, settings, reference), 2
        )
    results["render.level_error_db"] = round(level_error_db(engine), 2)
    results["render.cold_first_chunk_s"] = round(_cold_first_chunk_in_child(model_dir), 4)
    return results


def _render_floor(engine: Engine, settings: BlendSettings) -> Callable[[], None]:
    """What a render of ``settings`` cannot go below, to time: the decode, and the bare FFTs
    of the Griffin-Lim iterations its chunks run (each chunk with its context frames)."""
    stride, n_fft = RENDER_STRIDE, engine.config.n_fft
    frames = -(-engine.blend_frames // stride)
    context = n_fft // (engine.config.hop_length * stride)
    bounds = chunk_bounds(frames, first_chunk_frames=mel.first_chunk_frames(stride))
    solved = sum(min(frames, stop + context) - max(0, start - context) for start, stop in bounds)
    transforms = fft_floor(solved, n_fft, n_iter=RENDER_ITERATIONS)

    def floor() -> None:
        _fresh(engine).blend_mel(settings)
        transforms()

    return floor


def _decoded_curve(engine: Engine, iterations: tuple[int, ...]) -> dict[str, float]:
    """Quality against time for renders with no source phase, as ``musinterp reconstruct``
    makes them: each example's log-mel through the model, from random or integrated
    phases (``render.curve.decoded.a.random.i8.sc_db``, …)."""
    config = engine.config
    results = {}
    for slot in PAIR_SLOTS:
        decoded = engine.tracks[slot].decoded
        target = mel.to_magnitude(decoded, config)
        for start in ("random", "phase_gradient"):
            for n_iter in iterations:
                seconds, audio = _timed(
                    lambda n=n_iter, st=start, d=decoded: mel.to_audio(
                        d, config, n_iter=n, phase_gradient=st == "phase_gradient"
                    )
                )
                key = f"render.curve.decoded.{slot.lower()}.{start}.i{n_iter}"
                results[f"{key}.sc_db"] = round(
                    stft.spectral_convergence_db(
                        audio, target, n_fft=config.n_fft, hop_length=config.hop_length
                    ),
                    2,
                )
                results[f"{key}.s"] = round(seconds, 4)
    return results


def _fresh(engine: Engine) -> Engine:
    """An engine holding ``engine``'s tracks that has decoded nothing yet."""
    fresh = Engine(engine.model)
    for slot, track in engine.tracks.items():
        if track is not None:
            fresh.set_track(slot, track)
    return fresh


def level_error_db(engine: Engine) -> float:
    """Largest gap (dB) between a blend's total mel power and the α-interpolated sources'."""
    config = engine.config
    a, b = engine.tracks["A"], engine.tracks["B"]

    def total_db(log_mel: np.ndarray) -> float:
        return float(10 * np.log10(mel.normalised_to_power(log_mel, config).sum()))

    gaps = []
    for alpha in np.linspace(0.0, 1.0, 5):
        for keep_detail in (True, False):
            blended = engine.blend_mel(BlendSettings(alpha=alpha, keep_detail=keep_detail))
            expected = (1 - alpha) * total_db(a.mel) + alpha * total_db(b.mel)
            gaps.append(abs(total_db(blended) - expected))
    return max(gaps)


def first_render_chunk_s(model_dir: str) -> float:
    """In this (fresh) process: load the model and examples, then time the first chunk of a
    blend's render: what the user waits for the first time they let go of the slider."""
    engine = example_engine(OnnxVAE(model_dir))
    started = time.perf_counter()
    stream = engine.render_stream(BlendSettings(alpha=0.5))
    next(stream)
    return time.perf_counter() - started


def _cold_first_chunk_in_child(model_dir: Path) -> float:
    code = (
        "from musinterp_app.bench import measure\n"
        f"print(measure.first_render_chunk_s({str(model_dir)!r}))"
    )
    done = subprocess.run(
        python_command("-c", code), capture_output=True, text=True, timeout=300, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def bench_high_band(model_dir: Path) -> dict[str, float]:
    """The highs of an export at 48 kHz against its sources': two 48-kHz clips with air
    (17–23 kHz) 10 dB apart, blended at α = 0.5 and exported at their rate; the export's
    level in that band minus the share-weighted mean of the sources' (dB; 0 = as bright as
    its sources), with the sources' highs carried and without (the model's band only,
    upsampled: the cheapest way to a 48-kHz file)."""
    rate, band = 48000, (17000.0, 23000.0)
    model = OnnxVAE(model_dir)
    engine = Engine(model)
    levels = []
    with tempfile.TemporaryDirectory() as folder:
        for slot, (seed, air_db) in zip("AB", ((1, -30.0), (2, -40.0)), strict=True):
            rng = np.random.default_rng(seed)
            clip = 0.5 * synth.music_like(6.0, rate, rng=rng, root_midi=45 + seed)
            clip = clip + synth.air(len(clip), rate, rng=rng, level_db=air_db)
            sf.write(Path(folder) / f"{slot}.wav", clip, rate)
            levels.append(10 ** (synth.band_level_db(clip, rate, band) / 10))
            engine.set_track(slot, load_track(Path(folder) / f"{slot}.wav", model))
        expected_db = 10 * np.log10(np.mean(levels))
        gaps = {}
        for name, carried in (("high_band_gap_db", True), ("high_band_gap_plain_db", False)):
            options = ExportOptions(high_band=carried)
            path = engine.export(Path(folder) / f"{name}.wav", BlendSettings(), options)
            audio, written_rate = sf.read(path)
            level = synth.band_level_db(audio, written_rate, band)
            gaps[f"export.{name}"] = round(float(level - expected_db), 2)
    return gaps


def bench_model(
    model_dir: Path, *, quick: bool = False, v2_dir: Path | None = None
) -> dict[str, float]:
    """Encode and decode time of a 5-s clip with onnxruntime (milliseconds). With
    ``v2_dir`` (model v2's folder, which ``make bench`` takes from the project's history),
    v2's decode is timed in turns with this model's: ``model.decode_v2_ms`` and the ratio
    ``model.decode_vs_v2`` (a new model may decode at most 1.5× as long as v2)."""
    model = OnnxVAE(model_dir)
    config = model.mel_config
    clip = synth.music_like(CLIP_S, config.sample_rate, rng=np.random.default_rng(2))
    features = mel.log_mel(clip, config)
    latent = model.encode(features)
    repeats = 10 if quick else 50
    model.decode(latent)  # the first runs allocate; time the steady state
    decodes = {"model.decode_ms": lambda: model.decode(latent)}
    if v2_dir is not None:
        v2 = OnnxVAE(v2_dir)
        v2_clip = synth.music_like(CLIP_S, v2.mel_config.sample_rate, rng=np.random.default_rng(2))
        v2_latent = v2.encode(mel.log_mel(v2_clip, v2.mel_config))
        v2.decode(v2_latent)
        decodes["model.decode_v2_ms"] = lambda: v2.decode(v2_latent)
    times = _interleaved(decodes, repeats)
    results = {
        "model.encode_ms": round(1000 * _median_time(lambda: model.encode(features), repeats), 2),
        **{key: round(1000 * seconds, 2) for key, seconds in times.items()},
    }
    if v2_dir is not None:
        results["model.decode_vs_v2"] = round(
            times["model.decode_ms"] / times["model.decode_v2_ms"], 3
        )
    return results


def run_all(
    *, quick: bool = False, model_dir: Path | None = None, v2_dir: Path | None = None
) -> dict[str, float]:
    """Every benchmark, one flat dict of ``group.key → number``.

    The model and render keys need a model folder (default: the shipped
    model); without one they are left out and the reason is printed.
    """
    results: dict[str, float] = {}
    if importlib.util.find_spec("librosa") is None:  # not part of the app (the bundle has none)
        print(
            "gl.* keys skipped: they compare with librosa, which is not installed "
            "(pip install 'musinterp[bench]')",
            file=sys.stderr,
        )
    else:
        results.update(bench_griffinlim(quick=quick))
    folder = model_dir or resources.default_model_dir()
    try:
        results.update(bench_model(folder, quick=quick, v2_dir=v2_dir))
        results.update(bench_render(folder, quick=quick))
        results.update(bench_high_band(folder))
    except ModelError as error:
        print(f"model and render keys skipped: {error}", file=sys.stderr)
    if not quick:
        results.update(bench_app())
    return results


def bench_app() -> dict[str, float]:
    """The window's numbers, measured in a separate process (this one stays Qt-free)."""
    measured = subprocess.run(
        python_command("-m", "musinterp_app.bench.window"),
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
