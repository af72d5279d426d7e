"""The window on a small real screen (Xvfb: offscreen Qt measures differently): it fits
1024 × 700, opening the side panels never widens it, nothing is cut, the colour bar stays."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="no Xvfb here (apt install xvfb)")
def test_a_1024_by_700_screen_holds_the_window_with_its_panels_open(tmp_path):
    done = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1024x700x24", sys.executable,
         str(ROOT / ".ci" / "layout.py"), "1024x700", str(tmp_path / "small")],
        capture_output=True, text=True, timeout=240, check=False, cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "xcb"},  # the X server's screen, not offscreen
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, done.stderr[-2000:]
    measured = json.loads(lines[-1])
    assert measured["fits"] and not measured["grew"], measured
    assert measured["open"][0] <= 1024 and measured["minimum"][0] <= 1024, measured
    assert measured["cut_shut"] == [] and measured["cut_open"] == [], measured
    assert measured["bars_shut"] and measured["bars_open"], measured
    assert (tmp_path / "small-open.png").stat().st_size > 10_000  # a real picture was taken
