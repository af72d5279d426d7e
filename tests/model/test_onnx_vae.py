"""OnnxVAE on the shipped model: shapes, any length, and folders it must refuse."""

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


def test_every_broken_model_folder_is_refused_in_one_line(broken_models):
    from corpus import BROKEN_MODEL_MESSAGES

    for name, folder in broken_models.items():
        with pytest.raises(ModelError) as refused:
            OnnxVAE(folder)
        message = str(refused.value)
        assert BROKEN_MODEL_MESSAGES[name] in message and "\n" not in message, (name, message)
