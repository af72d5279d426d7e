"""Headless commands of ``musinterp`` (see ``musinterp --help``).

A thin face on the audio layer (and, later, the engine): parse arguments,
call one function, report errors as one line and a non-zero exit status.
"""

import argparse
import json
import sys
import time
from collections.abc import Callable

import numpy as np

from musinterp_app import __version__
from musinterp_app.audio import io, mel, stft
from musinterp_app.audio.griffinlim import griffinlim

COMMANDS = ("reconstruct", "bench")


def wants_gui(args: list[str]) -> bool:
    """No subcommand (nothing, or only files to open) means the window."""
    return not args or (args[0] not in COMMANDS and not args[0].startswith("-"))


def _progress_printer(label: str) -> Callable[[int, int], None]:
    """A one-line progress display on stderr (only when it is a terminal)."""
    interactive = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if interactive:
            end = "\n" if done >= total else ""
            print(f"\r{label}: {100 * done // max(total, 1):3d}%", end=end, file=sys.stderr)

    return show


def peak_protect(samples: np.ndarray, ceiling: float = 0.999) -> np.ndarray:
    """Scale down (never up) so that no sample clips in a 16-bit file."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples * (ceiling / peak) if peak > ceiling else samples


def reconstruct(args: argparse.Namespace) -> int:
    if not args.no_model:
        print(
            "error: no model is installed yet; use --no-model for the mel → Griffin-Lim round trip",
            file=sys.stderr,
        )
        return 2
    config = mel.MelConfig()
    samples = io.load(
        args.input,
        sample_rate=config.sample_rate,
        offset_s=args.start,
        duration_s=args.duration,
        min_duration_s=config.frames_to_seconds(1),
        progress=_progress_printer("decoding"),
    )
    magnitude = mel.to_magnitude(mel.log_mel(samples, config), config)
    audio = griffinlim(
        magnitude,
        hop_length=config.hop_length,
        n_iter=args.iterations,
        progress=_progress_printer("Griffin-Lim"),
    )
    io.save_wav(args.output, peak_protect(audio), config.sample_rate, float32=args.float)
    quality = stft.spectral_convergence_db(
        audio,
        stft.magnitude(samples, n_fft=config.n_fft, hop_length=config.hop_length),
        n_fft=config.n_fft,
        hop_length=config.hop_length,
    )
    print(
        f"wrote {args.output} ({len(audio) / config.sample_rate:.2f} s, "
        f"spectral convergence {quality:.1f} dB)"
    )
    return 0


def bench(args: argparse.Namespace) -> int:
    from musinterp_app import bench as benchmarks

    results = benchmarks.run_all(quick=args.quick)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(benchmarks.format_table(results))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musinterp",
        description="Blend two pieces of music through a VAE's latent space. "
        "Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"musinterp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    rec = commands.add_parser(
        "reconstruct", help="turn a clip into log-mel and back into audio (Griffin-Lim)"
    )
    rec.add_argument("input", help="audio file (WAV, FLAC, OGG, MP3, ...)")
    rec.add_argument("-o", "--output", required=True, help="WAV file to write")
    rec.add_argument("--no-model", action="store_true", help="skip the VAE: mel → audio only")
    rec.add_argument("--start", type=float, default=0.0, metavar="S", help="excerpt start (s)")
    rec.add_argument("--duration", type=float, default=None, metavar="D", help="excerpt length (s)")
    rec.add_argument("--iterations", type=int, default=32, help="Griffin-Lim iterations")
    rec.add_argument("--float", action="store_true", help="write 32-bit float instead of 16-bit")
    rec.set_defaults(handler=reconstruct)

    ben = commands.add_parser("bench", help="measure speed and quality")
    ben.add_argument("--json", action="store_true", help="print one JSON object")
    ben.add_argument("--quick", action="store_true", help="fewer repeats (for tests)")
    ben.set_defaults(handler=bench)
    return parser


def run(args: list[str]) -> int:
    """Run a headless command; returns the process exit status."""
    parser = build_parser()
    options = parser.parse_args(args)
    if options.command is None:
        parser.print_help()
        return 2
    started = time.perf_counter()
    try:
        status = options.handler(options)
    except (io.AudioLoadError, io.AudioSaveError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    if options.command != "bench":
        print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return status
