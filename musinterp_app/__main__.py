"""Entry point of ``musinterp``: without a subcommand (nothing, or files to open) it opens
the window; a subcommand (``musinterp --help``) or ``--self-test`` works headless.

Qt is imported only when the window is wanted, so the headless commands and
the core stay importable (and testable) without it.
"""

import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``musinterp`` with ``argv`` (default: this process's arguments); the exit status."""
    args = sys.argv[1:] if argv is None else argv
    from musinterp_app import cli
    from musinterp_app.base import allocator, child

    if args[:1] == [child.CHILD_FLAG]:  # the benchmark's child, in a bundle (see child.py)
        return child.run_child(args[1:])

    allocator.limit_arenas()

    if cli.wants_gui(args):
        from musinterp_app.gui.app import run_gui

        return run_gui(args)
    return cli.run(args, listening_test=_listening_test)


def _listening_test(*args, **kwargs) -> int:
    """``musinterp listening-test``: the listening test's window (Qt imported only now)."""
    from musinterp_app.gui.listening_test import run_listening_test

    return run_listening_test(*args, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
