"""One JSON reader for every JSON input: limits, one-line errors naming the file and the key
path, and a fuzz of the inputs built on it (sidecars, pad paths)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musinterp_app import rebuild, sidecar
from musinterp_app.base import json_input
from musinterp_app.base.json_input import JsonInputError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def written(tmp_path, content: str | bytes, name="input.json"):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests deeper than 64 levels"),
        ('{"a": "' + "x" * (json_input.MAX_BYTES + 10) + '"}', "is larger than 1024 KiB"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        ('{"a": 1,\n "b": }', "is not valid JSON (line 2, column 7"),
        ('{"a": NaN}', "NaN is not a JSON number"),
    ],
)
def test_what_is_no_usable_json_is_refused_in_one_line_naming_the_file(tmp_path, content, words):
    path = written(tmp_path, content)
    with pytest.raises(JsonInputError) as caught:
        json_input.load(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message


def test_deep_nesting_inside_strings_is_only_text(tmp_path):
    path = written(tmp_path, json.dumps({"text": "[" * 1000}))
    assert json_input.load(path)["text"].text() == "[" * 1000


def test_a_wrong_value_names_its_key_path_and_what_was_expected(tmp_path):
    document = json_input.load(
        written(tmp_path, json.dumps({"blend": {"path": [[0, 0], [1, "x"]]}}))
    )
    with pytest.raises(
        JsonInputError,
        match=r"blend\.path\[1\]\[1\]: expected a number in 0 … 1, found the text \"x\"",
    ):
        document["blend"]["path"].points(rebuild.limits.PAD)
    with pytest.raises(JsonInputError, match=r"blend\.alpha: is missing"):
        document["blend"]["alpha"]


def test_a_long_refused_value_is_quoted_short(tmp_path):
    document = json_input.load(written(tmp_path, json.dumps({"mode": "m" * 100_000})))
    with pytest.raises(JsonInputError) as caught:
        document["mode"].choice(("lerp", "slerp"))
    assert len(str(caught.value)) < 200 + len(str(tmp_path))


@pytest.mark.parametrize("points", [[], [[0.5, 0.5]]])
def test_empty_and_one_point_paths_are_refused_alike(tmp_path, points):
    document = json_input.load(written(tmp_path, json.dumps({"points": points})))
    with pytest.raises(JsonInputError, match="a path of at least two"):
        rebuild.path_points(document["points"])


def a_sidecar_record() -> dict:
    """A complete record as ``Engine.export_record`` writes it (its files do not exist)."""
    return {
        "format": sidecar.FORMAT,
        "format_version": sidecar.FORMAT_VERSION,
        "model": {"path": "/nowhere/model", "encoder.onnx": "0" * 64, "decoder.onnx": "1" * 64},
        "sources": {
            slot: {"path": f"/nowhere/{slot}.wav", "sha256": "2" * 64, "start_s": 1.5,
                   "duration_s": 5.0}
            for slot in "AB"
        },
        "blend": {"kind": "blend", "alpha": 0.3, "mode": "slerp", "morph": False,
                  "keep_detail": True, "steady_level": True, "steps": [0.0, 0.5, 1.0]},
        "sync": {},
        "render": {"n_iter": 32, "level": "match", "output_rate": None, "sample_format": "16",
                   "fade_ms": 5.0, "mono": False, "renderer": 3, "rate": 32768},
    }  # fmt: skip


def key_paths(value, prefix=()):
    """Every key path into ``value`` (through objects and lists), the root excluded."""
    if isinstance(value, dict | list):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            yield (*prefix, key)
            yield from key_paths(child, (*prefix, key))


def test_an_intact_record_reaches_the_file_checks(tmp_path):
    path = written(tmp_path, json.dumps(a_sidecar_record()))
    with pytest.raises(sidecar.SidecarError, match=r"model is no longer in “/nowhere/model”"):
        rebuild.rebuild(sidecar.read(path))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    where=st.sampled_from(list(key_paths(a_sidecar_record()))),
    value=json_values,
    drop=st.booleans(),
)
def test_any_change_to_a_sidecar_is_refused_in_one_line(tmp_path, where, value, drop):
    """One entry replaced by any JSON value, or removed: a one-line error naming the file
    (and the key path where an entry is wrong), never another exception."""
    record = a_sidecar_record()
    parent = record
    for key in where[:-1]:
        parent = parent[key]
    if drop and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    path = written(tmp_path, json.dumps(record))
    try:
        rebuild.rebuild(sidecar.read(path))
    except json_input.JsonInputError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
    except sidecar.SidecarError as error:  # a file check, or not a sidecar of this format
        assert "\n" not in str(error)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_any_json_as_a_pad_path_is_refused_with_a_value_error_or_used(tmp_path, value):
    from musinterp_app.cli.commands import _read_path

    path = written(tmp_path, json.dumps(value))
    try:
        points = _read_path(str(path))
    except JsonInputError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
    else:
        assert len(points) >= 2 and all(0 <= c <= 1 for point in points for c in point)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_any_evaluation_json_gives_a_summary_or_none(tmp_path, value):
    """A model folder's evaluation.json is shown in words, or not at all, never a traceback."""
    from musinterp_app.model import evaluation

    written(tmp_path, json.dumps({"summary": value}), name="evaluation.json")
    summary = evaluation.load_summary(tmp_path)
    assert summary is None or evaluation.plain_words(summary)


def test_a_number_of_hundreds_of_digits_is_refused_by_key(tmp_path):
    document = json_input.load(written(tmp_path, '{"alpha": 1' + "0" * 400 + "}"))
    with pytest.raises(JsonInputError, match=r"alpha: expected a number in 0 … 1"):
        document["alpha"].number(rebuild.limits.ALPHA)


@pytest.mark.parametrize(
    ("where", "value", "words"),
    [
        (("blend", "steps"), [0.3], "blend: even steps must run from"),
        (("blend", "kind"), "pad", "sources: expected the sources A, B, C, D of a pad blend"),
        (("sync", "B"), {"sync": ["tempo"], "speed": 0.0}, "sync.B.speed: expected a number in"),
        (("sync", "B"), {"sync": "tempo"}, "sync.B.sync: expected a list"),
        (("sync", "B"), {"sync": ["key"], "speed": 1, "semitones": 10**6},
         "sync.B.semitones: expected a whole number in -12 … 12"),
    ],
)  # fmt: skip
def test_values_wrong_together_or_out_of_range_name_the_file_and_key(tmp_path, where, value, words):
    record = a_sidecar_record()
    record[where[0]][where[1]] = value
    path = written(tmp_path, json.dumps(record))
    with pytest.raises(JsonInputError) as caught:
        rebuild.rebuild(sidecar.read(path))
    assert str(caught.value).startswith(str(path)) and words in str(caught.value)
