"""model.latent: lerp and slerp, constant α and α over time."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from musinterp_app.model import latent


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 10)).astype(np.float32), rng.normal(size=(64, 10)).astype(
        np.float32
    )


@pytest.mark.parametrize("mode", latent.MODES)
def test_endpoints_are_exact(pair, mode):
    a, b = pair
    np.testing.assert_array_equal(latent.blend(a, b, 0.0, mode), a)
    np.testing.assert_array_equal(latent.blend(a, b, 1.0, mode), b)


def test_lerp_midpoint_is_the_mean(pair):
    a, b = pair
    np.testing.assert_allclose(latent.lerp(a, b, 0.5), (a + b) / 2, atol=1e-6)


def test_slerp_keeps_the_length_of_equal_length_vectors():
    a = np.array([[3.0], [0.0]], np.float32)
    b = np.array([[0.0], [3.0]], np.float32)
    middle = latent.slerp(a, b, 0.5)
    assert np.linalg.norm(middle) == pytest.approx(3.0, rel=1e-5)
    assert np.linalg.norm(latent.lerp(a, b, 0.5)) < 2.2  # the chord cuts the corner


def test_alpha_over_time_blends_each_frame(pair):
    a, b = pair
    alphas = latent.ramp(10)
    morph = latent.blend(a, b, alphas, "lerp")
    np.testing.assert_allclose(morph[:, 0], a[:, 0], atol=1e-6)
    np.testing.assert_allclose(morph[:, -1], b[:, -1], atol=1e-6)
    np.testing.assert_allclose(morph[:, 4], latent.lerp(a, b, alphas[4])[:, 4], atol=1e-6)


def test_parallel_vectors_fall_back_to_lerp():
    a = np.ones((4, 1), np.float32)
    np.testing.assert_allclose(latent.slerp(a, 2 * a, 0.5), 1.5 * a, atol=1e-5)


def test_mismatches_are_refused(pair):
    a, b = pair
    with pytest.raises(ValueError, match="differ in shape"):
        latent.blend(a, b[:, :5], 0.5)
    with pytest.raises(ValueError, match="alpha has 3 values"):
        latent.blend(a, b, np.zeros(3))
    with pytest.raises(ValueError, match="unknown mode"):
        latent.blend(a, b, 0.5, "cubic")


@given(st.floats(0.0, 1.0), st.sampled_from(latent.MODES))
def test_blends_stay_finite_and_between(alpha, mode):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    out = latent.blend(a.astype(np.float32), b.astype(np.float32), alpha, mode)
    assert np.isfinite(out).all()
    scale = max(np.abs(a).max(), np.abs(b).max())
    assert np.abs(out).max() <= 1.5 * scale
