"""The ``musinterp`` command line: every command's options, each number checked against its
range in :mod:`musinterp_app.base.limits`, options that several commands share defined once."""

import argparse

from musinterp_app import __version__, engine
from musinterp_app.audio import io
from musinterp_app.audio.analysis import Key
from musinterp_app.audio.stretch import SYNC_CHOICES
from musinterp_app.base import limits
from musinterp_app.cli.commands import (
    bench,
    blend,
    generate,
    info,
    listening_test,
    morph,
    pad,
    reconstruct,
    render,
)
from musinterp_app.model import latent, prior


def _number(
    parser, flag: str, allowed: limits.Range, default, help_text: str, *aliases: str
) -> None:
    """A numeric option whose value is checked against ``allowed`` (the ranges live in
    :mod:`musinterp_app.base.limits`); its help ends with the range. ``aliases``: older
    spellings of ``flag`` that still work, left out of the help."""
    checked = limits.bounded(allowed)
    parser.add_argument(
        flag,
        type=checked,
        default=default,
        metavar=allowed.unit.upper() or "N",
        help=f"{help_text} ({allowed.describe()})",
    )
    for alias in aliases:
        dest = flag.lstrip("-").replace("-", "_")
        parser.add_argument(
            alias, dest=dest, type=checked, default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def _sync_choice(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    if not chosen or set(chosen) - set(SYNC_CHOICES):
        raise argparse.ArgumentTypeError(f"{text!r}: choose tempo, key or tempo,key")
    return chosen


def _key_choice(text: str) -> Key:
    try:
        return Key.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_sync_options(parser: argparse.ArgumentParser, slots: tuple[str, ...]) -> None:
    parser.add_argument(
        "--sync",
        type=_sync_choice,
        default=(),
        metavar="tempo|key|tempo,key",
        help="fit the other tracks to A: stretch to A's tempo with the first downbeats "
        "together (Rubber Band), and/or shift by the smallest interval to A's key",
    )
    for slot in slots:
        _number(
            parser,
            f"--tempo-{slot.lower()}",
            limits.TEMPO_BPM,
            None,
            f"{slot}'s tempo when the estimate is wrong (e.g. double or half)",
        )
        parser.add_argument(
            f"--key-{slot.lower()}",
            type=_key_choice,
            metavar="KEY",
            help=f"{slot}'s key when the estimate is wrong, e.g. 'A minor' (the relative key)",
        )


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")


def _add_bits_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bits",
        choices=tuple(io.SAMPLE_FORMATS),
        default="16",
        help="sample format of the file (16, 24 or float); the name's extension "
        "(.wav, .flac, .ogg) chooses the file type",
    )


OUTPUT_HELP = "audio file to write: .wav, .flac or .ogg"


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

    _add_reconstruct(commands)
    _add_blend_commands(commands)
    _add_render(commands)
    _add_generate(commands)
    _add_listening_test(commands)
    _add_info(commands)
    _add_bench(commands)
    return parser


def _add_reconstruct(commands) -> None:
    """``reconstruct``: a clip through the model (or only the mel round trip)."""
    rec = commands.add_parser(
        "reconstruct", help="encode and decode a clip with the model, back to audio"
    )
    rec.add_argument("input", help=f"audio file ({io.FORMAT_NAMES})")
    rec.add_argument("-o", "--output", required=True, help=OUTPUT_HELP)
    _add_model_option(rec)
    rec.add_argument("--no-model", action="store_true", help="skip the VAE: mel → audio only")
    _number(rec, "--start", limits.START_S, 0.0, "excerpt start")
    _number(
        rec,
        "--excerpt",
        limits.EXCERPT_S,
        None,
        "excerpt length; default: to the end",
        "--duration",
    )
    _number(rec, "--iterations", limits.ITERATIONS, 32, "Griffin-Lim iterations")
    _add_bits_option(rec)
    rec.set_defaults(handler=reconstruct)


def _add_blend_commands(commands) -> None:
    """``blend, morph and pad``: their sources, settings, sync and export options."""
    for name, help_text in [
        ("blend", "blend two clips at one α and write an audio file"),
        ("morph", "morph from A to B over the excerpt and write an audio file"),
        ("pad", "blend four clips on the corners of an XY pad (A B top, C D bottom)"),
    ]:
        slots = engine.SLOTS if name == "pad" else engine.PAIR_SLOTS
        sub = commands.add_parser(name, help=help_text)
        for slot, words in zip(slots, ("first", "second", "third", "fourth"), strict=False):
            sub.add_argument(slot.lower(), metavar=slot, help=f"{words} audio file")
        sub.add_argument(
            "-o", "--output", required=True, help=f"{OUTPUT_HELP}; how it was made goes beside it"
        )
        if name == "blend":
            _number(sub, "--alpha", limits.ALPHA, 0.5, "0 = all A … 1 = all B")
        if name == "morph":
            sub.add_argument(
                "--curve",
                metavar="JSON",
                help="follow α over time instead of ramping across the excerpt: a JSON file "
                "of [seconds, α] points, e.g. [[0, 0], [2, 1], [8, 0.3]] (the excerpt repeats "
                "under a longer curve; a recorded performance's sidecar holds one)",
            )
        if name == "pad":
            _number(sub, "--x", limits.PAD, 0.5, "0 = A (and C) … 1 = B (and D)")
            _number(sub, "--y", limits.PAD, 0.5, "0 = A and B … 1 = C and D")
            sub.add_argument(
                "--path",
                metavar="JSON",
                help="a path to follow over the excerpt instead of one place: "
                "a JSON file of [x, y] points, e.g. [[0, 0], [1, 0], [1, 1]]",
            )
        else:
            sub.add_argument(
                "--even-steps",
                action=argparse.BooleanOptionalAction,
                default=True,
                help="re-space α so equal steps change the sound equally (measured log-mel "
                "distance; on by default)",
            )
        _add_sync_options(sub, slots)
        sub.add_argument(
            "--mode",
            choices=latent.MODES,
            default=latent.DEFAULT_MODE,
            help="linear or spherical interpolation of the latents "
            f"(default: {latent.DEFAULT_MODE})",
        )
        for slot in slots:
            _number(sub, f"--start-{slot.lower()}", limits.START_S, 0.0, f"{slot}'s excerpt start")
        _number(
            sub, "--excerpt", limits.EXCERPT_S, engine.DEFAULT_EXCERPT_S, "excerpt length",
            "--duration",
        )  # fmt: skip
        sub.add_argument(
            "--no-detail",
            action="store_true",
            help="do not add back the detail the model misses (pure model output)",
        )
        _add_model_option(sub)
        _add_export_options(sub)
        sub.set_defaults(handler={"blend": blend, "morph": morph, "pad": pad}[name])


def _add_export_options(sub) -> None:
    """How an export is rendered and written: quality, level, rate, fades, channels, format."""
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
        "output sample rate in Hz, e.g. 44100 or 48000 (default: the sources', the "
        "higher when they differ)",
    )
    _number(sub, "--fade-ms", limits.FADE_MS, engine.DEFAULT_FADE_MS, "fade at both ends")
    sub.add_argument(
        "--mono",
        action="store_true",
        help="write one channel even when a source is stereo",
    )
    _add_bits_option(sub)


def _add_render(commands) -> None:
    """``render``: an export made again from its sidecar."""
    again = commands.add_parser(
        "render", help="make an export again from its NAME.musinterp.json (same bytes)"
    )
    again.add_argument("sidecar", metavar="SIDECAR", help="the export's NAME.musinterp.json")
    again.add_argument("-o", "--output", required=True, help="audio file to write")
    again.add_argument("--model", metavar="DIR", help="the model folder, if it has moved")
    again.set_defaults(handler=render)


def _add_generate(commands) -> None:
    """``generate``: new music from the latent prior."""
    gen = commands.add_parser("generate", help="make new music from the model's latent prior")
    gen.add_argument(
        "-o",
        "--output",
        help="audio file to write (default: generated-SEED.wav here, never over a file)",
    )
    _number(gen, "--seconds", limits.EXCERPT_S, 10.0, "length")
    _number(
        gen,
        "--temperature",
        limits.TEMPERATURE,
        engine.GENERATE_TEMPERATURE,
        "how adventurous: lower is closer to the model's usual sound",
    )
    _number(
        gen, "--seed", limits.SEED, None, "the same seed gives the same music (default: a new one)"
    )
    gen.add_argument(
        "--prior",
        choices=prior.KINDS,
        default=prior.DEFAULT_KIND,
        help="how latents move in time: ar (fitted walk), spectral (filtered noise), "
        "white (independent frames)",
    )
    _number(gen, "--iterations", limits.ITERATIONS, engine.GENERATE_ITERATIONS, "Griffin-Lim")
    _add_model_option(gen)
    _add_bits_option(gen)
    gen.set_defaults(handler=generate)


def _add_listening_test(commands) -> None:
    """``listening-test``: the blind listening test (its window) or its summary."""
    sur = commands.add_parser(
        "listening-test", help="a blind listening test on your own tracks (opens a window)"
    )
    sur.add_argument("tracks", nargs="*", metavar="TRACK", help="audio files to build trials from")
    sur.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the answers (answers.csv)"
    )
    sur.add_argument("--listener", default="", help="your name (asked for when not given)")
    _add_model_option(sur)
    sur.add_argument(
        "--summary", action="store_true", help="print the summary of DIR's answers and exit"
    )
    sur.set_defaults(handler=listening_test)


def _add_info(commands) -> None:
    """``info``: what a model is."""
    inf = commands.add_parser("info", help="what a model is and how well it does")
    _add_model_option(inf)
    inf.add_argument(
        "--details", action="store_true", help="also the model card's evaluation tables"
    )
    inf.set_defaults(handler=info)


def _add_bench(commands) -> None:
    """``bench``: speed and quality on this machine."""
    ben = commands.add_parser("bench", help="measure speed and quality")
    ben.add_argument("--json", action="store_true", help="print one JSON object")
    ben.add_argument(
        "--markdown", action="store_true", help="print a Markdown table (what docs/ shows)"
    )
    ben.add_argument(
        "--table-of",
        metavar="JSON",
        help="write out results saved by --json instead of measuring again",
    )
    ben.add_argument(
        "--quick", action="store_true", help="fewer repeats and curve points, no window (for tests)"
    )
    _add_model_option(ben)
    ben.add_argument(
        "--v2-model",
        metavar="DIR",
        help="model v2's folder: its decode is timed beside the model's "
        "(make bench takes it from the project's history)",
    )
    ben.set_defaults(handler=bench)
