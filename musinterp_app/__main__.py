"""Entry point of ``musinterp``: no arguments opens the window, a subcommand works headless.

Qt is imported only when the window is wanted, so the headless commands and
the core stay importable (and testable) without it.
"""

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from musinterp_app import allocator, cli

    allocator.limit_arenas()

    if cli.wants_gui(args):
        try:
            from musinterp_app.gui.app import run_gui
        except ModuleNotFoundError as error:
            if error.name and error.name.startswith("musinterp_app.gui"):
                print("The desktop window is not part of this build yet; use a subcommand:")
                cli.build_parser().print_help()
                return 2
            raise
        return run_gui(args)
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
