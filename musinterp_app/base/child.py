"""Running this app's own Python code in a child process, from a normal install or a frozen
bundle alike.

The benchmark measures some things in fresh processes (a cold start, a thread limit, the
window). From an install that is ``python -c CODE`` or ``python -m MODULE``; a bundle made by
PyInstaller has no ``python`` and its executable does not take ``-c`` / ``-m``, so there the
child is the bundle's own executable with ``CHILD_FLAG`` first, which :func:`run_child`
answers by running the code or module in-process.
"""

import runpy
import sys

CHILD_FLAG = "--run-python"  # not a user option: only these children pass it


def python_command(*args: str) -> list[str]:
    """The command line that runs ``args`` (``"-c", CODE, …`` or ``"-m", MODULE, …``) in a
    child Python process of this app."""
    if getattr(sys, "frozen", False):
        if args[:2] == ("-m", "musinterp_app"):  # the app itself: the bundle's executable is it
            return [sys.executable, *args[2:]]
        return [sys.executable, CHILD_FLAG, *args]
    return [sys.executable, *args]


def run_child(args: list[str]) -> int:
    """Run ``-c CODE ARGS…`` or ``-m MODULE ARGS…`` (``args`` after ``CHILD_FLAG``) here, as
    Python would, with ``sys.argv`` set as Python sets it; the exit status."""
    if len(args) < 2 or args[0] not in ("-c", "-m"):
        print(f"{CHILD_FLAG} takes -c CODE or -m MODULE", file=sys.stderr)
        return 2
    kind, target, rest = args[0], args[1], args[2:]
    try:
        if kind == "-c":
            sys.argv = ["-c", *rest]
            exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
        else:
            sys.argv = [target, *rest]
            runpy.run_module(target, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        if isinstance(done.code, int) or done.code is None:
            return done.code or 0
        print(done.code, file=sys.stderr)  # as Python does with sys.exit("a message")
        return 1
    return 0
