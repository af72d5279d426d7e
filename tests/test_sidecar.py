"""Reproducible exports: every export has NAME.wav.musinterp.json; ``musinterp render`` makes
the same bytes again, and refuses, naming it, a source or model file that changed."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from support.commands import musinterp
from support.music import known_clip

from musinterp_app import engine, sidecar
from musinterp_app.base.resources import default_model_dir

RATE = 32768


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    paths = {}
    for slot, (bpm, tonic, minor) in {
        "a": (100.0, 0, False),
        "b": (117.0, 2, True),
        "c": (90.0, 7, False),
        "d": (132.0, 9, True),
    }.items():
        clip = known_clip(bpm, tonic, minor, RATE, duration_s=6.0)
        paths[slot] = folder / f"{slot}.wav"
        sf.write(paths[slot], np.stack([clip.samples, 0.6 * clip.samples], axis=1), RATE)
    return paths


def run_ok(*args):
    result = musinterp(*args)
    assert result.returncode == 0, result.stderr
    return result


def test_a_synced_blend_is_made_again_bit_identically(sources, tmp_path):
    out = tmp_path / "blend.wav"
    run_ok(
        "blend", sources["a"], sources["b"], "-o", out, "--alpha", "0.3", "--sync", "tempo,key",
        "--excerpt", "4", "--rate", "44100", "--bits", "24", "--key-b", "F major",
    )  # fmt: skip
    record = json.loads((tmp_path / "blend.wav.musinterp.json").read_text())
    assert record["format_version"] == sidecar.FORMAT_VERSION
    assert record["model"]["folder"] == default_model_dir().name
    assert record["model"]["encoder.onnx"] == sidecar.sha256(default_model_dir() / "encoder.onnx")
    assert record["sources"]["B"]["sha256"] == sidecar.sha256(sources["b"])
    assert record["sources"]["A"]["duration_s"] == 4.0
    assert record["blend"]["alpha"] == 0.3 and len(record["blend"]["steps"]) == 9
    assert record["sync"]["B"]["key"]["key"] == "F major"  # the override is what was used
    assert record["sync"]["B"]["sync"] == ["tempo", "key"]
    assert record["render"]["rate"] == 44100 and record["render"]["channels"] == 2
    assert record["render"]["sample_format"] == "24"

    again = tmp_path / "again.wav"
    run_ok("render", tmp_path / "blend.wav.musinterp.json", "-o", again)
    assert again.read_bytes() == out.read_bytes()
    assert (tmp_path / "again.wav.musinterp.json").is_file()


def test_a_pad_path_morph_is_made_again_bit_identically(sources, tmp_path):
    (tmp_path / "path.json").write_text(json.dumps({"points": [[0, 0], [1, 0.2], [0.4, 1]]}))
    out = tmp_path / "pad.wav"
    corners = [sources[slot] for slot in "abcd"]
    run_ok("pad", *corners, "--path", tmp_path / "path.json", "-o", out, "--excerpt", "4")
    record = json.loads((tmp_path / "pad.wav.musinterp.json").read_text())
    assert record["blend"]["kind"] == "pad"
    assert record["blend"]["path"] == [[0, 0], [1, 0.2], [0.4, 1]]
    assert sorted(record["sources"]) == ["A", "B", "C", "D"]
    run_ok("render", tmp_path / "pad.wav.musinterp.json", "-o", tmp_path / "again.wav")
    assert (tmp_path / "again.wav").read_bytes() == out.read_bytes()


def test_a_sidecar_of_another_renderer_is_made_again_with_a_note(sources, tmp_path):
    run_ok("blend", sources["a"], sources["b"], "-o", tmp_path / "x.wav", "--excerpt", "3")
    record_path = tmp_path / "x.wav.musinterp.json"
    record = json.loads(record_path.read_text())
    assert record["render"]["renderer"] == engine.RENDERER_VERSION
    del record["render"]["renderer"]  # as the first renderer wrote them
    record_path.write_text(json.dumps(record))
    result = run_ok("render", record_path, "-o", tmp_path / "y.wav")
    assert "made by renderer 1" in result.stderr and "not identical" in result.stderr
    assert (tmp_path / "y.wav").is_file()


def test_a_changed_source_is_refused_by_name(sources, tmp_path):
    changed = tmp_path / "b.wav"
    shutil.copy(sources["b"], changed)
    run_ok("blend", sources["a"], changed, "-o", tmp_path / "x.wav", "--excerpt", "3")
    audio, rate = sf.read(changed, dtype="float32")
    audio[1000] += 0.01
    sf.write(changed, audio, rate)
    result = musinterp("render", tmp_path / "x.wav.musinterp.json", "-o", tmp_path / "y.wav")
    assert result.returncode == 1
    assert "source B" in result.stderr and str(changed) in result.stderr
    assert "has changed" in result.stderr
    assert not (tmp_path / "y.wav").exists()


def own_model(folder):
    """A copy of the shipped model that no other folder holds (its decoder's doc string
    differs, so its sha256 does)."""
    onnx = pytest.importorskip("onnx")
    shutil.copytree(default_model_dir(), folder)
    decoder = onnx.load(folder / "decoder.onnx")
    decoder.doc_string = "a copy for the sidecar tests"
    onnx.save(decoder, folder / "decoder.onnx")
    return folder


def export_and_change_the_model(sources, tmp_path, model):
    """An export made with ``model``, whose decoder then changes; its sidecar's path."""
    run_ok(
        "blend", sources["a"], sources["b"], "-o", tmp_path / "x.wav", "--excerpt", "3",
        "--model", model,
    )  # fmt: skip
    with open(model / "decoder.onnx", "ab") as handle:
        handle.write(b"\0")
    return tmp_path / "x.wav.musinterp.json"


def test_a_changed_model_is_found_again_among_the_shipped_models(sources, tmp_path):
    """A copy of the shipped model changed after the export: the shipped folder holds the
    same files (sha256), and the export is made again from there."""
    model = tmp_path / "models" / "copy"
    shutil.copytree(default_model_dir(), model)
    record = export_and_change_the_model(sources, tmp_path, model)
    run_ok("render", record, "-o", tmp_path / "y.wav")
    assert (tmp_path / "y.wav").read_bytes() == (tmp_path / "x.wav").read_bytes()


def test_a_replaced_model_is_found_again_beside_its_folder(sources, tmp_path):
    """A default replaced by a newer one, the old one kept in the same models folder."""
    model = own_model(tmp_path / "models" / "default")
    shutil.copytree(model, tmp_path / "models" / "kept")
    record = export_and_change_the_model(sources, tmp_path, model)
    run_ok("render", record, "-o", tmp_path / "y.wav")
    assert (tmp_path / "y.wav").read_bytes() == (tmp_path / "x.wav").read_bytes()


def test_a_changed_model_held_nowhere_else_is_refused_in_one_sentence(sources, tmp_path):
    run_ok("blend", sources["a"], sources["b"], "-o", tmp_path / "x.wav", "--excerpt", "3")
    record = json.loads((tmp_path / "x.wav.musinterp.json").read_text())
    gone = tmp_path / "models" / "mine"
    record["model"] |= {"path": str(gone), "model_id": "0123456789ab"}
    record["model"]["decoder.onnx"] = "0" * 64  # no folder holds such a decoder
    sidecar_path = tmp_path / "mine.musinterp.json"
    sidecar_path.write_text(json.dumps(record))
    result = musinterp("render", sidecar_path, "-o", tmp_path / "y.wav")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"model (id 0123456789ab) is no longer in “{gone}” (encoder.onnx and " in line
    assert "render with --model DIR" in line
    result = musinterp(
        "render", sidecar_path, "-o", tmp_path / "y.wav", "--model", default_model_dir()
    )
    assert result.returncode == 1 and "decoder.onnx" in result.stderr
    assert "has changed" in result.stderr
    assert not (tmp_path / "y.wav").exists()


def test_an_earlier_default_model_gone_is_refused_with_the_command_that_brings_it_back(
    sources, tmp_path
):
    """After the default changes, a sidecar made with v2 names v2 by id and sha256; where no
    folder holds it, the refusal gives the command that takes v2 from the project's
    history."""
    run_ok("blend", sources["a"], sources["b"], "-o", tmp_path / "x.wav", "--excerpt", "3")
    record = json.loads((tmp_path / "x.wav.musinterp.json").read_text())
    record["model"]["model_id"] = "0037da21da34"  # v2's
    record["model"]["path"] = str(tmp_path / "gone" / "default")  # replaced, nowhere kept
    record["model"]["decoder.onnx"] = "0" * 64  # …and the shipped folder holds another
    sidecar_path = tmp_path / "v2.musinterp.json"
    sidecar_path.write_text(json.dumps(record))
    result = musinterp("render", sidecar_path, "-o", tmp_path / "y.wav")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "default model v2: get it with `.ci/previous-model.sh v2 DIR`" in line
    assert not (tmp_path / "y.wav").exists()


def test_an_edited_excerpt_is_refused_instead_of_silently_changed(sources, tmp_path):
    run_ok("blend", sources["a"], sources["b"], "-o", tmp_path / "x.wav")
    record_path = tmp_path / "x.wav.musinterp.json"
    record = json.loads(record_path.read_text())
    record["sources"]["A"]["start_s"] = 1000.0  # past the end of the 6-s file
    record_path.write_text(json.dumps(record))
    result = musinterp("render", record_path, "-o", tmp_path / "y.wav")
    assert result.returncode == 1 and "sources.A: its excerpt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "y.wav").exists()


def test_what_is_no_sidecar_is_one_line(tmp_path):
    (tmp_path / "other.json").write_text('{"hello": 1}')
    result = musinterp("render", tmp_path / "other.json", "-o", tmp_path / "y.wav")
    assert result.returncode == 1
    assert "not a musinterp sidecar" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ({}, "model: is missing"),
        ({"model": {"path": "."}}, "model.encoder.onnx: is missing"),
        (
            {
                "model": {"path": ".", "encoder.onnx": "0", "decoder.onnx": "1"},
                "sources": {"A": {}},
                "sync": {},
                "render": {},
                "blend": {"kind": "colour"},
            },
            'blend.kind: expected one of "blend", "pad", found the text "colour"',
        ),
    ],
)
def test_an_incomplete_or_edited_sidecar_is_one_line(tmp_path, record, words):
    path = tmp_path / "cut.musinterp.json"
    path.write_text(json.dumps({"format": sidecar.FORMAT, "format_version": 1, **record}))
    result = musinterp("render", path, "-o", tmp_path / "y.wav")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert str(path) in result.stderr and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "y.wav").exists()
