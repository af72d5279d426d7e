"""Headless commands of ``musinterp`` (see ``musinterp --help``).

A thin face on the engine (:mod:`musinterp_app.engine`): parse the arguments
(every number checked against its range in :mod:`musinterp_app.limits`), call
one function, report errors as one line and a non-zero exit status.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from musinterp_app import __version__, engine, limits, resources
from musinterp_app.audio import io, levels, mel, stft
from musinterp_app.audio.cancel import Progress
from musinterp_app.model import evaluation, latent, prior
from musinterp_app.model.onnx_vae import ModelError, OnnxVAE

COMMANDS = ("reconstruct", "blend", "morph", "generate", "survey", "info", "bench")


GUI_FLAGS = ("--exit-when-shown",)
RENDERING_COMMANDS = ("reconstruct", "blend", "morph")  # long runs: progress and time shown


def wants_gui(args: list[str]) -> bool:
    """No subcommand (nothing, files to open, window flags) means the window."""
    return (
        not args
        or args[0] in GUI_FLAGS
        or (args[0] not in COMMANDS and not args[0].startswith("-"))
    )


def self_test() -> int:
    """Headless check of a build: load the examples, blend, render; 0 when all works."""
    blender = engine.Engine(_load_model(None))
    examples = sorted(resources.examples_dir().glob("*.ogg"))
    if len(examples) < 2:
        print("self-test failed: the example clips are missing", file=sys.stderr)
        return 1
    for slot, path in zip(("A", "B"), examples, strict=False):
        blender.set_track(slot, engine.load_track(path, blender.model, overview=False))
    audio = blender.render(engine.BlendSettings(alpha=0.5))
    if not (np.isfinite(audio).all() and np.abs(audio).max() > 1e-3):
        print("self-test failed: the rendered blend is silent or invalid", file=sys.stderr)
        return 1
    print(
        f"self-test passed: model {blender.model.info.model_id}, "
        f"{len(audio) / blender.config.sample_rate:.1f} s blend rendered"
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
    """Normalised log-mel ``[n_mels, frames]`` → audio, streamed so memory stays bounded."""
    chunks = mel.audio_stream(
        lambda start, stop: log_mel[:, start:stop],
        log_mel.shape[1],
        config,
        n_iter=iterations,
        progress=_progress_printer("Griffin-Lim"),
    )
    return np.concatenate(list(chunks))


def reconstruct(args: argparse.Namespace) -> int:
    model = None if args.no_model else _load_model(args.model)
    config = model.mel_config if model else mel.MelConfig()
    if args.duration is None:  # to the end: bounded by the file, then by memory
        length_s = io.probe(args.input).duration_s - args.start
        limits.check_excerpt_memory(length_s, "the excerpt to the file's end (see --duration)")
    else:
        limits.check_excerpt_memory(args.duration, "--duration")
    samples = io.load(
        args.input,
        sample_rate=config.sample_rate,
        offset_s=args.start,
        duration_s=args.duration,
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
    source = "the mel round trip" if model is None else f"model {model.info.model_id}"
    print(
        f"wrote {args.output} ({len(audio) / config.sample_rate:.2f} s through {source}; "
        f"spectral convergence {quality:.1f} dB)"
    )
    return 0


def _check_start(path: str, start_s: float, option: str) -> None:
    """Refuse an excerpt start past the end of its file (the window moves it instead)."""
    info = io.probe(path)
    latest = engine.latest_start_s(info)
    if start_s > latest:
        raise limits.OptionError(
            f"{option}: {start_s:g} s is past the end of “{info.path.name}” "
            f"({info.duration_s:.1f} s long); choose 0 … {latest:.1f} s"
        )


def _blend_engine(args: argparse.Namespace) -> engine.Engine:
    blender = engine.Engine(_load_model(args.model))
    requests = [("A", args.a, args.start_a), ("B", args.b, args.start_b)]
    for slot, path, start in requests:  # both checked before anything is said or decoded
        _check_start(path, start, f"--start-{slot.lower()}")
    for slot, path, start in requests:
        track = engine.load_track(
            path, blender.model, start_s=start, duration_s=args.duration, overview=False
        )
        blender.set_track(slot, track)
    for slot, track in blender.tracks.items():  # a request that did not fit its file
        if track is not None and track.note:
            print(f"{slot}: {track.note}", file=sys.stderr)
    return blender


def _write_blend(args: argparse.Namespace, settings: engine.BlendSettings, what: str) -> int:
    blender = _blend_engine(args)
    audio = blender.render(
        settings, n_iter=args.iterations, progress=_progress_printer("rendering")
    )
    if blender.stereo and not args.mono:
        audio = blender.with_stereo_image(settings, audio)
    engine.export_audio(
        args.output,
        audio,
        blender.config.sample_rate,
        level=args.level,
        output_rate=args.rate,
        sample_format=args.bits,
        fade_ms=args.fade_ms,
    )
    a, b = blender.tracks["A"], blender.tracks["B"]
    print(
        f"wrote {args.output}: {what} of {a.name} ({a.start_s:.1f} s…) and {b.name} "
        f"({b.start_s:.1f} s…), {len(audio) / blender.config.sample_rate:.2f} s"
    )
    return 0


def blend(args: argparse.Namespace) -> int:
    settings = engine.BlendSettings(
        alpha=args.alpha, mode=args.mode, keep_detail=not args.no_detail
    )
    return _write_blend(args, settings, f"{args.mode} blend at α = {args.alpha:g}")


def morph(args: argparse.Namespace) -> int:
    settings = engine.BlendSettings(mode=args.mode, morph=True, keep_detail=not args.no_detail)
    return _write_blend(args, settings, "morph")


def generate(args: argparse.Namespace) -> int:
    blender = engine.Engine(_load_model(args.model))
    source = blender.latent_prior()
    if not source.fitted:
        print(
            "note: this model has no fitted prior (prior.npz), so latents come from N(0, I) "
            "and may sound unlike its music; make one with musinterp-train fit-prior",
            file=sys.stderr,
        )
    audio = blender.generate(
        args.seconds,
        temperature=args.temperature,
        seed=args.seed,
        kind=args.prior,
        n_iter=args.iterations,
        progress=_progress_printer("generating"),
    )
    engine.export_audio(
        args.output, audio, blender.config.sample_rate, level="peak", sample_format=args.bits
    )
    print(
        f"wrote {args.output}: {len(audio) / blender.config.sample_rate:.2f} s generated by "
        f"model {blender.model.info.model_id} ({args.prior} prior, temperature "
        f"{args.temperature:g}, seed {args.seed})"
    )
    return 0


def survey(args: argparse.Namespace) -> int:
    from musinterp_app import survey as listening

    if args.summary:
        print(listening.summary_markdown(listening.summarise(listening.read_answers(args.out))))
        return 0
    from musinterp_app.gui.listening_test import run_survey  # the window's dialog

    return run_survey(args.tracks, args.out, listener=args.listener, model_dir=args.model)


def info(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    facts = model.info
    print(f"model {facts.model_id} in {facts.folder}")
    print(f"  architecture   {facts.architecture} ({facts.parameters_text})")
    if facts.temporal:
        rate = facts.mel.sample_rate / facts.mel.hop_length / facts.time_reduction
        print(
            f"  latent         {facts.latent_channels} channels per latent frame, "
            f"{rate:.0f} latent frames/s (time ÷ {facts.time_reduction})"
        )
    else:
        print(
            f"  latent         one {facts.latent_channels}-d vector per "
            f"{facts.mel.segment_seconds:.1f}-s excerpt"
        )
    print(
        f"  features       {facts.mel.n_mels} mel bands, {facts.mel.sample_rate} Hz, "
        f"n_fft {facts.mel.n_fft}, hop {facts.mel.hop_length}"
    )
    print(f"  trained on     {facts.training_data}")
    summary = evaluation.load_summary(facts.folder)
    if summary is not None:
        print("\n" + "\n".join(evaluation.plain_words(summary)))
    report = facts.card.split("## Evaluation", 1)
    if len(report) == 2:
        print("\n## Evaluation" + report[1].rstrip())
    return 0


def bench(args: argparse.Namespace) -> int:
    from musinterp_app import bench as benchmarks

    results = benchmarks.run_all(
        quick=args.quick, model_dir=Path(args.model) if args.model else None
    )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(benchmarks.format_table(results))
    return 0


def _number(parser, flag: str, allowed: limits.Range, default, help_text: str) -> None:
    """A numeric option whose value is checked against ``allowed`` (the ranges live in
    :mod:`musinterp_app.limits`); its help ends with the range."""
    parser.add_argument(
        flag,
        type=limits.bounded(allowed),
        default=default,
        metavar=allowed.unit.upper() or "N",
        help=f"{help_text} ({allowed.describe()})",
    )


def _add_bits_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bits",
        choices=tuple(io.SAMPLE_FORMATS),
        default="16",
        help="sample format of the file (16, 24 or float); the name's extension "
        "(.wav, .flac, .ogg) chooses the file type",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = limits.OneLineParser(
        prog="musinterp",
        description="Blend two pieces of music through a VAE's latent space. "
        "Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"musinterp {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation headless (examples → blend → audio)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    rec = commands.add_parser(
        "reconstruct", help="encode and decode a clip with the model, back to audio"
    )
    rec.add_argument("input", help=f"audio file ({io.FORMAT_NAMES})")
    rec.add_argument("-o", "--output", required=True, help="WAV file to write")
    rec.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")
    rec.add_argument("--no-model", action="store_true", help="skip the VAE: mel → audio only")
    _number(rec, "--start", limits.START_S, 0.0, "excerpt start")
    _number(rec, "--duration", limits.EXCERPT_S, None, "excerpt length; default: to the end")
    _number(rec, "--iterations", limits.ITERATIONS, 32, "Griffin-Lim iterations")
    _add_bits_option(rec)
    rec.set_defaults(handler=reconstruct)

    for name, help_text in [
        ("blend", "blend two clips at one α and write a WAV"),
        ("morph", "morph from A to B over the excerpt and write a WAV"),
    ]:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("a", metavar="A", help="first audio file")
        sub.add_argument("b", metavar="B", help="second audio file")
        sub.add_argument("-o", "--output", required=True, help="WAV file to write")
        if name == "blend":
            _number(sub, "--alpha", limits.ALPHA, 0.5, "0 = all A … 1 = all B")
        sub.add_argument(
            "--mode",
            choices=latent.MODES,
            default="lerp",
            help="linear or spherical interpolation of the latents",
        )
        _number(sub, "--start-a", limits.START_S, 0.0, "A's excerpt start")
        _number(sub, "--start-b", limits.START_S, 0.0, "B's excerpt start")
        _number(sub, "--duration", limits.EXCERPT_S, engine.DEFAULT_EXCERPT_S, "excerpt length")
        sub.add_argument(
            "--no-detail",
            action="store_true",
            help="do not add back the detail the model misses (pure model output)",
        )
        sub.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")
        _number(
            sub,
            "--iterations",
            limits.ITERATIONS,
            engine.RENDER_ITERATIONS,
            "Griffin-Lim iterations from the sources' phase (more: slower, a little cleaner)",
        )
        sub.add_argument(
            "--level",
            choices=engine.EXPORT_LEVELS,
            default="match",
            help="match: the level you would hear (limited so it never clips); "
            "peak: loudest sample at -1 dBFS",
        )
        _number(
            sub,
            "--rate",
            limits.OUTPUT_RATE_HZ,
            None,
            "output sample rate, e.g. 44100 or 48000 (default: the model's)",
        )
        _number(sub, "--fade-ms", limits.FADE_MS, engine.DEFAULT_FADE_MS, "fade at both ends")
        sub.add_argument(
            "--mono",
            action="store_true",
            help="write one channel even when a source is stereo",
        )
        _add_bits_option(sub)
        sub.set_defaults(handler=blend if name == "blend" else morph)

    gen = commands.add_parser("generate", help="make new music from the model's latent prior")
    gen.add_argument("-o", "--output", required=True, help="audio file to write")
    _number(gen, "--seconds", limits.EXCERPT_S, 10.0, "length")
    _number(gen, "--temperature", limits.TEMPERATURE, engine.GENERATE_TEMPERATURE, "spread")
    _number(gen, "--seed", limits.SEED, 0, "the same seed gives the same music")
    gen.add_argument(
        "--prior",
        choices=prior.KINDS,
        default=prior.DEFAULT_KIND,
        help="how latents move in time: ar (fitted walk), spectral (filtered noise), "
        "white (independent frames)",
    )
    _number(gen, "--iterations", limits.ITERATIONS, engine.GENERATE_ITERATIONS, "Griffin-Lim")
    gen.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")
    _add_bits_option(gen)
    gen.set_defaults(handler=generate)

    sur = commands.add_parser(
        "survey", help="a blind listening test on your own tracks (opens a window)"
    )
    sur.add_argument("tracks", nargs="*", metavar="TRACK", help="audio files to build trials from")
    sur.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the answers (answers.csv)"
    )
    sur.add_argument("--listener", default="", help="your name (asked for when not given)")
    sur.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")
    sur.add_argument(
        "--summary", action="store_true", help="print the summary of DIR's answers and exit"
    )
    sur.set_defaults(handler=survey)

    inf = commands.add_parser("info", help="what a model is and how well it does")
    inf.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")
    inf.set_defaults(handler=info)

    ben = commands.add_parser("bench", help="measure speed and quality")
    ben.add_argument("--json", action="store_true", help="print one JSON object")
    ben.add_argument("--quick", action="store_true", help="fewer repeats (for tests)")
    ben.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")
    ben.set_defaults(handler=bench)
    return parser


def run(args: list[str]) -> int:
    """Run a headless command; returns the process exit status."""
    parser = build_parser()
    options = parser.parse_args(args)
    if options.self_test:
        options.handler = lambda _options: self_test()
    elif options.command is None:
        parser.print_help()
        return 2
    started = time.perf_counter()
    try:
        status = options.handler(options)
    except (io.AudioLoadError, io.AudioSaveError, ModelError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    if options.command in RENDERING_COMMANDS and sys.stderr.isatty():  # beside the progress
        print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return status
