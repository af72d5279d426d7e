"""Reconstruction metrics shared by training (validation) and evaluation.

All work on normalised log-mel batches ``[batch, n_mels, frames]`` (numpy);
errors are in dB. Values below the floor count as the floor: the app treats
them all as silence.
"""

import numpy as np

from musinterp_app.audio.mel import MelConfig


def mae_db(prediction: np.ndarray, target: np.ndarray, config: MelConfig) -> np.ndarray:
    """Mean |error| in dB of each example ``[batch]``."""
    floor = config.floor_normalised
    error = np.abs(np.maximum(prediction, floor) - np.maximum(target, floor))
    return error.mean(axis=(-2, -1)) * config.norm_scale_db


def mean_spectrum(segments: np.ndarray) -> np.ndarray:
    """The trivial baseline: every frame replaced by its clip's mean spectrum (same shape)."""
    return np.broadcast_to(segments.mean(axis=-1, keepdims=True), segments.shape)
