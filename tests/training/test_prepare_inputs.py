"""``musinterp-train prepare`` on folders holding things that are no file: each is
skipped and listed with its reason in ``skipped.csv``, and nothing waits on them."""

import contextlib
import csv
import io
import os

import numpy as np
import pytest
import soundfile as sf
from support.bounded import outcome_within
from support.corpus import NOT_A_FILE_MESSAGES

from musinterp_app.audio import synth

data = pytest.importorskip("musinterp_app.training.dataset.data", reason="needs the train extra")


def test_pipes_devices_sockets_and_link_loops_are_skipped_and_listed(not_files, tmp_path):
    folder = next(iter(not_files.values())).parent  # the corpus folder, with a real song too
    sf.write(folder / "song.wav", synth.music_like(6.0, 32768, rng=np.random.default_rng(1)), 32768)
    cache = tmp_path / "cache"

    summary = outcome_within(lambda: data.prepare([folder], cache, workers=1), limit_s=120)

    assert summary["files"] == 1 and summary["segments"] == 1
    with open(cache / "skipped.csv", newline="") as handle:
        skipped = {row["path"]: row["reason"] for row in csv.DictReader(handle)}
    in_folder = {name: path for name, path in not_files.items() if path.parent == folder}
    assert sorted(skipped) == sorted(str(path) for path in in_folder.values())
    for name, path in in_folder.items():
        assert skipped[str(path)].startswith(NOT_A_FILE_MESSAGES[name]), name


def test_a_path_that_is_no_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not a folder: give folders of audio files"):
        data.find_sources([tmp_path / "nowhere"])


@pytest.mark.parametrize(
    ("command", "option"), [("export", "--data-notes"), ("prepare", "--fma-metadata")]
)
def test_a_text_file_option_that_is_a_pipe_is_refused_at_once(tmp_path, command, option):
    train_cli = pytest.importorskip("musinterp_app.training.cli", reason="needs the train extra")
    pipe = tmp_path / "notes.md"
    os.mkfifo(pipe)
    arguments = {"export": ["run", "-o", "out"], "prepare": ["--audio", "a", "--out", "o"]}
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        exit_ = outcome_within(
            lambda: train_cli.main([command, *arguments[command], option, str(pipe)])
        )
    assert isinstance(exit_, SystemExit) and exit_.code == 2
    assert errors.getvalue().splitlines() == [
        f"error: argument {option}: {pipe}: it is a named pipe (FIFO), not a file "
        f"(see musinterp-train {command} --help)"
    ]


HEADER = b",track,set,set\n,genre_top,subset,split\ntrack_id,,,\n"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "has 0 of FMA's 3 header rows"),
        (b",track,set,set\n,genre_top,subset,split\ntrack_id,,,\n", "lists no tracks"),
        (b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary", "is not a text table (not UTF-8)"),
        (b'"' + b"x" * 200_000 + b'"\n', "is not a CSV table (field larger than field limit"),
        (b"x,y\n1,2\n3,4\n", "is not FMA's tracks.csv"),
        (HEADER + "²,Rock,small,training\n".encode(), "line 4: '²' is not a track id"),
        (HEADER + b"1" * 5000 + b",Rock,small,training\n", "is not a track id"),
        (HEADER + b'2,"Rock,small,training\n3,Pop,small,training\n', "unexpected end of data"),
    ],
)
def test_a_broken_metadata_table_is_one_line_naming_it(tmp_path, content, words):
    train_cli = pytest.importorskip("musinterp_app.training.cli", reason="needs the train extra")
    table = tmp_path / "tracks.csv"
    table.write_bytes(content)
    (tmp_path / "music").mkdir()
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        code = train_cli.main(
            ["prepare", "--audio", str(tmp_path / "music"), "--out", str(tmp_path / "c"),
             "--fma-metadata", str(table)]
        )  # fmt: skip
    lines = errors.getvalue().splitlines()
    assert code == 1 and len(lines) == 1 and str(table) in lines[0] and words in lines[0]
    assert not (tmp_path / "c").exists()


def test_a_cache_folder_that_is_a_file_is_one_line_naming_it(tmp_path):
    train_cli = pytest.importorskip("musinterp_app.training.cli", reason="needs the train extra")
    (tmp_path / "music").mkdir()
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        code = train_cli.main(
            ["prepare", "--audio", str(tmp_path / "music"), "--out", str(tmp_path / "cache")]
        )
    lines = errors.getvalue().splitlines()
    assert code == 1 and len(lines) == 1 and str(tmp_path / "cache") in lines[0]
