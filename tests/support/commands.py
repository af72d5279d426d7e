"""Child processes for the tests: the headless commands as a user runs them, and
permission checks as an ordinary user."""

import json
import locale
import os
import queue
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

TESTS_FOLDER = Path(__file__).parents[1]  # on a child's path, so it can import `support`
NOBODY = 65534

# The command's modules are imported while still root (the interpreter lives
# in root's home), then the child drops to nobody and runs the command.
AS_ORDINARY_USER = """
import sys
import musinterp_app.cli
from musinterp_app.__main__ import main
from support.commands import become_ordinary_user
become_ordinary_user()
sys.exit(main(sys.argv[1:]))
"""

# Several commands in one child (starting Python and importing the app is most of the time
# of a command that refuses its input); the commands come as JSON on stdin.
EACH_COMMAND = """
import json
import sys
from support.commands import run_each
run_each(json.loads(sys.stdin.read()))
"""


def become_ordinary_user() -> None:
    """Root reads and writes everything, so permission checks drop to nobody
    (import what is needed first); nothing happens when not root."""
    if os.geteuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child Python that imports these helpers (Qt offscreen)."""
    path = os.pathsep.join(filter(None, [str(TESTS_FOLDER), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "QT_QPA_PLATFORM": "offscreen", **extra}


def musinterp(*args, timeout=300, ordinary_user=False, cwd=None) -> subprocess.CompletedProcess:
    """``musinterp ARGS…`` (run in ``cwd``); its exit status, stdout and stderr (text)."""
    entry = ["-c", AS_ORDINARY_USER] if ordinary_user else ["-m", "musinterp_app"]
    return subprocess.run(
        [sys.executable, *entry, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=child_env(),
        cwd=cwd,
    )


def musinterp_each(*commands, timeout=300) -> list[subprocess.CompletedProcess]:
    """``musinterp ARGS…`` for each of ``commands`` (lists of arguments) in turn, all in one
    child process through the same entry point, each with its own exit status, stdout and
    stderr (see :func:`run_each`). A command that takes more than ``timeout`` seconds, or
    a child that dies, fails the test naming the command; so does a child that does not
    exit within ``timeout`` seconds of the last command."""
    arguments = [[str(arg) for arg in command] for command in commands]
    with (
        tempfile.TemporaryFile("w+") as crash,
        subprocess.Popen(
            [sys.executable, "-c", EACH_COMMAND],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=crash,
            text=True,
            env=child_env(),
        ) as child,
    ):
        child.stdin.write(json.dumps(arguments))
        child.stdin.close()
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            for line in child.stdout:
                lines.put(line)
            lines.put("")  # the child's stdout closed

        threading.Thread(target=read, daemon=True).start()
        results = []
        for args in arguments:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                child.kill()
                raise AssertionError(f"musinterp {' '.join(args)}: no end in {timeout} s") from None
            if not line:
                child.wait()
                crash.seek(0)
                raise AssertionError(
                    f"musinterp {' '.join(args)}: the child ended ({child.returncode}) "
                    f"without finishing it: {crash.read()[-3000:]}"
                )
            results.append(subprocess.CompletedProcess(["musinterp", *args], **json.loads(line)))
        try:  # a command that returned but left a thread running keeps the child alive
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            raise AssertionError(
                f"the child running {len(arguments)} musinterp commands did not exit within "
                f"{timeout} s of finishing them (a thread left running?)"
            ) from None
    return results


def run_each(commands: list[list[str]]) -> None:
    """In the child: run each command as ``python -m musinterp_app ARGS…`` would, with file
    descriptors 1 and 2 sent to files of its own (so what a library writes there is caught
    too), its exit status as Python's would be (an uncaught exception: its traceback and 1),
    and a line of JSON ``{"returncode", "stdout", "stderr"}`` for the parent after it."""
    from musinterp_app.__main__ import main

    report = os.fdopen(os.dup(1), "w")
    encoding = locale.getpreferredencoding(False)
    for args in commands:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            sys.stdout.flush()
            sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                status = main(args)
            except SystemExit as exit_:  # argparse's refusals, sys.exit(…)
                status = exit_.code or 0
                if not isinstance(status, int):
                    print(status, file=sys.stderr)
                    status = 1
            except BaseException:  # as an uncaught exception ends a process
                traceback.print_exc()
                status = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                for fd, copy in zip((1, 2), saved, strict=True):
                    os.dup2(copy, fd)
                    os.close(copy)
            outcome = {"returncode": status}
            for name, handle in (("stdout", out), ("stderr", err)):
                handle.seek(0)
                outcome[name] = handle.read().decode(encoding)
        report.write(json.dumps(outcome) + "\n")
        report.flush()
