"""Model v3's measures on constructed cases: the two-sample test, the Fréchet distance,
the interpolation share, intermediateness and correspondence."""

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


def test_the_frechet_distance_of_a_set_grows_with_blur(clips, config):
    """``judge_sets`` puts each set's mel statistics beside the real clips': another draw
    of the same music lies nearer than the real clips blurred."""
    other_draw, real_b = music(config, range(100, 124)), music(config, range(200, 224))
    sets = {"other draw": other_draw, "blurred": uniform_filter(clips, size=(1, 25, 9))}
    judged = blends.judge_sets(sets, clips, real_b, np.arange(len(clips)) // 2, config)
    assert 0 < judged["other draw"]["frechet"] < judged["blurred"]["frechet"] / 2


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
        assert all(value == round(value, 3) for value in curve)  # as the card prints them
    assert {"decodes", "pure slerp 0.5", "log-mel crossfade", "random detour"} <= set(study["sets"])
    assert 0.0 <= study["sets"]["pure lerp 0.5"]["auc"] <= 1.0
    assert "intermediateness" not in study["sets"]["decodes"]
    text = "\n".join(blends.markdown(study))
    assert all(f"| {name} |" in text for name in study["sets"])


def test_the_targets_judge_the_blend_study():
    """Model v3's targets from a summary: thresholds, and the study's two comparisons."""
    from musinterp_app.training.evaluation.evaluate import judge_targets

    judged = {"auc": 0.9, "low": 0.8, "high": 0.95}
    summary = {
        "reconstruction": {
            "this model": {"sc_db": -12.5, "detail_bands": 0.5, "detail_frames": 0.9}
        },
        "blends": {"pure": {"detail_ratio_mid": 0.85, "max_step_ratio": 1.1, "monotonic_pairs": 3}},
        "pairs": 4,
        "speed": {"encode_ms": 9.0, "decode_ms": 30.0, "size_mb": 15.0},
        "blend_study": {
            "interpolation_share_mid": {"lerp": 0.1, "slerp": 0.31},
            "sets": {
                "pure slerp 0.5": judged | {"intermediateness": 0.2, "correspondence": 1.2},
                "log-mel crossfade": {"auc": 0.99, "low": 0.97, "high": 1.0},
                "random detour": judged | {"correspondence": 1.3},
            },
        },
    }
    met = {key: item["met"] for key, item in judge_targets(summary).items()}
    assert met == {
        "sc_db": True,
        "detail_bands": False,
        "detail_frames": True,
        "blend_detail_ratio": True,
        "blend_max_step_ratio": True,
        "interpolation_share_mid": True,
        "intermediateness_mid": False,
        "size_mb": True,
        "blends_monotonic": False,
        "blend_auc_vs_crossfade": True,
        "correspondence_mid": True,
    }
    summary["blend_study"]["sets"]["log-mel crossfade"]["low"] = 0.9  # intervals overlap
    assert not judge_targets(summary)["blend_auc_vs_crossfade"]["met"]
