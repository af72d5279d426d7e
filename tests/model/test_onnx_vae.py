"""OnnxVAE on the shipped model: shapes, any length, and folders it must refuse."""

import shutil

import numpy as np
import pytest

from musinterp_app.model.onnx_vae import ModelError, OnnxVAE
from musinterp_app.resources import default_model_dir


@pytest.fixture(scope="module")
def model():
    return OnnxVAE(default_model_dir())


@pytest.mark.parametrize("frames", [1, 7, 8, 640, 1001])
def test_any_length_encodes_and_decodes(model, frames):
    mel = np.full((512, frames), model.mel_config.floor_normalised, np.float32)
    latent = model.encode(mel)
    assert latent.shape == (model.info.latent_channels, model.latent_frames(frames))
    decoded = model.decode(latent)
    assert decoded.shape == (512, model.latent_frames(frames) * model.info.time_reduction)
    assert np.isfinite(decoded).all()


def test_wrong_shapes_are_refused(model):
    with pytest.raises(ValueError, match="need log-mel"):
        model.encode(np.zeros((128, 64), np.float32))
    with pytest.raises(ValueError, match="does not fit this model"):
        model.decode(np.zeros((3, 4), np.float32))


def test_a_model_whose_files_disagree_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    folder = tmp_path / "model"
    shutil.copytree(default_model_dir(), folder)
    decoder = onnx.load(str(folder / "decoder.onnx"))
    for prop in decoder.metadata_props:
        if prop.key == "n_mels":
            prop.value = "256"
    onnx.save(decoder, str(folder / "decoder.onnx"))
    with pytest.raises(ModelError, match=r"come from different models .*n_mels"):
        OnnxVAE(folder)


def test_a_model_without_metadata_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    folder = tmp_path / "model"
    shutil.copytree(default_model_dir(), folder)
    for name in ("encoder.onnx", "decoder.onnx"):
        graph = onnx.load(str(folder / name))
        del graph.metadata_props[:]
        onnx.save(graph, str(folder / name))
    with pytest.raises(ModelError, match=r"lacks the metadata .*musinterp-train export"):
        OnnxVAE(folder)
