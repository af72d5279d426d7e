"""Faults from outside the app, injected for real: the sound server dies mid-playback,
the user quits mid-export, the export folder is read-only. Each runs the window in
a child process (``fault_scenarios.py``) so the fault cannot take the suite down."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from support.commands import child_env

from musinterp_app.audio import synth

pytestmark = pytest.mark.gui
SCENARIOS = Path(__file__).with_name("fault_scenarios.py")


@pytest.fixture
def tracks(shared_folder):
    paths = []
    for name, root, seconds in [("a.wav", 45, 40.0), ("b.flac", 64, 40.0)]:
        path = shared_folder / name
        sf.write(path, synth.music_like(seconds, 22050, rng=np.random.default_rng(root)), 22050)
        path.chmod(0o644)
        paths.append(str(path))
    return paths


def start_scenario(name: str, tracks: list[str], target: Path, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCENARIOS), name, *tracks, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(**env),
    )


def finish(process: subprocess.Popen) -> tuple[str, str]:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    return out, err


@pytest.fixture
def sound_server(tmp_path):
    """A JACK server of this test's own (dummy driver), to be killed mid-playback."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed: no sound server to kill")
    name = "musinterp-fault-test"  # one name: a killed server's registry slot is reused
    log = tmp_path / "jackd.log"
    with open(log, "w") as log_file:
        server = subprocess.Popen(
            ["jackd", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "1024"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"},
        )
    deadline = time.monotonic() + 10
    while "JACK server starting" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    if server.poll() is not None or "JACK server starting" not in log.read_text():
        server.kill()
        pytest.skip(f"jackd did not start: {log.read_text()[-900:]}")
    yield name, server
    server.kill()
    server.wait()


def test_losing_the_audio_device_mid_playback_stops_and_says_so(sound_server, tracks, tmp_path):
    name, server = sound_server
    child = start_scenario("device-lost", tracks, tmp_path / "unused.wav", JACK_DEFAULT_SERVER=name)
    assert child.stdout.readline().strip() == "playing", child.stderr.read()
    time.sleep(0.5)  # real playback for a moment, then the server goes away
    server.kill()
    server.wait()

    out, _ = finish(child)

    assert "Playback stopped: the audio device stopped responding" in out
    assert "restart musinterp to play again. Export works without it." in out
    assert "play button enabled: False" in out


def test_quitting_mid_export_exits_cleanly_and_leaves_no_file(tracks, shared_folder):
    target = shared_folder / "out" / "morph.wav"
    target.parent.mkdir()

    out, _ = finish(start_scenario("quit-mid-export", tracks, target))

    assert "quitting while exporting" in out
    assert list(target.parent.iterdir()) == []  # neither the file nor a partial one


def test_exporting_into_a_read_only_folder_says_so_and_keeps_the_old_file(tracks, shared_folder):
    folder = shared_folder / "read-only"
    folder.mkdir()
    target = folder / "blend.wav"
    sf.write(target, np.full(1000, 0.25, np.float32), 32768)
    before = target.read_bytes()
    target.chmod(0o644)
    folder.chmod(0o555)

    out, _ = finish(start_scenario("read-only-export", tracks, target))

    assert "Cannot save “blend.wav”" in out
    assert "not allowed to write" in out
    assert target.read_bytes() == before
    assert [path.name for path in folder.iterdir()] == ["blend.wav"]


def test_dropping_an_unreadable_file_says_so_and_keeps_the_track(tracks, shared_folder):
    locked = shared_folder / "locked ü.wav"
    sf.write(locked, np.zeros(22050, np.float32), 22050)
    locked.chmod(0)

    out, _ = finish(start_scenario("unreadable-drop", tracks, locked))

    assert "Cannot use “locked ü.wav”: permission denied" in out
    assert "track A: a.wav" in out
