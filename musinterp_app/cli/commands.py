"""What each ``musinterp`` command does, given its parsed arguments: one function a command,
each a thin call into the engine (:mod:`musinterp_app.engine`)."""

import argparse
import json
import secrets
import sys
from pathlib import Path

import numpy as np

from musinterp_app import rebuild, sidecar
from musinterp_app.audio import io, levels, mel, stft
from musinterp_app.audio.cancel import Progress
from musinterp_app.base import files, json_input, limits, resources
from musinterp_app.engine import (
    MODEL_FILES,
    PAIR_SLOTS,
    RENDERER_VERSION,
    BlendSettings,
    Engine,
    ExportOptions,
    PadSettings,
    Settings,
    check_export_path,
    export_audio,
    latest_start_s,
    load_track,
)
from musinterp_app.model import evaluation
from musinterp_app.model.onnx_vae import OnnxVAE


def self_test() -> int:
    """Headless check of a build: load the examples, blend, render; 0 when all works."""
    engine = Engine(_load_model(None))
    examples = sorted(resources.examples_dir().glob("*.ogg"))
    if len(examples) < 2:
        print("self-test failed: the example clips are missing", file=sys.stderr)
        return 1
    for slot, path in zip(PAIR_SLOTS, examples, strict=False):
        engine.set_track(slot, load_track(path, engine.model, overview=False))
    audio = engine.render(BlendSettings(alpha=0.5))
    if not (np.isfinite(audio).all() and np.abs(audio).max() > 1e-3):
        print("self-test failed: the rendered blend is silent or invalid", file=sys.stderr)
        return 1
    print(
        f"self-test passed: model {engine.model.info.model_id}, "
        f"{len(audio) / engine.config.sample_rate:.1f} s blend rendered"
    )
    return 0


def _progress_printer(label: str) -> Progress:
    """A one-line progress display on stderr (only when it is a terminal)."""
    interactive = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if interactive:
            end = "\n" if done >= total else ""
            print(f"\r{label}: {100 * done // max(total, 1):3d}%", end=end, file=sys.stderr)

    return show


def _load_model(folder: str | None) -> OnnxVAE:
    return OnnxVAE(Path(folder) if folder else resources.default_model_dir())


def _render(log_mel: np.ndarray, config: mel.MelConfig, iterations: int) -> np.ndarray:
    """Normalised log-mel ``[n_mels, frames]`` → audio, streamed so memory stays bounded.
    There is no source phase to start from, so it is integrated from the magnitude (see
    ``render.curve.decoded.*`` in ``musinterp bench``)."""
    return mel.to_audio(
        log_mel,
        config,
        n_iter=iterations,
        phase_gradient=True,
        progress=_progress_printer("Griffin-Lim"),
    )


def _model_files(model: OnnxVAE | None) -> tuple[Path, ...]:
    """The files of the model in use (an output must never be one of them)."""
    return tuple(model.info.folder / name for name in MODEL_FILES) if model else ()


def reconstruct(args: argparse.Namespace) -> int:
    model = None if args.no_model else _load_model(args.model)
    suffixes = tuple(io.OUTPUT_FORMATS)
    files.check_output(args.output, suffixes=suffixes, inputs=(args.input, *_model_files(model)))
    config = model.mel_config if model else mel.MelConfig()
    if args.excerpt is None:  # to the end: bounded by the file, then by memory
        length_s = io.probe(args.input).duration_s - args.start
        limits.check_excerpt_memory(length_s, "the excerpt to the file's end (see --excerpt)")
    else:
        limits.check_excerpt_memory(args.excerpt, "--excerpt")
    samples = io.load(
        args.input,
        sample_rate=config.sample_rate,
        offset_s=args.start,
        duration_s=args.excerpt,
        min_duration_s=config.frames_to_seconds(model.info.time_reduction if model else 1),
        progress=_progress_printer("decoding"),
    )
    features = mel.log_mel_long(samples, config)
    if model:
        if not model.info.temporal:
            features = features[:, : config.segment_frames]
        features = model.decode(model.encode(features))[:, : features.shape[1]]
    audio = _render(features, config, args.iterations)
    io.save_audio(
        args.output, levels.limit_peak(audio), config.sample_rate, sample_format=args.bits
    )
    reference = samples[: len(audio)]
    quality = stft.spectral_convergence_db(
        audio,
        stft.magnitude(reference, n_fft=config.n_fft, hop_length=config.hop_length),
        n_fft=config.n_fft,
        hop_length=config.hop_length,
    )
    source = "the mel round trip" if model is None else f"the model “{model.info.folder.name}”"
    print(
        f"wrote {args.output} ({len(audio) / config.sample_rate:.2f} s through {source}; "
        f"spectral convergence {quality:.1f} dB)"
    )
    return 0


def _check_start(path: str, start_s: float, option: str) -> None:
    """Refuse an excerpt start past the end of its file (the window moves it instead)."""
    info = io.probe(path)
    latest = latest_start_s(info)
    if start_s > latest:
        raise limits.OptionError(
            f"{option}: {start_s:g} s is past the end of “{info.path.name}” "
            f"({info.duration_s:.1f} s long); choose 0 … {latest:.1f} s"
        )


def _blend_engine(
    args: argparse.Namespace, slots: tuple[str, ...] = PAIR_SLOTS
) -> tuple[Engine, list[str]]:
    """The engine with the requested tracks (fitted with ``--sync``) and, for the end of the
    output, what was estimated and fitted (one line per track)."""
    engine = Engine(_load_model(args.model))
    requests = [(s, getattr(args, s.lower()), getattr(args, f"start_{s.lower()}")) for s in slots]
    for slot, path, start in requests:  # both checked before anything is said or decoded
        _check_start(path, start, f"--start-{slot.lower()}")
    # The pad's --path and the morph's --curve are inputs too: never written over.
    path_file = tuple(f for f in (getattr(args, "path", None), getattr(args, "curve", None)) if f)
    inputs = (*(path for _, path, _ in requests), *_model_files(engine.model), *path_file)
    check_export_path(args.output, inputs)  # the audio and its sidecar, before any work
    for slot, path, start in requests:
        track = load_track(
            path, engine.model, start_s=start, excerpt_s=args.excerpt, overview=False
        )
        engine.set_track(slot, track)
    for slot, track in engine.tracks.items():  # a request that did not fit its file
        if track is not None and track.note:
            print(f"{slot}: {track.note}", file=sys.stderr)
    return _synced(engine, args) if args.sync else (engine, [])


def _synced(engine: Engine, args: argparse.Namespace) -> tuple[Engine, list[str]]:
    """``--sync``: B (C, D) fitted to A's tempo and/or key, and what was estimated and done."""
    slots = [slot for slot, track in engine.tracks.items() if track is not None]
    tempo_bpm = {s: getattr(args, f"tempo_{s.lower()}") for s in slots}
    keys = {s: getattr(args, f"key_{s.lower()}") for s in slots}
    synced = engine.synced(
        args.sync,
        tempo_bpm={s: bpm for s, bpm in tempo_bpm.items() if bpm is not None},
        keys={s: key for s, key in keys.items() if key is not None},
    )
    lines = []
    for slot in slots:
        tempo, key = synced.estimates(slot)
        given = " (given)" if tempo_bpm[slot] is not None or keys[slot] is not None else ""
        sure = "clear" if tempo.clear else "unclear"
        line = f"{slot}: {tempo.label} (beat {sure}), {key.label}{given}"
        fit = synced.tracks[slot].alignment
        if fit is not None:
            line += f"; fitted to A: ×{fit.speed:.3f} speed, {fit.semitones:+d} semitones"
            line += f", first downbeat moved by {fit.skip_s:.2f} s"
            if synced.tracks[slot].note:
                line += f"\n{slot}: {synced.tracks[slot].note}"
        lines.append(line)
    return synced, lines


def _export_options(args: argparse.Namespace) -> ExportOptions:
    return ExportOptions(
        n_iter=args.iterations,
        level=args.level,
        output_rate=args.rate,
        sample_format=args.bits,
        fade_ms=args.fade_ms,
        mono=args.mono,
    )


def _write_blend(args: argparse.Namespace, settings: Settings, what: str) -> int:
    engine, sync_report = _blend_engine(args, settings.slots)
    if isinstance(settings, BlendSettings) and args.even_steps:
        settings = engine.even_steps(settings)
    written = engine.export(
        args.output, settings, _export_options(args), progress=_progress_printer("rendering")
    )
    sources = " and ".join(
        f"{engine.tracks[s].name} ({engine.tracks[s].start_s:.1f} s…)" for s in settings.slots
    )
    seconds = engine.config.frames_to_seconds(engine.frames_of(settings))
    print(
        f"wrote {written}: {what} of {sources}, {seconds:.2f} s; "
        f"how it was made: {sidecar.path_for(written).name}"
    )
    for line in sync_report:  # what the fit did, after what was written
        print(line)
    return 0


def blend(args: argparse.Namespace) -> int:
    settings = BlendSettings(alpha=args.alpha, mode=args.mode, keep_detail=not args.no_detail)
    return _write_blend(args, settings, f"{args.mode} blend at α = {args.alpha:g}")


def morph(args: argparse.Namespace) -> int:
    if args.curve:
        curve = _read_curve(args.curve)
        settings = BlendSettings(mode=args.mode, curve=curve, keep_detail=not args.no_detail)
        what = f"performance of {len(curve)} points over {curve[-1][0]:g} s"
        return _write_blend(args, settings, what)
    settings = BlendSettings(mode=args.mode, morph=True, keep_detail=not args.no_detail)
    return _write_blend(args, settings, "morph")


def _points_of(path: str) -> json_input.Node:
    """The points of a JSON points file: ``[[…], …]`` or ``{"points": [[…], …]}``."""
    document = json_input.load(path)
    return document["points"] if isinstance(document.value, dict) else document


def _read_curve(path: str) -> tuple[tuple[float, float], ...]:
    """A curve file (see :func:`_points_of`) of ``[seconds, α]`` points (two or more,
    times rising); the excerpt repeats under it when it is longer."""
    points = _points_of(path)
    curve = rebuild.curve_points(points)
    try:
        BlendSettings(curve=curve)
    except ValueError as error:
        raise json_input.JsonInputError(points.path, points.where, str(error)) from None
    return curve


def _read_path(path: str) -> tuple[tuple[float, float], ...]:
    """A pad path file: JSON ``[[x, y], …]`` or ``{"points": [[x, y], …]}`` (at least two
    points on the pad), spread evenly over the excerpt."""
    return rebuild.path_points(_points_of(path))


def pad(args: argparse.Namespace) -> int:
    path = _read_path(args.path) if args.path else ()
    settings = PadSettings(
        x=args.x, y=args.y, path=path, mode=args.mode, keep_detail=not args.no_detail
    )
    where = f"a path of {len(path)} points" if path else f"x = {args.x:g}, y = {args.y:g}"
    return _write_blend(args, settings, f"pad blend at {where}")


def render(args: argparse.Namespace) -> int:
    check_export_path(args.output, (args.sidecar,))  # never over the sidecar read
    record = sidecar.read(args.sidecar)
    render = record.get("render")  # its renderer is checked before the heavy work; a missing
    # or malformed entry is rebuild's to name, in its order
    has_entries = render is not None and isinstance(render.value, dict)
    renderer = render.get("renderer") if has_entries else None
    made_by = 1 if renderer is None else renderer.integer(limits.Range(1, 1000, integer=True))
    engine, settings, options = rebuild.rebuild(record, model_dir=args.model)
    if made_by != RENDERER_VERSION:
        print(
            f"note: {Path(args.sidecar).name} was made by renderer {made_by} and this "
            f"musinterp renders with {RENDERER_VERSION}: the audio will be close "
            "to the export but not identical to it, sample for sample",
            file=sys.stderr,
        )
    written = engine.export(args.output, settings, options, progress=_progress_printer("rendering"))
    print(f"wrote {written}: made again from {Path(args.sidecar).name}")
    return 0


def generate(args: argparse.Namespace) -> int:
    engine = Engine(_load_model(args.model))
    model_files = _model_files(engine.model)
    seed = secrets.randbelow(limits.SEED.high + 1) if args.seed is None else args.seed
    output = args.output or _fresh_name(Path.cwd(), f"generated-{seed}", ".wav")
    files.check_output(output, suffixes=tuple(io.OUTPUT_FORMATS), inputs=model_files)
    source = engine.latent_prior()
    if not source.fitted:
        print(
            "note: this model has no fitted prior (prior.npz), so latents come from N(0, I) "
            "and may sound unlike its music; make one with musinterp-train fit-prior",
            file=sys.stderr,
        )
    audio = engine.generate(
        args.seconds,
        temperature=args.temperature,
        seed=seed,
        kind=args.prior,
        n_iter=args.iterations,
        progress=_progress_printer("generating"),
    )
    export_audio(output, audio, engine.config.sample_rate, level="peak", sample_format=args.bits)
    print(
        f"wrote {output}: {len(audio) / engine.config.sample_rate:.2f} s made by the model "
        f"“{engine.model.info.folder.name}” from seed {seed} (the same seed makes the same "
        f"music: --seed {seed})"
    )
    return 0


def _fresh_name(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem+suffix``, or ``stem-2``, ``stem-3`` … : a name no file has yet."""
    candidate, number = folder / f"{stem}{suffix}", 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{stem}-{number}{suffix}"
    return candidate


def listening_test(args: argparse.Namespace) -> int:
    from musinterp_app import listening_test as listening

    if args.summary:
        print(listening.summary_markdown(listening.summarise(listening.read_answers(args.out))))
        return 0
    if args.listening_test is None:
        raise ValueError(
            "the listening test needs the window: start it with `musinterp listening-test`"
        )
    return args.listening_test(args.tracks, args.out, listener=args.listener, model_dir=args.model)


def info(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    facts, mel_facts = model.info, model.info.mel
    print(f"The model “{facts.folder.name}” (in {facts.folder})")
    print(f"  learnt from     {facts.training_data}")
    print(
        f"  hears           sound up to {mel_facts.fmax_hz / 1000:.1f} kHz in "
        f"{mel_facts.n_mels} pitch bands, "
        f"{mel_facts.sample_rate / mel_facts.hop_length:.0f} snapshots a second"
    )
    if facts.temporal:
        step_ms = 1000 * mel_facts.hop_length * facts.time_reduction / mel_facts.sample_rate
        print(
            f"  remembers       {facts.latent_channels} numbers for every {step_ms:.0f} ms of "
            "music: a blend moves between two pieces' numbers"
        )
    else:
        print(
            f"  remembers       {facts.latent_channels} numbers for a whole "
            f"{mel_facts.segment_seconds:.1f}-s excerpt"
        )
    if args.details:
        print(
            f"  technically     {facts.architecture} network, {facts.parameters_text}; "
            f"mel features at {mel_facts.sample_rate} Hz, n_fft {mel_facts.n_fft}, hop "
            f"{mel_facts.hop_length}; latent time ÷ {facts.time_reduction}; id {facts.model_id}"
        )
    summary = evaluation.load_summary(facts.folder)
    if summary is not None:
        print("\n" + "\n".join(evaluation.plain_words(summary)))
    report = facts.card.split("## Evaluation", 1)
    if len(report) == 2 and args.details:
        print("\n" + plain_text("## Evaluation" + report[1].rstrip()))
    elif len(report) == 2:
        print("\nThe full evaluation (tables): musinterp info --details")
    return 0


def plain_text(markdown: str) -> str:
    """The model card's Markdown as text for a terminal: headings underlined, tables
    in aligned columns, no ``**`` or backquotes."""
    lines, table = [], []

    def flush_table() -> None:
        rows = [[cell.strip() for cell in row.strip("|").split("|")] for row in table]
        rows = [row for row in rows if not all(set(cell) <= set("-: ") for cell in row)]
        widths = [max(len(row[k]) for row in rows if k < len(row)) for k in range(len(rows[0]))]
        for row in rows:
            cells = [
                cell.ljust(widths[k]) if k == 0 else cell.rjust(widths[k])
                for k, cell in enumerate(row)
            ]
            lines.append("  " + "  ".join(cells).rstrip())
        table.clear()

    for line in markdown.replace("**", "").replace("`", "").splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            flush_table()
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            lines += [title, "-" * len(title)]
        else:
            lines.append(line)
    if table:
        flush_table()
    return "\n".join(lines)


def bench(args: argparse.Namespace) -> int:
    from musinterp_app.bench import measure as benchmarks
    from musinterp_app.bench import table as bench_table

    if args.table_of:  # results measured before: only written out again
        results = json_input.load(args.table_of).entries()
        results = {key: node.number() for key, node in results.items()}
    else:
        if args.v2_model:
            OnnxVAE(Path(args.v2_model))  # a folder that holds no model is said before measuring
        results = benchmarks.run_all(
            quick=args.quick,
            model_dir=Path(args.model) if args.model else None,
            v2_dir=Path(args.v2_model) if args.v2_model else None,
        )
    if args.json:
        print(json.dumps(results, indent=2))
    elif args.markdown:
        print(bench_table.markdown_table(results))
    else:
        print(bench_table.format_table(results))
    return 0
