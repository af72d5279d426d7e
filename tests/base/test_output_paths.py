"""Output paths are checked before any work: never an input (however spelt), never a folder
or a device, always a known extension and a folder that can be written."""

import hashlib
import os

import pytest
import soundfile as sf
from support.commands import musinterp_each
from support.music import known_clip

from musinterp_app.base.resources import default_model_dir

RATE = 32768


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two sources, and the odd things an output may be pointed at."""
    root = tmp_path_factory.mktemp("outputs")
    for name, bpm in (("a.wav", 100.0), ("b.wav", 120.0)):
        sf.write(root / name, known_clip(bpm, 0, False, RATE, duration_s=3.0).samples, RATE)
    (root / "link-to-a.wav").symlink_to(root / "a.wav")
    (root / "model.wav").symlink_to(default_model_dir() / "decoder.onnx")
    (root / "device.wav").symlink_to("/dev/null")
    (root / "folder.wav").mkdir()
    (root / "taken.wav.musinterp.json").mkdir()  # the sidecar's name is a folder
    (root / "path.json").write_text("[[0, 0], [1, 1]]")
    (root / "p.wav.musinterp.json").write_text("[[0, 0], [1, 1]]")
    (root / "not-a-folder").write_text("a file where a folder should be")
    return root


def fingerprint(root) -> dict:
    """Every entry of ``root`` with its bytes' digest (links by target), to see that nothing
    was written, replaced or left behind."""
    entries = {}
    for path in sorted(root.iterdir()):
        if path.is_file():
            entries[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            entries[path.name] = "folder" if path.is_dir() else os.readlink(path)
    return entries


CASES = [
    ("a.wav", "which this uses as input"),
    ("./a.wav", "which this uses as input"),
    ("link-to-a.wav", "which this uses as input"),
    ("model.wav", "which this uses as input"),
    ("folder.wav", "it is a folder"),
    ("device.wav", "it is a device"),
    ("not-a-folder/out.wav", "not-a-folder is not a folder"),
    ("missing/out.wav", "missing does not exist"),
    ("blend", "the name has no extension"),
    ("blend.mp3", "the name has “.mp3”"),
]


def test_every_refused_output_is_one_line_before_any_work_and_nothing_changes(folder):
    before = fingerprint(folder)
    commands = [
        ["blend", folder / "a.wav", folder / "b.wav", "-o", f"{folder}/{name}"] for name, _ in CASES
    ]
    a, b = folder / "a.wav", folder / "b.wav"
    others = [
        (["reconstruct", a, "-o", a], "which this uses as input"),
        (["generate", "--seconds", "1", "-o", folder / "model.wav"], "which this uses as input"),
        (["blend", a, b, "-o", folder / "taken.wav"], "taken.wav.musinterp.json” in"),
        (["pad", a, b, a, b, "--path", folder / "p.wav.musinterp.json", "-o", folder / "p.wav"],
         "which this uses as input"),
        (["pad", a, b, a, b, "--path", folder / "path.json", "-o", folder / "path.json"],
         "the name has “.json”"),
        (["render", folder / "p.wav.musinterp.json", "-o", folder / "p.wav"], "which this uses"),
    ]  # fmt: skip
    commands += [command for command, _ in others]
    results = musinterp_each(*commands)
    expected = [words for _, words in CASES] + [words for _, words in others]
    for command, result, words in zip(commands, results, expected, strict=True):
        shown = " ".join(map(str, command))
        assert result.returncode in (1, 2), shown
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (shown, result.stderr)
        assert "Traceback" not in result.stderr and "rendering" not in result.stderr, shown
    assert fingerprint(folder) == before
