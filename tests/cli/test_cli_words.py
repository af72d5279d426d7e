"""What the commands say (issue 12, item 12): progress and time on a terminal only,
``info`` in plain text, ``musinterp-train`` without the training extra."""

import os
import pty
import subprocess
import sys

import numpy as np
import soundfile as sf
from support.commands import child_env, musinterp

from musinterp_app.audio import synth


def _clips(folder):
    paths = []
    for name, root in [("a.wav", 48), ("b.flac", 60)]:
        sf.write(
            folder / name, synth.music_like(3.0, 22050, rng=np.random.default_rng(root)), 22050
        )
        paths.append(folder / name)
    return paths


def test_blend_shows_progress_on_a_terminal_and_nothing_when_piped(tmp_path):
    a, b = _clips(tmp_path)
    command = [sys.executable, "-m", "musinterp_app", "blend", str(a), str(b), "--excerpt", "2"]
    piped = musinterp(*command[3:], "-o", tmp_path / "piped.wav")
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr

    leader, follower = pty.openpty()  # stderr is a terminal, as in a shell
    child = subprocess.Popen(
        [*command, "-o", str(tmp_path / "tty.wav")],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=child_env(),
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the child
            break
        if not chunk:
            break
        seen += chunk
    assert child.wait(timeout=120) == 0
    text = seen.decode()
    assert "rendering: 100%" in text and "\r" in text  # one line, redrawn
    assert "done in " in text


def test_info_is_plain_text_and_names_the_model_by_its_folder():
    result = musinterp("info")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("The model “default” (in ")
    assert "#" not in result.stdout and "|" not in result.stdout and "**" not in result.stdout
    assert "musinterp info --details" in result.stdout
    details = musinterp("info", "--details").stdout
    assert "Reconstruction\n--------------" in details and "|" not in details
    table_row = next(line for line in details.splitlines() if line.startswith("  this model"))
    assert "3.122" in table_row


def test_musinterp_train_without_the_training_extra_says_how_to_install_it():
    hide_torch = (
        "import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
        "from musinterp_app.training.entry import main\n"
        "sys.exit(main(['--help']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_torch], capture_output=True, text=True, env=child_env()
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "musinterp-train needs the training extra (torch is not installed): "
        "pip install 'musinterp[train]'"
    ]
