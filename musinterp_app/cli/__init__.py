"""Headless commands of ``musinterp`` (see ``musinterp --help``).

A thin face on the engine (:mod:`musinterp_app.engine`): parse the arguments
(every number checked against its range in :mod:`musinterp_app.base.limits`), call
one function, report errors as one line and a non-zero exit status.
"""

import sys
import time
from collections.abc import Callable

from musinterp_app.audio import io
from musinterp_app.cli.commands import self_test
from musinterp_app.cli.parser import build_parser
from musinterp_app.model.onnx_vae import ModelError

COMMANDS = (
    "reconstruct",
    "blend",
    "morph",
    "pad",
    "render",
    "generate",
    "listening-test",
    "info",
    "bench",
)
GUI_FLAGS = ("--exit-when-shown",)
# long runs: progress and time shown
RENDERING_COMMANDS = ("reconstruct", "blend", "morph", "pad", "render")


def wants_gui(args: list[str]) -> bool:
    """No subcommand (nothing, files to open, window flags) means the window."""
    return (
        not args
        or args[0] in GUI_FLAGS
        or (args[0] not in COMMANDS and not args[0].startswith("-"))
    )


def run(args: list[str], *, listening_test: Callable[..., int] | None = None) -> int:
    """Run a headless command; returns the process exit status. ``listening_test`` opens the
    listening test's window (given by the entry point, so this layer never imports Qt)."""
    parser = build_parser()
    options = parser.parse_args(args)
    options.listening_test = listening_test
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
