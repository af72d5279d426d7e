"""The headless commands, run as a user would run them (a real subprocess)."""

import json

import numpy as np
import pytest
import soundfile as sf
from support.commands import musinterp, musinterp_each
from support.corpus import BAD_INPUT_MESSAGES, BROKEN_MODEL_MESSAGES, NOT_A_FILE_MESSAGES

from musinterp_app import engine
from musinterp_app.audio import stft, synth


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
        "--excerpt",
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
        "gl.mel_inverse_speedup",
        "gl.phase_speedup_1thread",
        "model.encode_ms",
        "render.blend5s_s",
        "render.sc_db_a0.5",
        "render.sc_db_a0.5_random32",
        "render.level_error_db",
        "render.cold_first_chunk_s",
        "render.curve.a0.1.source.i0.sc_db",
        "render.curve.a0.1.random.i32.sc_db",
    ]:
        assert isinstance(numbers[key], float | int) and np.isfinite(numbers[key]), key
    assert numbers["gl.speedup"] == pytest.approx(
        numbers["gl.librosa_s"] / numbers["gl.ours_s"], rel=0.01
    )
    # starting from the sources' phase beats a random start when no iteration is run
    assert (
        numbers["render.curve.a0.1.source.i0.sc_db"]
        < numbers["render.curve.a0.1.random.i0.sc_db"] - 6
    )


def test_blend_and_morph_end_to_end(tmp_path):
    for name, root in [("a.wav", 48), ("b.ogg", 64)]:
        sf.write(
            tmp_path / name,
            synth.music_like(6.0, 22050, rng=np.random.default_rng(root), root_midi=root),
            22050,
        )
    result = musinterp(
        "blend",
        tmp_path / "a.wav",
        tmp_path / "b.ogg",
        "--alpha",
        "0.25",
        "--mode",
        "slerp",
        "--start-b",
        "0.5",
        "--level",
        "peak",
        "-o",
        tmp_path / "blend.wav",
    )
    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(tmp_path / "blend.wav", dtype="float32")
    assert rate == 22050 and len(audio) == 5 * rate  # the sources' rate
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-1.0, abs=0.05)

    result = musinterp(
        "morph",
        tmp_path / "a.wav",
        tmp_path / "b.ogg",
        "--excerpt",
        "3",
        "-o",
        tmp_path / "morph.wav",
    )
    assert result.returncode == 0, result.stderr
    assert sf.info(tmp_path / "morph.wav").duration == pytest.approx(3.0)


def test_blend_with_a_bad_file_writes_nothing(tmp_path):
    (tmp_path / "empty.mp3").write_bytes(b"")
    sf.write(tmp_path / "ok.wav", np.zeros(44100, np.float32), 44100)
    result = musinterp(
        "blend", tmp_path / "ok.wav", tmp_path / "empty.mp3", "-o", tmp_path / "out.wav"
    )
    assert result.returncode == 1
    assert "empty (0 bytes)" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.wav").exists()


def test_reconstruct_through_the_model(tmp_path):
    sf.write(tmp_path / "in.wav", synth.music_like(3.0, 32768, rng=np.random.default_rng(4)), 32768)
    result = musinterp("reconstruct", tmp_path / "in.wav", "-o", tmp_path / "out.wav")
    assert result.returncode == 0, result.stderr
    assert "through the model “default”" in result.stdout
    assert sf.info(tmp_path / "out.wav").frames == 3 * 32768


def test_info_prints_the_model_facts():
    result = musinterp("info")
    assert result.returncode == 0, result.stderr
    assert "learnt from     asc-music" in result.stdout
    assert "hears           sound up to 16.4 kHz in 512 pitch bands" in result.stdout
    assert "hybrid" not in result.stdout  # the network's kind: only with --details
    assert "technically     hybrid network" in musinterp("info", "--details").stdout
    # the evaluation, in plain words (from the model folder's evaluation.json)
    assert "of the original's band-to-band detail" in result.stdout
    assert "beyond a crossfade of the model's own versions of them" in result.stdout
    assert "A classifier that has heard real clips tells halfway blends" in result.stdout


def test_a_broken_model_folder_is_one_clear_line(broken_models, tmp_path):
    clip = tmp_path / "a.wav"
    sf.write(clip, synth.music_like(2.0, 22050, rng=np.random.default_rng(6)), 22050)
    cases = [
        (name, [*command, "--model", folder])
        for name, folder in broken_models.items()
        for command in (["info"], ["reconstruct", clip, "-o", tmp_path / f"{name}.wav"])
    ]
    results = musinterp_each(*(command for _, command in cases))
    for (name, command), result in zip(cases, results, strict=True):
        assert result.returncode == 1, (name, command[0])
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and BROKEN_MODEL_MESSAGES[name] in lines[0], (name, lines)
    assert list(tmp_path.iterdir()) == [clip]


def test_self_test_blends_the_examples():
    result = musinterp("--self-test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("self-test passed")


def assert_each_refused(paths: dict, messages: dict, folder, timeout=300) -> None:
    """``reconstruct`` of each of ``paths`` and a ``blend`` of a good file with it (all in one
    child): exit status 1, one line on stderr that says ``messages[name]``, no output."""
    good = folder / "good.wav"
    sf.write(good, synth.music_like(2.0, 22050, rng=np.random.default_rng(4)), 22050)
    out = folder / "out"
    out.mkdir()
    cases = [
        (name, [*command, "-o", out / f"{k}.wav"])
        for k, (name, path) in enumerate(paths.items())
        for command in (["reconstruct", path, "--no-model"], ["blend", good, path])
    ]
    results = musinterp_each(*(command for _, command in cases), timeout=timeout)
    for (name, command), result in zip(cases, results, strict=True):
        assert result.returncode == 1, (name, command[0], result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and messages[name] in lines[0], (name, lines)
    assert list(out.iterdir()) == []


def test_every_bad_input_is_one_line_and_no_output_in_the_cli(bad_inputs, tmp_path):
    assert_each_refused(bad_inputs, BAD_INPUT_MESSAGES, tmp_path)


def test_unusual_but_usable_files_blend_and_reconstruct(usable_oddities, tmp_path):
    commands = [
        [command, path, *options, "-o", tmp_path / f"{name} {command}.wav"]
        for name, path in usable_oddities.items()
        for command, options in [
            ("blend", [usable_oddities["8 kHz"], "--alpha", "0.5", "--excerpt", "2"]),
            ("reconstruct", ["--no-model"]),
        ]
    ]
    results = iter(musinterp_each(*commands))
    for name, path in usable_oddities.items():
        out = tmp_path / f"{name} blend.wav"
        result = next(results)
        assert result.returncode == 0, (name, result.stderr)
        audio, rate = sf.read(out, dtype="float32")
        # Each excerpt is bounded by its file (at least MIN_EXCERPT_S, padded); the blend by
        # the shorter one, and a shortened excerpt is said.
        file_s = min(sf.info(p).duration for p in (path, usable_oddities["8 kHz"]))
        expected_s = min(2.0, max(file_s, engine.MIN_EXCERPT_S))
        source_rate = max(sf.info(p).samplerate for p in (path, usable_oddities["8 kHz"]))
        assert rate == source_rate and np.isfinite(audio).all(), name
        assert abs(len(audio) - expected_s * rate) <= 256, (name, len(audio) / rate)
        if file_s < 2.0:
            assert "shortened" in result.stdout + result.stderr, name

        result = next(results)
        assert result.returncode == 0, (name, result.stderr)
        assert np.isfinite(
            sf.read(tmp_path / f"{name} reconstruct.wav", dtype="float32")[0]
        ).all(), name


def test_an_unreadable_file_is_one_line_and_no_output(shared_folder):
    locked = shared_folder / "locked ü.wav"
    sf.write(locked, synth.music_like(2.0, 22050, rng=np.random.default_rng(5)), 22050)
    locked.chmod(0)
    out = shared_folder / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)

    for command in (["reconstruct", locked, "--no-model"], ["blend", locked, locked]):
        result = musinterp(*command, "-o", out / "x.wav", ordinary_user=True)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: Cannot use “{locked.name}”")
        assert "permission denied: you are not allowed to read this file" in lines[0]
        assert list(out.iterdir()) == []


def test_a_path_that_is_no_file_is_one_line_and_no_output(not_files, tmp_path):
    assert_each_refused(not_files, NOT_A_FILE_MESSAGES, tmp_path, timeout=60)  # a hang fails


def test_bench_writes_saved_results_as_the_docs_table(tmp_path):
    saved = tmp_path / "bench.json"
    saved.write_text('{"export.high_band_gap_db": -2.5, "app.rss_mb": 480}')
    result = musinterp("bench", "--table-of", saved, "--markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "| key | measured | target | met | what |"
    assert lines[2].startswith("| `export.high_band_gap_db` | -2.5 dB | within ±1.5 | **no** |")
    assert lines[3].startswith("| `app.rss_mb` | 480 MB | ≤ 600 | yes |")
    saved.write_text('{"app.rss_mb": "lots"}')
    refused = musinterp("bench", "--table-of", saved, "--markdown")
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "app.rss_mb" in refused.stderr and "expected a finite number" in refused.stderr


def test_the_bench_times_model_v2s_decode_beside_the_models(tmp_path):
    """`make bench` takes model v2 from the project's history and times its decode in turns
    with the model's; a folder that holds no model is one line, before any measuring."""
    import shutil
    import subprocess
    from pathlib import Path

    from musinterp_app.base.resources import default_model_dir
    from musinterp_app.bench.measure import bench_model

    root = Path(__file__).resolve().parents[2]
    v2_commit = "16997a75299d5757394772e6502a243068b889e0"  # as in .ci/previous-model.sh
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("model v2 comes from the project's git history: not a git checkout")
    found = subprocess.run(["git", "cat-file", "-e", f"{v2_commit}^{{commit}}"], cwd=root)
    if found.returncode != 0:
        pytest.skip("model v2's commit is not in this clone's history (a shallow clone)")
    v2 = tmp_path / "hybrid-v2"
    subprocess.run([root / ".ci" / "previous-model.sh", "v2", v2], cwd=root, check=True)
    shipped = default_model_dir() / "decoder.onnx"  # the shipped default is still v2
    assert (v2 / "decoder.onnx").read_bytes() == shipped.read_bytes()
    numbers = bench_model(default_model_dir(), quick=True, v2_dir=v2)
    assert numbers["model.decode_ms"] > 0 and numbers["model.decode_v2_ms"] > 0
    ratio = numbers["model.decode_ms"] / numbers["model.decode_v2_ms"]
    assert numbers["model.decode_vs_v2"] == pytest.approx(ratio, rel=0.02)
    refused = musinterp("bench", "--v2-model", tmp_path / "nothing", "--quick")
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "nothing" in refused.stderr and not refused.stdout
