"""The headless commands, run as a user runs them: a real subprocess."""

import os
import subprocess
import sys

NOBODY = 65534

# Root reads and writes everything, so permission checks run as an ordinary
# user: the child imports the app while root (the interpreter lives in root's
# home), then drops to nobody and runs the command.
AS_ORDINARY_USER = f"""
import os, sys
from musinterp_app.__main__ import main
import musinterp_app.cli
os.setgid({NOBODY})
os.setuid({NOBODY})
sys.exit(main(sys.argv[1:]))
"""


def musinterp(*args, timeout=300, ordinary_user=False) -> subprocess.CompletedProcess:
    """``musinterp ARGS…``; its exit status, stdout and stderr (text)."""
    if ordinary_user and os.geteuid() == 0:
        entry = ["-c", AS_ORDINARY_USER]
    else:
        entry = ["-m", "musinterp_app"]
    return subprocess.run(
        [sys.executable, *entry, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
