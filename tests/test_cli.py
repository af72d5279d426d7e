"""The headless commands, run as a user would run them (a real subprocess)."""

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

from musinterp_app.audio import stft, synth


def musinterp(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "musinterp_app", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_reconstruct_without_model_round_trips(tmp_path, config):
    source = synth.music_like(3.0, 44100, rng=np.random.default_rng(2))
    sf.write(tmp_path / "in.flac", np.stack([source, source], axis=1), 44100)

    result = musinterp(
        "reconstruct",
        tmp_path / "in.flac",
        "-o",
        tmp_path / "out.wav",
        "--no-model",
        "--start",
        "0.5",
        "--duration",
        "2",
    )

    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == config.sample_rate
    assert len(audio) == 2 * config.sample_rate
    reference, _ = sf.read(tmp_path / "in.flac", dtype="float32")
    import soxr

    expected = soxr.resample(reference[int(0.5 * 44100) : int(2.5 * 44100), 0], 44100, rate)
    truth = stft.magnitude(expected, n_fft=4096, hop_length=256)
    assert stft.spectral_convergence_db(audio, truth, n_fft=4096, hop_length=256) < -12.0


def test_bad_input_is_one_line_and_no_output(tmp_path):
    (tmp_path / "notes.wav").write_text("not audio at all\n" * 10)

    result = musinterp(
        "reconstruct", tmp_path / "notes.wav", "-o", tmp_path / "out.wav", "--no-model"
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[0].startswith("error: Cannot use “notes.wav”")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.wav").exists()


def test_bench_json_has_every_key():
    result = musinterp("bench", "--json", "--quick")
    assert result.returncode == 0, result.stderr
    numbers = json.loads(result.stdout)
    for key in [
        "gl.librosa_s",
        "gl.ours_s",
        "gl.speedup",
        "gl.librosa_sc_db",
        "gl.ours_sc_db",
        "gl.fft_floor_s",
        "gl.floor_ratio",
        "gl.first_chunk_s",
    ]:
        assert isinstance(numbers[key], float | int) and np.isfinite(numbers[key]), key
    assert numbers["gl.speedup"] == round(numbers["gl.librosa_s"] / numbers["gl.ours_s"], 2)
