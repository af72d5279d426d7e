"""What each ``musinterp bench`` key means, its unit and its target, and the table
``musinterp bench`` prints from them (the keys themselves are measured by
:mod:`musinterp_app.bench.measure`, :mod:`musinterp_app.bench.window` and
:mod:`musinterp_app.bench.live`)."""

from collections.abc import Callable


def _at_most(limit: float) -> Callable[[dict, float], bool]:
    return lambda _results, value: value <= limit


def _at_least(limit: float) -> Callable[[dict, float], bool]:
    return lambda _results, value: value >= limit


# key → (unit, what it is, target as text, check(results, value)) for the human-readable table.
DESCRIPTIONS: dict[str, tuple[str, str, str, Callable[[dict, float], bool] | None]] = {
    "gl.librosa_s": ("s", "librosa mel_to_audio, 5-s clip, 32 iterations", "", None),
    "gl.ours_s": ("s", "ours, same input: mel inverse + Griffin-Lim", "", None),
    "gl.speedup": ("×", "librosa time / our time (whole mel → audio)", "≥ 15", _at_least(15)),
    "gl.librosa_sc_db": ("dB", "librosa spectral convergence (lower is better)", "", None),
    "gl.ours_sc_db": (
        "dB",
        "our spectral convergence",
        "≤ librosa + 0.5",
        lambda r, v: v <= r["gl.librosa_sc_db"] + 0.5,
    ),
    "gl.ours_mel_inverse_s": ("s", "ours: mel → linear magnitude only", "", None),
    "gl.librosa_mel_inverse_s": ("s", "librosa mel_to_stft (NNLS), same input", "", None),
    "gl.mel_inverse_speedup": ("×", "librosa / ours, mel inversion alone", "", None),
    "gl.ours_phase_s": ("s", "ours: Griffin-Lim iterations only", "", None),
    "gl.phase_speedup_1thread": ("×", "librosa.griffinlim / ours, one thread each", "", None),
    "gl.phase_speedup_all_threads": (
        "×",
        "same, ours on every core (librosa's FFTs use one)",
        "",
        None,
    ),
    "gl.fft_floor_s": ("s", "bare FFTs of 32 iterations (pocketfft, all cores)", "", None),
    "gl.floor_ratio": ("×", "Griffin-Lim time / FFT floor", "≤ 1.3", _at_most(1.3)),
    "gl.first_chunk_s": ("s", "first streamed chunk of a 30-s clip", "≤ 0.1", _at_most(0.1)),
    "render.blend5s_s": (
        "s",
        "5-s α = 0.5 blend of two loaded tracks → audio, default settings (cold decode)",
        "≤ 0.08",
        _at_most(0.08),
    ),
    "render.blend5s_floor_s": (
        "s",
        "its floor: the decode and the bare FFTs of the iterations its chunks run",
        "",
        None,
    ),
    "export.high_band_gap_db": (
        "dB",
        "a 48-kHz export's level above 16.4 kHz − its sources' (share-weighted)",
        "within ±1.5",
        lambda _r, v: abs(v) <= 1.5,
    ),
    "export.high_band_gap_plain_db": (
        "dB",
        "the same without the sources' highs (the model's band upsampled)",
        "",
        None,
    ),
    "render.blend5s_floor_ratio": (
        "×",
        "render ÷ floor, measured in turns",
        "≤ 1.6",
        _at_most(1.6),
    ),
    "render.blend5s_drawn_s": (
        "s",
        "the same once its spectrogram is drawn (a slider release: the decode is reused)",
        "",
        None,
    ),
    "render.sc_db_a0.5": (
        "dB",
        "its consistency (SC vs the blend's own spectrogram)",
        "≤ v1 render + 0.5",
        lambda r, v: v <= r["render.sc_db_a0.5_random32"] + 0.5,
    ),
    "render.sc_db_a0.1": (
        "dB",
        "same at α = 0.1",
        "< v1 render",
        lambda r, v: v < r["render.sc_db_a0.1_random32"],
    ),
    "render.sc_db_a0.5_random32": (
        "dB",
        "the v1 renderer: 32 iterations from random phases on every frame",
        "",
        None,
    ),
    "render.sc_db_a0.1_random32": ("dB", "same at α = 0.1", "", None),
    "render.level_error_db": (
        "dB",
        "largest level gap to the α-interpolated sources, α = 0 … 1",
        "≤ 1.5",
        _at_most(1.5),
    ),
    "render.cold_first_chunk_s": (
        "s",
        "first chunk of the first render in a fresh process",
        "≤ 0.15",
        _at_most(0.15),
    ),
    "model.encode_ms": ("ms", "encode a 5-s clip (onnxruntime)", "≤ 30", _at_most(30)),
    "model.decode_ms": ("ms", "decode a 5-s clip (onnxruntime)", "", None),
    "model.decode_v2_ms": ("ms", "model v2's decode of the same clip, in turns with it", "", None),
    "model.decode_vs_v2": ("×", "decode time ÷ v2's (same run)", "≤ 1.5", _at_most(1.5)),
    "app.startup_s": ("s", "launch until the window is shown", "≤ 3", _at_most(3)),
    "app.slider_to_mel_ms": ("ms", "slider move to redrawn blend (median)", "≤ 50", _at_most(50)),
    "app.slider_to_mel_p95_ms": ("ms", "same, 95th percentile", "", None),
    "app.release_to_first_sound_ms": (
        "ms",
        "slider release to sound, 5-s excerpts",
        "≤ 60",
        _at_most(60),
    ),
    "app.release_to_first_sound_30s_ms": ("ms", "same, 30-s excerpts", "≤ 60", _at_most(60)),
    "app.playback_dropouts": (
        "blocks",
        "device blocks without samples while that 5-s blend plays (rendering meanwhile)",
        "0",
        _at_most(0),
    ),
    "app.rss_mb": ("MB", "memory with two 5-minute tracks loaded", "≤ 600", _at_most(600)),
    "live.alpha_to_sound_ms": (
        "ms",
        "live: a slider step to the device getting the sound 90 % of the way (median)",
        "≤ 100",
        _at_most(100),
    ),
    "live.alpha_to_sound_p95_ms": ("ms", "same, 95th percentile", "≤ 150", _at_most(150)),
    "live.dropouts_60s": (
        "blocks",
        "live: device blocks without samples in 60 s of slider motion",
        "0",
        _at_most(0),
    ),
    "live.starved_60s": ("blocks", "of those, blocks the renderer was late for", "", None),
    "live.join_jump_ratio": (
        "×",
        "99th-percentile sample jump at render joins and α changes ÷ at random places",
        "≤ 1.2",
        _at_most(1.2),
    ),
    "live.join_dip_db": ("dB", "level dip at joins (10 ms against 100 ms)", "≤ 1", _at_most(1)),
    "live.join_dip_random_db": ("dB", "the same at random places", "", None),
    "live.realtime_factor": ("×", "live: seconds rendered per second of compute", "", None),
    "live.chunk_ms": ("ms", "live: one 62.5-ms chunk's render (median)", "", None),
    "live.chunk_p95_ms": ("ms", "same, 95th percentile", "", None),
    "live.sc_db_moving": (
        "dB",
        "live output's SC against the blend of the α it applied, slider moving",
        "≤ export + 2",
        lambda r, v: v <= r["live.sc_db_moving_offline"] + 2,
    ),
    "live.sc_db_moving_offline": ("dB", "an export of the same α curve", "", None),
    "live.sc_db_resting": (
        "dB",
        "same, slider resting (refined)",
        "≤ export + 0.2",
        lambda r, v: v <= r["live.sc_db_resting_offline"] + 0.2,
    ),
    "live.sc_db_resting_offline": ("dB", "an export of the same α curve", "", None),
}


def format_table(results: dict[str, float]) -> str:
    """The results as a table: value, unit, target, whether it is met, what it is."""
    lines = [f"{'key':36s} {'value':>10s} {'unit':5s} {'target':18s} {'met':4s} what"]
    for key, value in results.items():
        unit, what, target, check = DESCRIPTIONS.get(key, ("", "", "", None))
        met = "" if check is None else ("yes" if check(results, value) else "NO")
        lines.append(f"{key:36s} {value:>10g} {unit:5s} {target:18s} {met:4s} {what}")
    return "\n".join(lines)


def markdown_table(results: dict[str, float]) -> str:
    """The results as a Markdown table (``docs/measurements/benchmark-latest.md`` is one):
    made from the measured keys, never retyped."""
    lines = ["| key | measured | target | met | what |", "| --- | --- | --- | --- | --- |"]
    for key, value in results.items():
        unit, what, target, check = DESCRIPTIONS.get(key, ("", "", "", None))
        met = "" if check is None else ("yes" if check(results, value) else "**no**")
        lines.append(f"| `{key}` | {value:g} {unit} | {target} | {met} | {what} |")
    return "\n".join(lines)
