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


def convergence_db(prediction: np.ndarray, target: np.ndarray, config: MelConfig) -> np.ndarray:
    """Spectral convergence in dB of the linear mel magnitudes, at the best gain, per example
    ``[batch]``: the loud partials' error, which is what Griffin-Lim has to match (a
    quick stand-in, during training, for the SC after Griffin-Lim that ``evaluate`` measures)."""
    floor = config.floor_normalised

    def magnitude(mel: np.ndarray) -> np.ndarray:
        decibels = np.maximum(mel, floor) * config.norm_scale_db + config.norm_offset_db
        return np.power(10.0, np.minimum(decibels, 40.0) / 20.0, dtype=np.float64)

    estimate, truth = magnitude(prediction), magnitude(target)
    axes = (-2, -1)
    gain = (estimate * truth).sum(axis=axes) / np.maximum((estimate**2).sum(axis=axes), 1e-20)
    error = np.linalg.norm(gain[..., None, None] * estimate - truth, axis=axes)
    return 20 * np.log10(error / np.maximum(np.linalg.norm(truth, axis=axes), 1e-12) + 1e-12)


def mean_spectrum(segments: np.ndarray) -> np.ndarray:
    """The trivial baseline: every frame replaced by its clip's mean spectrum (same shape)."""
    return np.broadcast_to(segments.mean(axis=-1, keepdims=True), segments.shape)


def detail_ratio(
    prediction: np.ndarray, target: np.ndarray, config: MelConfig, *, axis: str = "bands"
) -> np.ndarray:
    """How much of the target's fine detail the prediction keeps, per example ``[batch]``.

    Mean |difference| between neighbouring mel bands (``axis="bands"``: the
    harmonics) or frames (``"frames"``: the transients) of the prediction,
    divided by the same for the target. A blurred copy scores below 1; 1 means
    as much variation as the original (not necessarily the same).
    """
    dimension = {"bands": -2, "frames": -1}[axis]
    floor = config.floor_normalised

    def variation(mel: np.ndarray) -> np.ndarray:
        return np.abs(np.diff(np.maximum(mel, floor), axis=dimension)).mean(axis=(-2, -1))

    return variation(prediction) / np.maximum(variation(target), 1e-9)


def model_share(
    blends: np.ndarray, a: np.ndarray, b: np.ndarray, alphas: np.ndarray, config: MelConfig
) -> np.ndarray:
    """C(α) = MAE(blend, log-mel crossfade of A and B) ÷ MAE(A, B), per blend ``[len(alphas)]``.

    ``blends`` is ``[len(alphas), n_mels, frames]``; ``a`` and ``b`` are the
    two sources ``[n_mels, frames]``. 0: the blend is a plain crossfade, so
    the model contributes nothing a mixer could not; larger: more of what is
    heard comes from the model.
    """
    weights = np.asarray(alphas, np.float32)[:, None, None]
    crossfade = (1 - weights) * a + weights * b
    distance = float(mae_db(a[None], b[None], config)[0])
    return mae_db(blends, crossfade, config) / max(distance, 1e-9)


def interpolation_share(
    middles: np.ndarray,
    decoded_a: np.ndarray,
    decoded_b: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    alpha: float,
    config: MelConfig,
) -> np.ndarray:
    """I(α) = MAE(decode of the blended latent, log-mel crossfade of the two decodes) ÷
    MAE(A, B), per pair ``[N]``; every array is ``[N, n_mels, frames]``.

    What the latent path adds beyond crossfading the model's own decodes: 0 for a
    decoder whose blends are crossfades. Divided by the originals' distance, so
    blurring the ends (which shrinks the decodes' distance) cannot raise it.
    """
    crossfade = (1 - alpha) * decoded_a + alpha * decoded_b
    return mae_db(middles, crossfade, config) / np.maximum(mae_db(a, b, config), 1e-9)
