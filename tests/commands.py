"""The headless commands, run as a user runs them: a real subprocess."""

import subprocess
import sys


def musinterp(*args, timeout=300) -> subprocess.CompletedProcess:
    """``musinterp ARGS…``; its exit status, stdout and stderr (text)."""
    return subprocess.run(
        [sys.executable, "-m", "musinterp_app", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
