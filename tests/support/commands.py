"""Child processes for the tests: the headless commands as a user runs them, and
permission checks as an ordinary user."""

import os
import subprocess
import sys
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


def musinterp(*args, timeout=300, ordinary_user=False) -> subprocess.CompletedProcess:
    """``musinterp ARGS…``; its exit status, stdout and stderr (text)."""
    entry = ["-c", AS_ORDINARY_USER] if ordinary_user else ["-m", "musinterp_app"]
    return subprocess.run(
        [sys.executable, *entry, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=child_env(),
    )
