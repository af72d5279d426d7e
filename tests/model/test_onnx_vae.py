"""OnnxVAE on the shipped model: shapes, any length, and folders it must refuse."""

import os
import shutil

import numpy as np
import pytest
from support.bounded import outcome_within
from support.corpus import BROKEN_MODEL_MESSAGES

from musinterp_app.base.resources import default_model_dir
from musinterp_app.model import evaluation
from musinterp_app.model.onnx_vae import ModelError, OnnxVAE


@pytest.mark.parametrize("frames", [1, 7, 8, 640, 1001])
def test_any_length_encodes_and_decodes(shipped_model, frames):
    mel = np.full((512, frames), shipped_model.mel_config.floor_normalised, np.float32)
    latent = shipped_model.encode(mel)
    assert latent.shape == (shipped_model.info.latent_channels, shipped_model.latent_frames(frames))
    decoded = shipped_model.decode(latent)
    assert decoded.shape == (
        512,
        shipped_model.latent_frames(frames) * shipped_model.info.time_reduction,
    )
    assert np.isfinite(decoded).all()


def test_wrong_shapes_are_refused(shipped_model):
    with pytest.raises(ValueError, match="need log-mel"):
        shipped_model.encode(np.zeros((128, 64), np.float32))
    with pytest.raises(ValueError, match="does not fit this model"):
        shipped_model.decode(np.zeros((3, 4), np.float32))


def test_every_broken_model_folder_is_refused_in_one_line(broken_models):
    for name, folder in broken_models.items():
        with pytest.raises(ModelError) as refused:
            OnnxVAE(folder)
        message = str(refused.value)
        assert BROKEN_MODEL_MESSAGES[name] in message and "\n" not in message, (name, message)


def test_model_files_that_are_pipes_are_refused_or_passed_over_never_waited_on(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(default_model_dir(), folder)
    for name in ("MODEL.md", "evaluation.json"):  # only shown: passed over
        (folder / name).unlink()
        os.mkfifo(folder / name)

    model = outcome_within(lambda: OnnxVAE(folder))
    assert model.info.card == ""
    assert outcome_within(lambda: evaluation.load_summary(folder)) is None

    (folder / "encoder.onnx").unlink()
    os.mkfifo(folder / "encoder.onnx")
    refused = outcome_within(lambda: OnnxVAE(folder))
    assert isinstance(refused, ModelError)
    assert str(refused) == (
        f"encoder.onnx in {folder} cannot be read: it is a named pipe (FIFO), not a file."
    )
