"""``musinterp-train``: prepare → train → export → evaluate (torch lives only here)."""

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from musinterp_app.base import limits
from musinterp_app.base.files import check_regular, reason
from musinterp_app.base.limits import Range
from musinterp_app.training.dataset import fma, shards
from musinterp_app.training.loop.adversarial import CRITICS, AdversarialOptions
from musinterp_app.training.loop.train import TrainOptions
from musinterp_app.training.networks.models import ARCHITECTURES

STEPS = Range(1, 100_000_000, integer=True)
SHARD_SEGMENTS = Range(1, 1_000_000, integer=True)
# The allowed range of every numeric training option (``--NAME`` for ``TrainOptions.NAME``).
TRAIN_RANGES = {
    "width": Range(1, 8192, integer=True),
    "planes": Range(1, 1024, integer=True),
    "latent_channels": Range(1, 8192, integer=True),
    "time_reduction": Range(1, 256, integer=True),
    "batch": Range(1, 65_536, integer=True),
    "crop_frames": Range(1, 1_000_000, integer=True),
    "steps": STEPS,
    "lr": Range(0.0, 1.0, above_low=True),
    "lr_batch": Range(1, 65_536, integer=True),
    "lr_warmup_steps": Range(0, 100_000_000, integer=True),
    "beta": Range(0.0, 1000.0),
    "warmup_steps": Range(0, 100_000_000, integer=True),
    "coarse_weight": Range(0.0, 1000.0),
    "detail_weight": Range(0.0, 1000.0),
    "convergence_weight": Range(0.0, 1000.0),
    "gain_db": Range(0.0, 60.0, "dB"),
    "tilt_db": Range(0.0, 60.0, "dB"),
    "mix_probability": Range(0.0, 1.0),
    "validate_every": STEPS,
    "validation_segments": Range(1, 1_000_000, integer=True),
    "seed": Range(0, 2**32 - 1, integer=True),
    "threads": Range(0, 1024, integer=True),  # 0: all cores
}

# The same for stage 2 (``AdversarialOptions.NAME``); shared names keep stage 1's range.
ADVERSARIAL_RANGES = TRAIN_RANGES | {
    "discriminator_lr": Range(0.0, 1.0, above_low=True),
    "discriminator_channels": Range(1, 256, integer=True),
    "discriminator_warmup_steps": Range(0, 100_000_000, integer=True),
    "adversarial_weight": Range(0.0, 1000.0),
    "feature_weight": Range(0.0, 1000.0),
    "interpolation_weight": Range(0.0, 1000.0),
    "posterior_noise": Range(0.0, 1.0),
}


def _prepare(args: argparse.Namespace) -> int:
    from musinterp_app.training.dataset import data

    summary = data.prepare(
        [Path(folder) for folder in args.audio],
        Path(args.out),
        fma_metadata=Path(args.fma_metadata) if args.fma_metadata else None,
        fma_subset=args.fma_subset,
        fma_balanced=args.fma_balanced,
        workers=args.workers,
        part=args.shard,
        shard_segments=args.shard_segments,
        exr=not args.no_exr,
    )
    print(json.dumps(summary, indent=2))
    if summary["skipped"]:
        print(f"{summary['skipped']} files skipped: see {Path(args.out) / 'skipped.csv'}")
    return 0 if summary["segments"] else 1


def _merge(args: argparse.Namespace) -> int:
    from musinterp_app.training.dataset import data

    print(json.dumps(data.merge([Path(p) for p in args.parts], Path(args.out)), indent=2))
    return 0


def _part(text: str) -> tuple[int, int]:
    """An argparse ``type=`` for ``K/N``: this machine prepares part K of N (1 ≤ K ≤ N)."""
    numbers = text.split("/")
    if len(numbers) == 2 and all(n.strip().isdigit() for n in numbers):
        part, parts = (int(n) for n in numbers)
        if 1 <= part <= parts <= 100_000:
            return part, parts
    raise argparse.ArgumentTypeError(f"{text!r} is not K/N with 1 <= K <= N (e.g. 2/8)")


def _train(args: argparse.Namespace) -> int:
    from musinterp_app.training.loop.train import train

    options = TrainOptions(
        **{f.name: getattr(args, f.name) for f in fields(TrainOptions) if hasattr(args, f.name)}
    )
    summary = train(
        Path(args.data),
        Path(args.out),
        options,
        resume=args.resume,
        stop_after_steps=args.stop_after_steps,
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        print(json.dumps(summary, indent=2))
    return 0


def _adversarial(args: argparse.Namespace) -> int:
    from musinterp_app.training.loop.adversarial import train_adversarial

    options = AdversarialOptions(
        **{f.name: getattr(args, f.name) for f in fields(AdversarialOptions)}
    )
    summary = train_adversarial(
        Path(args.data),
        Path(args.out),
        Path(args.start),
        options,
        resume=args.resume,
        stop_after_steps=args.stop_after_steps,
    )
    print(json.dumps(summary, indent=2))
    return 0


def _add_options(parser: argparse.ArgumentParser, kind: type, ranges: dict) -> None:
    """``--NAME`` for every field of the options dataclass ``kind``, bounded by ``ranges``."""
    for option in fields(kind):
        if option.name in ranges:
            parser.add_argument(
                f"--{option.name.replace('_', '-')}",
                type=limits.bounded(ranges[option.name]),
                default=option.default,
                dest=option.name,
            )


def _add_run_control(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    parser.add_argument(
        "--stop-after-steps",
        type=limits.bounded(STEPS),
        metavar="N",
        help="stop this call at step N (the schedule still ends at --steps; --resume continues)",
    )


def _export(args: argparse.Namespace) -> int:
    from musinterp_app.training.networks.export import export

    card = export(
        Path(args.run),
        Path(args.output),
        commands=args.commands,
        data_notes=Path(args.data_notes) if args.data_notes else None,
    )
    print(f"wrote {args.output} ({card})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from musinterp_app.training.evaluation.evaluate import evaluate

    report = evaluate(
        Path(args.model),
        Path(args.data),
        baselines=[Path(folder) for folder in args.baseline],
        out=Path(args.out) if args.out else None,
    )
    print(json.dumps(report["summary"], indent=2))
    return 0


def _explore(args: argparse.Namespace) -> int:
    from musinterp_app.training.evaluation.explore import explore

    summary = explore(
        Path(args.output),
        cache=Path(args.data) if args.data else None,
        audio=[Path(folder) for folder in args.audio],
        fma_metadata=Path(args.fma_metadata) if args.fma_metadata else None,
        fma_features=Path(args.fma_features) if args.fma_features else None,
        fma_echonest=Path(args.fma_echonest) if args.fma_echonest else None,
    )
    print(json.dumps(summary["maps"], indent=2))
    print(f"wrote {Path(args.output) / 'REPORT.md'}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from musinterp_app.model.onnx_vae import OnnxVAE
    from musinterp_app.training.evaluation.classifiers import (
        compare_on_cache,
        compare_on_fma,
        write_report,
    )

    if args.fma_features:  # FMA's own features: its split, its balanced genres
        if not args.fma_metadata:
            raise ValueError("--fma-features needs FMA's tracks.csv (--fma-metadata) for genres")
        comparison = compare_on_fma(Path(args.fma_metadata), Path(args.fma_features))
    elif args.data:
        model = OnnxVAE(Path(args.model)) if args.model else None
        comparison = compare_on_cache(Path(args.data), model=model)
    else:
        raise ValueError("give a prepared cache (--data) or FMA's tables (--fma-metadata, …)")
    path = write_report(comparison, Path(args.output))
    print(path.read_text())
    return 0


def _fit_prior(args: argparse.Namespace) -> int:
    from musinterp_app.training.evaluation.generation import fit_and_measure

    report = fit_and_measure(Path(args.model), Path(args.data), clips=args.clips)
    print(json.dumps(report, indent=2))
    return 0


def _sync_study(args: argparse.Namespace) -> int:
    from musinterp_app.training.evaluation import sync_study

    result = sync_study.study(
        [Path(p) for p in args.audio],
        [Path(p) for p in args.modules],
        generated=args.generated,
        tracks=args.tracks,
    )
    sync_study.write(result, Path(args.output))
    print(sync_study.markdown(result))
    return 0


def _a_file(text: str) -> str:
    """An argparse ``type=`` for a file to read: refused at once when it is missing or
    no file at all (a pipe would block the command)."""
    try:
        check_regular(text)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"{text}: {reason(error)}") from None
    return text


def _add_prepare(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train prepare``'s options."""
    prep = commands.add_parser("prepare", help="folders of audio → cache of log-mel segments")
    prep.add_argument("--audio", nargs="+", required=True, metavar="DIR", help="folders to scan")
    prep.add_argument("--out", required=True, metavar="CACHE", help="cache folder (resumable)")
    prep.add_argument(
        "--fma-metadata", type=_a_file, metavar="tracks.csv", help="FMA metadata for genre labels"
    )
    prep.add_argument(
        "--fma-subset",
        choices=fma.SUBSETS,
        default="full",
        help="with --fma-metadata: FMA's subset to use (default: every track found)",
    )
    prep.add_argument(
        "--fma-balanced",
        action="store_true",
        help="with --fma-metadata: FMA small's 8 genres, as many tracks of each",
    )
    prep.add_argument(
        "--workers", type=limits.bounded(limits.WORKERS), default=2, help="parallel processes"
    )
    prep.add_argument(
        "--shard",
        type=_part,
        default=(1, 1),
        metavar="K/N",
        help="prepare part K of N (N machines, one part each; then merge)",
    )
    prep.add_argument(
        "--shard-segments",
        type=limits.bounded(SHARD_SEGMENTS),
        default=shards.SHARD_SEGMENTS,
        metavar="N",
        help=f"segments per shard file ({SHARD_SEGMENTS.describe()})",
    )
    prep.add_argument(
        "--no-exr", action="store_true", help="write no OpenEXR segments (training reads shards)"
    )
    prep.set_defaults(handler=_prepare)


def _add_merge(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train merge``'s options."""
    mer = commands.add_parser("merge", help="check the parts of prepare --shard and join them")
    mer.add_argument("parts", nargs="+", metavar="PART", help="the caches of parts 1 … N")
    mer.add_argument("--out", required=True, metavar="CACHE", help="the joined cache")
    mer.set_defaults(handler=_merge)


def _add_train(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train train``'s options."""
    defaults = TrainOptions()
    tr = commands.add_parser("train", help="train a VAE on a prepared cache")
    tr.add_argument("--data", required=True, metavar="CACHE")
    tr.add_argument("--out", required=True, metavar="RUN", help="run folder (checkpoints, log)")
    tr.add_argument("--arch", choices=sorted(ARCHITECTURES), default=defaults.arch)
    _add_run_control(tr)
    _add_options(tr, TrainOptions, TRAIN_RANGES)
    tr.set_defaults(handler=_train)


def _add_adversarial(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train adversarial``'s options."""
    adv = commands.add_parser(
        "adversarial",
        help="stage 2: sharpen a model's decoder against a discriminator (encoder frozen)",
    )
    adv.add_argument("--data", required=True, metavar="CACHE")
    adv.add_argument(
        "--start", required=True, metavar="MODEL_DIR|RUN", help="the model to start from"
    )
    adv.add_argument("--out", required=True, metavar="RUN", help="run folder (checkpoints, log)")
    _add_run_control(adv)
    _add_options(adv, AdversarialOptions, ADVERSARIAL_RANGES)
    adv.add_argument(
        "--critic",
        choices=CRITICS,
        default=AdversarialOptions.critic,
        help="the interpolation critic counts interpolants as fakes (fake) or regresses how "
        "far between the two pieces they lie (alpha, ACAI's form)",
    )
    adv.set_defaults(handler=_adversarial)


def _add_export(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train export``'s options."""
    ex = commands.add_parser("export", help="RUN → encoder.onnx, decoder.onnx, MODEL.md")
    ex.add_argument("run", metavar="RUN")
    ex.add_argument("-o", "--output", required=True, metavar="MODEL_DIR")
    ex.add_argument("--commands", default="", help="the commands that made it (for the card)")
    ex.add_argument(
        "--data-notes", type=_a_file, metavar="FILE", help="Markdown about the data, for the card"
    )
    ex.set_defaults(handler=_export)


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train evaluate``'s options."""
    ev = commands.add_parser("evaluate", help="metrics, plots and a report for a model")
    ev.add_argument("model", metavar="MODEL_DIR")
    ev.add_argument("--data", required=True, metavar="CACHE")
    ev.add_argument(
        "--baseline",
        metavar="MODEL_DIR",
        action="append",
        default=[],
        help="another model folder to compare with (repeatable)",
    )
    ev.add_argument("--out", metavar="DIR", help="where to write the report (default: MODEL_DIR)")
    ev.set_defaults(handler=_evaluate)


def _add_explore(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train explore``'s options."""
    exp = commands.add_parser("explore", help="a data set's labels and 2-D maps (a report)")
    exp.add_argument("--data", metavar="CACHE", help="a prepared cache (mel statistics per clip)")
    exp.add_argument(
        "--audio",
        nargs="+",
        default=[],
        metavar="DIR",
        help="folders of audio, one per label (no cache needed: the first 3 clips of each file)",
    )
    exp.add_argument("--fma-metadata", type=_a_file, metavar="tracks.csv", help="FMA's genres")
    exp.add_argument("--fma-features", type=_a_file, metavar="features.csv", help="FMA's features")
    exp.add_argument(
        "--fma-echonest", type=_a_file, metavar="echonest.csv", help="FMA's Echo Nest features"
    )
    exp.add_argument("-o", "--output", required=True, metavar="REPORT_DIR")
    exp.set_defaults(handler=_explore)


def _add_classify(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train classify``'s options."""
    cls = commands.add_parser(
        "classify", help="the report's six classifiers on a cache (and a model's blends)"
    )
    cls.add_argument("--data", metavar="CACHE", help="a prepared cache (mel statistics per clip)")
    cls.add_argument("--model", metavar="MODEL_DIR", help="also label its reconstructions, blends")
    cls.add_argument("--fma-metadata", type=_a_file, metavar="tracks.csv", help="FMA's genres")
    cls.add_argument(
        "--fma-features",
        type=_a_file,
        metavar="features.csv",
        help="classify FMA small's tracks on these features instead (FMA's split)",
    )
    cls.add_argument("-o", "--output", required=True, metavar="REPORT_DIR")
    cls.set_defaults(handler=_classify)


def _add_fit_prior(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train fit-prior``'s options."""
    fit = commands.add_parser(
        "fit-prior", help="fit a model's latent prior for generation (writes MODEL_DIR/prior.npz)"
    )
    fit.add_argument("model", metavar="MODEL_DIR")
    fit.add_argument("--data", required=True, metavar="CACHE", help="the cache it was trained on")
    fit.add_argument(
        "--clips",
        type=limits.bounded(Range(10, 100_000, integer=True)),
        default=2000,
        help="training clips to fit on (10 … 100000)",
    )
    fit.set_defaults(handler=_fit_prior)


def _add_sync_study(commands: argparse._SubParsersAction) -> None:
    """``musinterp-train sync-study``'s options."""
    sync = commands.add_parser(
        "sync-study", help="how accurate and steady the window's tempo and key estimates are"
    )
    sync.add_argument("--audio", nargs="*", default=[], metavar="DIR", help="real music")
    sync.add_argument(
        "--modules", nargs="*", default=[], metavar="DIR", help="tracker modules (.mod, .xm)"
    )
    sync.add_argument(
        "--generated",
        type=limits.bounded(Range(0, 10_000, integer=True)),
        default=48,
        help="generated clips of known tempo and key",
    )
    sync.add_argument(
        "--tracks",
        type=limits.bounded(Range(1, 100_000, integer=True)),
        default=120,
        help="at most this many real tracks",
    )
    sync.add_argument("-o", "--output", required=True, metavar="REPORT_DIR")
    sync.set_defaults(handler=_sync_study)


def build_parser() -> argparse.ArgumentParser:
    parser = limits.OneLineParser(
        prog="musinterp-train", description="Train a musinterp VAE on your own music."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_prepare(commands)
    _add_merge(commands)
    _add_train(commands)
    _add_adversarial(commands)
    _add_export(commands)
    _add_evaluate(commands)
    _add_explore(commands)
    _add_classify(commands)
    _add_fit_prior(commands)
    _add_sync_study(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.handler(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a path that cannot be used: a file where a folder must be, …
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{reason(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted; rerun the same command (with --resume for train) to continue",
            file=sys.stderr,
        )
        return 130
