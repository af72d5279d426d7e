"""An hour-long file: the overview shows progress, can be cancelled, and memory stays bounded."""

import subprocess
import sys
import threading

import pytest
import soundfile as sf
from support.commands import musinterp_each

from musinterp_app import engine
from musinterp_app.audio.cancel import Cancelled, CancelToken


def test_loading_an_hour_reports_progress_and_can_be_cancelled(hour_long, shipped_model):
    token = CancelToken()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if len(seen) == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        engine.load_track(hour_long, shipped_model, cancel=token, progress=progress)
    assert len(seen) == 3 and seen[-1][1] == 3_600_000  # milliseconds of the file
    assert seen[0][0] < seen[1][0] < seen[2][0]


def test_an_hour_loads_with_bounded_memory(hour_long):
    code = (
        "import sys\n"
        "from musinterp_app import engine\nfrom musinterp_app.base import resources\n"
        "from musinterp_app.model.onnx_vae import OnnxVAE\n"
        "model = OnnxVAE(resources.default_model_dir())\n"
        "track = engine.load_track(sys.argv[1], model, start_s=1800)\n"
        "print(track.info.duration_s, track.start_s, track.overview.shape[1],\n"
        "      next(int(line.split()[1]) // 1024 for line in open('/proc/self/status')\n"
        "           if line.startswith('VmHWM')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(hour_long)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    duration, start, columns, peak_mb = result.stdout.split()
    assert float(duration) == 3600.0 and float(start) == 1800.0
    assert 0 < int(columns) <= engine.OVERVIEW_COLUMNS
    # Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's).
    # Decoding the whole hour at the model rate would take 470 MB for the samples alone.
    assert int(peak_mb) < 450, f"peak resident memory {peak_mb} MB"


def test_loading_in_a_thread_leaves_no_thread_behind(hour_long, shipped_model):
    token = CancelToken()
    outcome = []

    def load() -> None:
        try:
            engine.load_track(hour_long, shipped_model, cancel=token)
        except Cancelled:
            outcome.append("cancelled")

    before = threading.active_count()
    worker = threading.Thread(target=load)
    worker.start()
    token.cancel()
    worker.join(timeout=60)
    assert outcome == ["cancelled"]
    assert not worker.is_alive() and threading.active_count() == before


def test_the_cli_blends_and_reconstructs_from_the_middle_of_an_hour(hour_long, tmp_path):
    blended, rebuilt = musinterp_each(
        [
            "blend",
            hour_long,
            hour_long,
            "--start-a",
            1800,
            "--start-b",
            3590,
            "-o",
            tmp_path / "b.wav",
        ],
        ["reconstruct", hour_long, "--start", 3590, "-o", tmp_path / "r.wav"],
    )
    assert blended.returncode == 0, blended.stderr
    assert sf.info(tmp_path / "b.wav").duration == pytest.approx(5.0)

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert sf.info(tmp_path / "r.wav").duration == pytest.approx(10.0)  # to the end
