"""The listening test's logic (no Qt): trials, answers saved as given, the summary."""

import csv
import math
import re

import numpy as np
import pytest
from support.commands import musinterp

from musinterp_app import listening_test as listening
from musinterp_app.audio import synth


@pytest.fixture
def tracks(write_clip, config):
    """Two 4-s clips in different keys and tempi, as files."""
    return [
        write_clip(
            name,
            synth.music_like(
                4.0, 44100, rng=np.random.default_rng(k), root_midi=root, tempo_bpm=bpm
            ),
            44100,
        )
        for k, (name, root, bpm) in enumerate([("low.wav", 45, 90.0), ("high.flac", 64, 140.0)])
    ]


def _trial(number: int, condition: str) -> listening.Trial:
    return listening.Trial(number, condition, ("a.wav", "b.wav"), np.zeros(4, np.float32))


def test_trials_cover_every_condition_once_per_pair_in_a_random_order(tracks, shipped_model):
    trials = listening.build_trials(
        tracks, shipped_model, rng=np.random.default_rng(1), seconds=3.0
    )
    assert sorted(t.condition for t in trials) == sorted(listening.CONDITIONS)
    assert [t.number for t in trials] == list(range(1, len(listening.CONDITIONS) + 1))
    for trial in trials:
        assert np.isfinite(trial.audio).all() and np.abs(trial.audio).max() > 1e-3
        assert len(trial.audio) == pytest.approx(
            3.0 * shipped_model.mel_config.sample_rate, abs=256
        )
    # the original is A's excerpt itself; the crossfade is not any one source
    original = next(t for t in trials if t.condition == "original")
    assert len(original.sources) == 1
    orders = {
        tuple(
            t.condition
            for t in listening.build_trials(
                tracks, shipped_model, rng=np.random.default_rng(seed), seconds=1.0
            )
        )
        for seed in range(4)
    }
    assert len(orders) > 1  # the order depends on the draw: the listener cannot learn it


def test_fewer_than_two_tracks_are_refused(tracks, shipped_model):
    with pytest.raises(ValueError, match="at least two tracks"):
        listening.build_trials(tracks[:1], shipped_model, rng=np.random.default_rng(0))


def test_answers_round_trip_and_the_last_answer_counts(tmp_path):
    log = listening.AnswerLog(tmp_path)
    trials = [_trial(1, "original"), _trial(2, "crossfade")]
    session = listening.ListeningRun(trials, log, "Ada")
    for key, _ in listening.QUESTIONS:
        session.answer(key, 2)
    session.answer("genre", 5)  # changed her mind: the new answer is another row
    session.next()
    for key, _ in listening.QUESTIONS:
        session.answer(key, 4)
    log.close()
    rows = listening.read_answers(tmp_path)
    assert len(rows) == 2 * len(listening.QUESTIONS) + 1
    assert {row["listener"] for row in rows} == {"Ada"}
    table = {(r["condition"], r["question"]): r for r in listening.summarise(rows)}
    assert table["original", "genre"]["mean"] == 5 and table["original", "genre"]["n"] == 1
    assert table["crossfade", "fluent"]["mean"] == 4
    assert math.isnan(table["crossfade", "fluent"]["low"])  # one answer: no interval


def test_summary_mean_interval_and_n_over_listeners(tmp_path):
    log = listening.AnswerLog(tmp_path)
    scores = [1, 2, 3, 4, 5]
    for name, score in zip(["Ada", "Bo", "Cy", "Di", "Ed"], scores, strict=True):
        listening.ListeningRun([_trial(1, "latent blend")], log, name).answer("sounds_good", score)
    log.close()
    row = next(
        r
        for r in listening.summarise(listening.read_answers(tmp_path))
        if r["question"] == "sounds_good"
    )
    half = 2.776445 * np.std(scores, ddof=1) / math.sqrt(5)  # t(0.975, 4)
    assert row == {
        "condition": "latent blend",
        "question": "sounds_good",
        "mean": 3.0,
        "low": round(3.0 - half, 3),
        "high": round(3.0 + half, 3),
        "n": 5,
    }
    path = listening.write_summary(tmp_path)
    assert "| latent blend | sounds_good | 3.00 |" in path.read_text()
    assert "5 listener(s)" in path.read_text()
    with open(tmp_path / "summary.csv", newline="") as handle:
        assert next(csv.DictReader(handle))["n"] == "5"


def test_a_log_reopened_appends_and_a_torn_last_line_is_skipped(tmp_path):
    first = listening.AnswerLog(tmp_path)
    listening.ListeningRun([_trial(1, "original")], first, "Ada").answer("fluent", 3)
    first.close()
    with open(tmp_path / listening.ANSWERS_FILE, "a") as handle:
        handle.write("2026-01-01T00:00:00,Bo,x1,1,orig")  # a line cut short
    second = listening.AnswerLog(tmp_path)
    second.close()
    rows = listening.read_answers(tmp_path)
    assert [(r["listener"], r["score"]) for r in rows] == [("Ada", 3)]
    assert (tmp_path / listening.ANSWERS_FILE).read_text().count("listener,session") == 1


def test_bad_answers_and_sessions_are_refused(tmp_path):
    log = listening.AnswerLog(tmp_path)
    with pytest.raises(ValueError, match="listener's name"):
        listening.ListeningRun([_trial(1, "original")], log, "  ")
    session = listening.ListeningRun([_trial(1, "original")], log, "Ada")
    with pytest.raises(ValueError, match="1 … 5"):
        session.answer("fluent", 6)
    with pytest.raises(ValueError, match="unknown question"):
        session.answer("tempo", 3)
    with pytest.raises(ValueError, match="answer every question"):
        session.next()
    log.close()
    with pytest.raises(ValueError, match=r"no answers\.csv"):
        listening.read_answers(tmp_path / "elsewhere")


def test_the_command_prints_the_summary_of_a_folder(tmp_path):
    log = listening.AnswerLog(tmp_path)
    listening.ListeningRun([_trial(1, "keep-detail blend")], log, "Ada").answer("features", 4)
    log.close()
    result = musinterp("listening-test", "--out", tmp_path, "--summary")
    assert result.returncode == 0, result.stderr
    assert "| keep-detail blend | features | 4.00 | – | 1 |" in result.stdout
    missing = musinterp("listening-test", "--out", tmp_path / "none", "--summary")
    assert missing.returncode == 1 and "no answers.csv" in missing.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\xfe\x00\x01 binary", "is not a text table (not UTF-8)"),
        (b'"' + b"x" * 200_000 + b'"\n', "is not a CSV table"),
    ],
)
def test_an_answers_file_that_is_no_table_is_one_line_naming_it(tmp_path, content, words):
    (tmp_path / listening.ANSWERS_FILE).write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(words)) as caught:
        listening.read_answers(tmp_path)
    assert str(tmp_path / listening.ANSWERS_FILE) in str(caught.value)


def test_an_answers_file_without_a_score_column_holds_no_answers(tmp_path):
    (tmp_path / listening.ANSWERS_FILE).write_text("listener,question\nAda,fluent\n")
    assert listening.read_answers(tmp_path) == []
