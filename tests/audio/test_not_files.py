"""Paths that are no file (pipes, devices, sockets, link loops, /proc) and files that
change or vanish while they are read: refused at once with one clear line, never a hang."""

import os

import numpy as np
import pytest
from support.bounded import outcome_within
from support.commands import musinterp
from support.corpus import NOT_A_FILE_MESSAGES, stereo_clip

from musinterp_app import engine
from musinterp_app.audio import io
from musinterp_app.base import files

RATE = 32768


@pytest.mark.parametrize("name", sorted(NOT_A_FILE_MESSAGES))
def test_a_path_that_is_no_file_is_refused_at_once(not_files, name):
    if name not in not_files:
        pytest.skip(f"this machine has nothing to make {name} from")
    path = not_files[name]

    for call in (
        lambda: io.load(path, sample_rate=RATE),
        lambda: io.probe(path),
    ):
        error = outcome_within(call)
        assert isinstance(error, io.AudioLoadError), error
        message = str(error)
        assert message.startswith(f"Cannot use “{path.name}”: {NOT_A_FILE_MESSAGES[name]}")
        assert message.endswith("Choose an audio file.") and "\n" not in message


def test_text_and_model_files_that_are_pipes_are_refused_too(tmp_path):
    pipe = tmp_path / "notes.md"
    os.mkfifo(pipe)
    error = outcome_within(lambda: files.read_text(pipe))
    assert isinstance(error, files.NotAFileError)
    assert error.reason == "it is a named pipe (FIFO), not a file"


def test_a_file_that_grows_while_it_is_read_is_refused(write_clip):
    path = write_clip("recording.wav", np.zeros(4 * io.READ_BLOCK_FRAMES, np.float32), RATE)

    def append_after_first_block(done: int, total: int) -> None:
        if done == io.READ_BLOCK_FRAMES:
            with open(path, "ab") as handle:  # another program still writing the file
                handle.write(bytes(4096))

    with pytest.raises(io.AudioLoadError, match="changed while it was being read"):
        io.load(path, sample_rate=RATE, progress=append_after_first_block)


def test_a_file_deleted_while_it_is_read_is_read_to_its_end(write_clip):
    samples = stereo_clip(RATE, seconds=8.0)
    path = write_clip("moved away.flac", samples, RATE)

    def delete_after_first_block(done: int, total: int) -> None:
        path.unlink(missing_ok=True)  # the open file stays readable until it is closed

    loaded = io.load(path, sample_rate=RATE, progress=delete_after_first_block)

    assert not path.exists()
    np.testing.assert_allclose(loaded, samples.mean(axis=1), atol=1e-4)


def test_a_track_whose_file_vanishes_during_loading_is_one_clear_error(write_clip, shipped_model):
    path = write_clip("vanishing.wav", stereo_clip(RATE, seconds=40.0), RATE)

    def delete_after_the_first_overview_window(done: int, total: int) -> None:
        path.unlink(missing_ok=True)

    with pytest.raises(io.AudioLoadError, match="does not exist"):
        engine.load_track(path, shipped_model, progress=delete_after_the_first_overview_window)


@pytest.mark.parametrize("kind", ["pipe", "folder", "link loop"])
def test_writing_over_something_that_is_no_file_is_refused(write_clip, tmp_path, kind):
    source = write_clip("source.wav", stereo_clip(RATE, seconds=1.0), RATE)
    target = tmp_path / "out" / "out.wav"
    target.parent.mkdir()
    {
        "pipe": lambda: os.mkfifo(target),
        "folder": target.mkdir,
        "link loop": lambda: target.symlink_to(target.name),
    }[kind]()

    result = musinterp("reconstruct", source, "--no-model", "-o", target, timeout=120)

    assert result.returncode == 1
    assert result.stderr.startswith(f"error: Cannot save “out.wav” in {target.parent}: it is")
    assert result.stderr.strip().endswith("Choose another name.")
    assert [path.name for path in target.parent.iterdir()] == ["out.wav"]  # untouched
    assert not target.is_file()
