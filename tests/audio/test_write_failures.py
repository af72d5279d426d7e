"""A write that fails part-way (the disk fills up) ends in one line, no library noise on the
terminal, and no file left behind."""

import subprocess
import sys

import pytest
from support.commands import child_env

# The child caps the size of any file it writes (RLIMIT_FSIZE, as a full disk would stop it)
# and ignores the signal that would otherwise kill it, then saves 6 s of noise.
FULL_DISK_CHILD = """
import resource, signal, sys
import numpy as np
from musinterp_app.audio import io
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
noise = np.random.default_rng(0).uniform(-0.5, 0.5, 6 * 32768).astype(np.float32)
try:
    io.save_audio(sys.argv[1], noise, 32768)
except io.AudioSaveError as error:
    print(error, file=sys.stderr)
    sys.exit(1)
"""


@pytest.mark.parametrize("name", ["out.wav", "out.flac", "out.ogg"])
def test_a_disk_that_fills_up_gives_one_line_and_leaves_nothing(tmp_path, name):
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(tmp_path / name)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Cannot save “{name}” in {tmp_path}: the file would be larger than this system "
        "allows; write a shorter one (File too large)."
    ]
    assert list(tmp_path.iterdir()) == []
