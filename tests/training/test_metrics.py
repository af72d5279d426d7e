"""The evaluation's measures on cases whose answer is known."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from musinterp_app.audio import mel, stft
from musinterp_app.audio.mel import MelConfig
from musinterp_app.training.evaluation import metrics

pytest.importorskip("sklearn")
from musinterp_app.training.evaluation.evaluate import (
    PatchPCA,
    best_gain_convergence_db,
    griffin_lim_convergence_db,
)


@pytest.fixture(scope="module")
def clip_mel(clip, config):
    return mel.log_mel(clip, config)


def test_a_blurred_copy_has_less_detail_and_worse_convergence(clip, clip_mel, config):
    blurred = uniform_filter(clip_mel, size=(9, 5), mode="nearest")
    for axis in ("bands", "frames"):
        assert metrics.detail_ratio(clip_mel[None], clip_mel[None], config, axis=axis)[0] == 1.0
        assert metrics.detail_ratio(blurred[None], clip_mel[None], config, axis=axis)[0] < 0.8
    truth = stft.magnitude(clip, n_fft=config.n_fft, hop_length=config.hop_length)
    sharp = griffin_lim_convergence_db(clip_mel, truth, config)
    blur = griffin_lim_convergence_db(blurred, truth, config)
    assert sharp < -12 and blur > sharp + 3


def test_convergence_is_measured_at_the_best_gain():
    truth = np.random.default_rng(0).random((64, 20)) + 0.1
    assert best_gain_convergence_db(0.3 * truth, truth) < -100  # a quieter copy is perfect
    noisy = truth * (1 + 0.1 * np.random.default_rng(1).standard_normal(truth.shape))
    assert -25 < best_gain_convergence_db(noisy, truth) < -15


def test_a_crossfade_has_model_share_zero_and_a_detour_does_not(clip_mel, config):
    a = clip_mel
    b = np.roll(clip_mel, 40, axis=0)
    alphas = np.linspace(0, 1, 11)
    crossfade = np.stack([(1 - x) * a + x * b for x in alphas])
    assert np.allclose(metrics.model_share(crossfade, a, b, alphas, config), 0.0, atol=1e-6)
    detour = crossfade + 0.2 * np.sin(np.pi * alphas)[:, None, None]
    share = metrics.model_share(detour, a, b, alphas, config)
    assert share[0] < 1e-6 and share[5] > 0.1


def test_pca_with_every_component_is_exact_and_with_few_is_not(config):
    rng = np.random.default_rng(0)
    segments = rng.normal(size=(12, 16, 40)).astype(np.float32)
    exact = PatchPCA(segments, patch=4, components=64).reconstruct(segments)
    np.testing.assert_allclose(exact, segments, atol=1e-4)
    rough = PatchPCA(segments, patch=4, components=4).reconstruct(segments)
    assert rough.shape == segments.shape and np.abs(rough - segments).mean() > 0.1


def test_mae_ignores_differences_below_the_floor():
    config = MelConfig()
    floor = config.floor_normalised
    a = np.full((1, 4, 4), floor - 1.0, np.float32)
    assert metrics.mae_db(a, np.full_like(a, floor), config)[0] == 0.0
