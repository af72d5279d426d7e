"""Every numeric option is checked at the edge: a value outside its range, NaN, infinity
or no number at all gets one line naming the option, the value and the allowed range;
absurd excerpt lengths are refused before anything is allocated."""

import contextlib
import io as text_io
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import assume, event
from hypothesis import strategies as st
from support.fuzz import fuzz

from musinterp_app import engine
from musinterp_app.__main__ import main
from musinterp_app.audio import synth
from musinterp_app.base import limits

SOURCE_RATE = 22050  # the clips': exports are written at their sources' rate


def run_cli(*args) -> tuple[int, str]:
    """``musinterp ARGS…`` in this process: exit status and stderr (argparse exits too)."""
    errors = text_io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(text_io.StringIO()):
        try:
            status = main([str(arg) for arg in args])
        except SystemExit as exit_:
            status = exit_.code
    return status, errors.getvalue()


@pytest.fixture(scope="module")
def two_clips(tmp_path_factory) -> tuple[Path, Path]:
    """Two 2-s clips: an excerpt longer than that is bounded, a start past 1.5 s is refused."""
    folder = tmp_path_factory.mktemp("clips ü")
    paths = []
    for name, root in [("a.wav", 48), ("b.flac", 60)]:
        music = synth.music_like(2.0, SOURCE_RATE, rng=np.random.default_rng(root), root_midi=root)
        sf.write(folder / name, music, SOURCE_RATE)
        paths.append(folder / name)
    return paths[0], paths[1]


NOT_NUMBERS = ["nan", "inf", "-inf", "x", ""]
# option → (values refused with the option's range in the message)
REFUSED = {
    "--alpha": ["-0.1", "1.5", "1e300", *NOT_NUMBERS],
    "--start-a": ["-1", "1e12", "1e400", *NOT_NUMBERS],
    "--start-b": ["-0.001", "86401", *NOT_NUMBERS],
    "--excerpt": ["0", "-5", "0.1", "601", "1e12", *NOT_NUMBERS],
    "--iterations": ["-1", "501", "2.5", "1e9", *NOT_NUMBERS],
    "--rate": ["0", "-44100", "7999", "192001", "44.1k", *NOT_NUMBERS],
    "--fade-ms": ["-1", "10001", *NOT_NUMBERS],
}
RECONSTRUCT_REFUSED = {
    "--start": ["-1", "1e12", *NOT_NUMBERS],
    "--excerpt": ["0", "-1", "1e12", *NOT_NUMBERS],
    "--iterations": ["-3", "501", "x"],
}
TRAIN_REFUSED = {  # musinterp-train: the parser alone (no training is started)
    ("train", "--lr"): ["0", "-1", "nan", "2"],
    ("train", "--steps"): ["0", "-5", "1.5", "inf"],
    ("train", "--batch"): ["0", "-1", "1e9"],
    ("train", "--mix-probability"): ["-0.1", "1.5", "nan"],
    ("train", "--threads"): ["-1", "x"],
    ("prepare", "--workers"): ["0", "-2", "65", "1.5"],
}


def assert_one_line_naming(status: int, stderr: str, option: str, value: str) -> None:
    lines = stderr.strip().splitlines()
    assert status == 2, (option, value, stderr)
    assert len(lines) == 1 and "Traceback" not in stderr, (option, value, lines)
    assert lines[0].startswith(f"error: argument {option}: "), lines[0]
    assert f"{option}: {value}" in lines[0] or f"{option}: {value!r}" in lines[0], lines[0]
    assert "allowed" in lines[0], lines[0]


@pytest.mark.parametrize(("option", "value"), [(o, v) for o, vs in REFUSED.items() for v in vs])
def test_blend_refuses_every_value_outside_its_range(two_clips, tmp_path, option, value):
    out = tmp_path / "out.wav"
    status, stderr = run_cli("blend", *two_clips, "-o", out, f"{option}={value}")
    assert_one_line_naming(status, stderr, option, value)
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "value"), [(o, v) for o, vs in RECONSTRUCT_REFUSED.items() for v in vs]
)
def test_reconstruct_refuses_every_value_outside_its_range(two_clips, tmp_path, option, value):
    out = tmp_path / "out.wav"
    status, stderr = run_cli("reconstruct", two_clips[0], "-o", out, f"{option}={value}")
    assert_one_line_naming(status, stderr, option, value)
    assert not out.exists()


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [(c, o, v) for (c, o), vs in TRAIN_REFUSED.items() for v in vs],
)
def test_the_training_command_refuses_every_value_outside_its_range(command, option, value):
    from musinterp_app.training import cli as train_cli  # needs the train extra (torch)

    required = {"train": ["--data", "d", "--out", "o"], "prepare": ["--audio", "a", "--out", "o"]}
    errors = text_io.StringIO()
    with contextlib.redirect_stderr(errors), pytest.raises(SystemExit) as exit_:
        train_cli.build_parser().parse_args([command, *required[command], f"{option}={value}"])
    assert_one_line_naming(exit_.value.code, errors.getvalue(), option, value)


def test_every_numeric_training_option_has_a_range():
    from dataclasses import fields

    from musinterp_app.training import cli as train_cli
    from musinterp_app.training.loop.train import TrainOptions

    numeric = {f.name for f in fields(TrainOptions) if isinstance(f.default, int | float)}
    assert numeric == set(train_cli.TRAIN_RANGES)
    for option in fields(TrainOptions):  # the defaults themselves are allowed
        if option.name in numeric:
            train_cli.TRAIN_RANGES[option.name].check(option.default, option.name)


def test_a_start_past_the_end_of_the_file_names_the_option_and_the_limit(two_clips, tmp_path):
    out = tmp_path / "out.wav"
    status, stderr = run_cli("blend", *two_clips, "-o", out, "--start-b", "100")
    assert status == 1 and not out.exists()
    assert stderr.strip().splitlines() == [
        "error: --start-b: 100 s is past the end of “b.flac” (2.0 s long); choose 0 … 1.5 s"
    ]
    status, stderr = run_cli("reconstruct", two_clips[0], "--no-model", "-o", out, "--start", 9)
    assert status == 1 and not out.exists()
    assert "the excerpt starts at 9.0 s but the file is only 2.0 s long" in stderr


@pytest.mark.parametrize(
    ("option", "value"), [("--alpha", "0"), ("--alpha", "1"), ("--excerpt", "0.5")]
)
def test_values_at_the_edges_of_their_range_are_used(two_clips, tmp_path, option, value):
    out = tmp_path / "out.wav"
    status, stderr = run_cli("blend", *two_clips, "-o", out, option, value)
    assert status == 0, stderr
    audio, rate = sf.read(out, dtype="float32")
    expected_s = float(value) if option == "--excerpt" else 2.0  # bounded by the 2-s clips
    assert rate == SOURCE_RATE and len(audio) == pytest.approx(expected_s * rate, abs=256)


def test_an_excerpt_longer_than_the_files_is_bounded_and_said(two_clips, tmp_path):
    out = tmp_path / "out.wav"
    status, stderr = run_cli("blend", *two_clips, "-o", out, "--excerpt", "60", "--start-a", 1)
    assert status == 0, stderr
    assert stderr.strip().splitlines() == [
        "A: “a.wav” is 2.0 s long: excerpt shortened to 2.0 s (the whole file), "
        "excerpt start moved from 1.0 s to 0.0 s",
        "B: “b.flac” is 2.0 s long: excerpt shortened to 2.0 s (the whole file)",
    ]
    assert sf.info(out).duration == pytest.approx(2.0, abs=0.01)


def test_the_engine_refuses_absurd_excerpts_before_allocating(two_clips, shipped_model):
    for start_s, duration_s, message in [
        (0.0, 1e12, "the excerpt length: 1e+12 s is outside the allowed range (0.5 … 600 s)"),
        (0.0, math.nan, "the excerpt length: nan is not a number"),
        (-1.0, 5.0, "the excerpt start: -1 s is outside the allowed range"),
        (math.inf, 5.0, "the excerpt start: inf is not a number"),
    ]:
        with pytest.raises(limits.OptionError, match="^" + re.escape(message)):
            engine.load_track(
                two_clips[0], shipped_model, start_s=start_s, excerpt_s=duration_s, overview=False
            )
    for alpha in (-0.5, 1.01, math.nan):
        with pytest.raises(limits.OptionError, match=r"^α: "):
            engine.BlendSettings(alpha=alpha)
    with pytest.raises(limits.OptionError, match="interpolation 'cubic' is not one of lerp, slerp"):
        engine.BlendSettings(mode="cubic")


def test_an_excerpt_that_does_not_fit_in_memory_is_refused_first():
    limits.check_excerpt_memory(1.0)  # one second always fits
    with pytest.raises(limits.OptionError, match=r"needs about .* GB of memory, but .* is free"):
        limits.check_excerpt_memory(1e7)  # 50 TB


def test_ranges_say_what_they_allow():
    assert limits.ALPHA.parse("0.25") == 0.25
    assert limits.ITERATIONS.parse("8") == 8 and isinstance(limits.ITERATIONS.parse("8"), int)
    assert limits.Range(0, 1, above_low=True).describe() == "more than 0 and at most 1"
    with pytest.raises(limits.OptionError, match=r"^-1 s is outside the allowed range \(0 … 86400"):
        limits.START_S.parse("-1")
    with pytest.raises(limits.OptionError, match=r"^'many' is not a whole number"):
        limits.ITERATIONS.parse("many")


# The fuzzed command line: each option is left out, given a usable value, or given
# anything at all (most of which is no number, or out of range).
ANYTHING = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["1e309", "-0", "0x10", "1_0", " 1", "½", ""]),
    st.text(max_size=6),
)
USABLE = {
    "--alpha": ["0", "0.3", "1"],
    "--start-a": ["0", "0.7", "1.5"],
    "--start-b": ["0", "1"],
    "--excerpt": ["0.5", "1.25", "2"],
    "--iterations": ["0", "1", "4"],
    "--fade-ms": ["0", "5", "250"],
}
OPTIONS = list(USABLE)


def any_values_give_audio_or_one_line(two_clips, out_folder, values):
    """The property: exit 0 with a WAV, or non-zero with one line, no traceback, no file."""
    chosen = {option: value for option, value in zip(OPTIONS, values, strict=True) if value}
    chosen.setdefault("--excerpt", "1")  # keep the renders short (≤ 2 s of audio)
    with contextlib.suppress(limits.OptionError):
        assume(limits.EXCERPT_S.parse(chosen["--excerpt"]) <= 2.0)
    assume(all("\x00" not in value for value in chosen.values()))
    out = out_folder / "fuzzed.wav"
    out.unlink(missing_ok=True)
    arguments = [f"{option}={value}" for option, value in chosen.items()]
    status, stderr = run_cli("blend", *two_clips, "-o", out, *arguments)
    if status == 0:
        event("exit 0 with audio")
        audio, rate = sf.read(out, dtype="float32")
        assert rate == SOURCE_RATE and len(audio) > 0 and np.isfinite(audio).all()
    else:
        event(f"exit {status}, one line")
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (arguments, stderr)
        assert "Traceback" not in stderr and not out.exists(), arguments


@pytest.fixture(scope="module")
def out_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzzed out")


test_the_command_line_with_random_values, test_the_command_line_with_random_values_long = fuzz(
    long_examples=500,
    values=st.tuples(
        *(st.one_of(st.none(), st.sampled_from(USABLE[option]), ANYTHING) for option in OPTIONS)
    ),
)(any_values_give_audio_or_one_line)


@pytest.mark.parametrize("command", ["reconstruct", "blend", "morph"])
def test_the_old_duration_spelling_still_sets_the_excerpt_and_is_checked(command):
    from musinterp_app.cli.parser import build_parser

    clips = ["a.wav"] if command == "reconstruct" else ["a.wav", "b.wav"]
    parser = build_parser()
    for spelling in ("--excerpt", "--duration"):
        args = parser.parse_args([command, *clips, "-o", "x.wav", spelling, "3"])
        assert args.excerpt == 3.0
    with pytest.raises(SystemExit), contextlib.redirect_stderr(text_io.StringIO()) as said:
        parser.parse_args([command, *clips, "-o", "x.wav", "--duration", "0"])
    assert "argument --duration: 0 s is outside the allowed range" in said.getvalue()
