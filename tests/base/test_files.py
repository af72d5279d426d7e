"""files.write_atomically: a reader sees the old file or the whole new one."""

import os

import pytest

from musinterp_app.base.files import write_atomically


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    write_atomically(target, "new, longer content\n")
    write_atomically(tmp_path / "blob", b"\x00\x01")
    assert target.read_text() == "new, longer content\n"
    assert (tmp_path / "blob").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob", "table.csv"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    target = tmp_path / "config.json"
    target.write_text("{}")
    with pytest.raises(TypeError):
        write_atomically(target, None)  # fails while writing the temporary file
    assert target.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_an_atomic_write_gives_the_permissions_a_new_or_replaced_file_should_have(tmp_path):
    umask = os.umask(0o022)  # the usual desktop umask, for the test's own process
    try:
        fresh = write_atomically(tmp_path / "fresh.json", "{}")
        assert fresh.stat().st_mode & 0o777 == 0o644  # readable by others, as any new file
        shared = tmp_path / "shared.json"
        shared.write_text("old")
        shared.chmod(0o640)
        write_atomically(shared, "new")
        assert shared.stat().st_mode & 0o777 == 0o640 and shared.read_text() == "new"
    finally:
        os.umask(umask)
