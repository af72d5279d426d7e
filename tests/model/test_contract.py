"""The model contract: what export writes is what the loader reads; old formats still load."""

import re

import pytest

from musinterp_app.audio.mel import MelConfig
from musinterp_app.model import contract


def _pair(**changes):
    common = dict(
        model_id="abc",
        architecture="hybrid",
        temporal=True,
        latent_channels=64,
        time_reduction=4,
        mel=MelConfig(),
        parameters=1234,
        training_labels=["x", "y"],
    )
    common.update(changes)
    return tuple(contract.metadata_for(role=role, **common) for role in contract.ROLES)


def test_written_metadata_parses_back():
    layout = contract.parse_metadata(*_pair())
    assert layout.format == contract.FORMAT_VERSION
    assert (layout.architecture, layout.latent_channels, layout.time_reduction) == ("hybrid", 64, 4)
    assert layout.mel == MelConfig() and layout.parameters == 1234
    assert layout.training_data == "x, y"


def test_format_1_folders_still_load():
    encoder, decoder = _pair()
    for metadata in (encoder, decoder):
        metadata["musinterp_format"] = "1"
        del metadata["parameters"], metadata["training_data"]
    layout = contract.parse_metadata(encoder, decoder)
    assert layout.format == "1" and layout.parameters is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e, d: e.update(musinterp_format="9"), "uses model format 9; this app reads"),
        (lambda e, d: e.pop("parameters"), "encoder.onnx lacks the metadata parameters"),
        (lambda e, d: e.clear(), "carries no musinterp metadata"),
        (
            lambda e, d: d.update(n_mels="256"),
            "come from different models (they disagree on n_mels)",
        ),
        (lambda e, d: (e.update(role="decoder"), d.update(role="encoder")), "swapped"),
        (lambda e, d: (e.update(n_fft="x"), d.update(n_fft="x")), "the metadata is inconsistent"),
        (
            lambda e, d: (e.update(n_fft="9" * 10**6), d.update(n_fft="9" * 10**6)),
            "encoder.onnx: the metadata n_fft is 1000000 characters long (at most 64)",
        ),
        (lambda e, d: e.update(musinterp_format="9" * 100), "musinterp_format is 100 characters"),
    ],
)
def test_broken_metadata_is_refused_with_a_reason(change, message):
    encoder, decoder = _pair()
    change(encoder, decoder)
    with pytest.raises(contract.ContractError, match=re.escape(message)):
        contract.parse_metadata(encoder, decoder)


def test_refused_values_are_quoted_short_and_export_refuses_what_the_loader_refuses():
    encoder, decoder = _pair()
    labels = ", ".join(["x"] * 3000)  # 8998 characters
    encoder["training_data"] = decoder["training_data"] = labels
    with pytest.raises(contract.ContractError) as loaded:
        contract.parse_metadata(encoder, decoder)
    assert len(str(loaded.value)) < 200
    with pytest.raises(contract.ContractError, match="training_data is 8998 characters"):
        _pair(training_labels=["x"] * 3000)
