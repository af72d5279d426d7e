"""Model v3's measures on constructed cases: the two-sample test, the interpolation share,
intermediateness and correspondence."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

pytest.importorskip("sklearn")
pytestmark = pytest.mark.train

from musinterp_app.audio import mel, synth  # noqa: E402
from musinterp_app.training.evaluation import audio_features, blends, metrics  # noqa: E402


def music(config, seeds) -> np.ndarray:
    """2-s music-like log-mels ``[len(seeds), n_mels, frames]``, one key per seed."""
    return np.stack(
        [
            mel.log_mel(
                synth.music_like(
                    2.0, config.sample_rate, rng=np.random.default_rng(seed), root_midi=40 + k
                ),
                config,
            )
            for k, seed in enumerate(seeds)
        ]
    )


@pytest.fixture(scope="module")
def clips(config) -> np.ndarray:
    return music(config, range(24))


def test_two_draws_of_one_set_are_indistinguishable_and_a_blurred_set_is_not(clips, config):
    sharp = audio_features.feature_table(clips, config)
    other_draw = audio_features.feature_table(music(config, range(100, 124)), config)
    blurred = audio_features.feature_table(uniform_filter(clips, size=(1, 25, 9)), config)
    groups = np.arange(len(sharp)) // 2  # two clips per "file"
    alike = audio_features.two_sample_auc(sharp, other_draw, groups)
    apart = audio_features.two_sample_auc(sharp, blurred, groups)
    assert alike["low"] < 0.5 + 0.2 and alike["auc"] < 0.75
    assert apart["auc"] > 0.9 and apart["auc"] > alike["high"]
    assert apart["folds"] == 5 and apart["clips"] == len(sharp)


def test_a_crossfade_has_no_interpolation_share(clips, config):
    a, b = clips[:4], clips[4:8]
    crossfade = 0.3 * a + 0.7 * b
    shares = metrics.interpolation_share(crossfade, a, b, a, b, 0.7, config)
    np.testing.assert_allclose(shares, 0.0, atol=1e-6)
    other = metrics.interpolation_share(clips[8:12], a, b, a, b, 0.7, config)
    assert (other > 0.3).all()


def test_a_midway_mix_is_intermediate_and_a_third_piece_does_not_correspond(clips, config):
    a, b, third = clips[0:6], clips[6:12], clips[12:18]
    table = audio_features.feature_table
    fa, fb, f3 = table(a, config), table(b, config), table(third, config)
    mix = table(blends.power_mix(a, b, 0.5, config), config)
    scale = np.concatenate([fa, fb]).std(axis=0) + 1e-6
    between = audio_features.blend_geometry(mix, fa, fb, scale)
    unrelated = audio_features.blend_geometry(f3, fa, fb, scale)
    assert between["correspondence"] < unrelated["correspondence"]
    assert between["intermediateness"] < 0.25


def test_a_random_detour_goes_as_far_as_half_the_way():
    rng = np.random.default_rng(0)
    z_a, z_b = rng.normal(size=(2, 8, 5)).astype(np.float32)
    detour = blends.random_detour(z_a, z_b, rng)
    middle = (z_a + z_b) / 2
    np.testing.assert_allclose(
        np.linalg.norm(detour - middle, axis=0), np.linalg.norm(z_b - z_a, axis=0) / 2, rtol=1e-5
    )


def test_the_blend_study_on_a_tiny_model(exported, cache):
    """Every pair's sets and curves, judged; the Markdown names every set."""
    from musinterp_app.model.onnx_vae import OnnxVAE
    from musinterp_app.training.dataset import data

    model = OnnxVAE(exported[2])
    rows = blends.pair_rows(data.read_index(cache[0]), 6)
    study = blends.study(model, rows, data.read_segments(cache[0], rows))
    assert study["pairs"] == 6 and set(study["interpolation_share_mid"]) == {"lerp", "slerp"}
    for curve in study["interpolation_share"].values():
        assert curve[0] == curve[-1] == 0.0  # the ends are the decodes themselves
    assert {"decodes", "pure slerp 0.5", "log-mel crossfade", "random detour"} <= set(study["sets"])
    assert 0.0 <= study["sets"]["pure lerp 0.5"]["auc"] <= 1.0
    assert "intermediateness" not in study["sets"]["decodes"]
    text = "\n".join(blends.markdown(study))
    assert all(f"| {name} |" in text for name in study["sets"])
