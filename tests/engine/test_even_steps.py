"""Even steps: α re-spaced so equal slider steps change the sound equally."""

import numpy as np
import pytest
from support.engines import engine_with

from musinterp_app.base import resources
from musinterp_app.engine import BlendSettings, Engine

MAX_STEP_RATIO = 1.15


@pytest.fixture(scope="module")
def examples(shipped_model):
    paths = sorted(resources.examples_dir().glob("*.ogg"))
    return engine_with(shipped_model, dict(zip("AB", paths, strict=False)), overview=False)


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_even_steps_make_the_largest_step_close_to_the_mean(examples, mode):
    settings = BlendSettings(mode=mode)
    plain = examples.step_sizes(settings)
    even = examples.step_sizes(examples.even_steps(settings))
    assert even.max() / even.mean() <= MAX_STEP_RATIO
    assert even.max() / even.mean() < plain.max() / plain.mean()


def test_even_steps_keep_the_ends_and_the_order(examples):
    steps = examples.even_steps(BlendSettings()).steps
    assert steps[0] == 0.0 and steps[-1] == 1.0
    assert np.all(np.diff(steps) > 0)
    at_b = BlendSettings(alpha=1.0, steps=steps)
    assert examples.exact_source(at_b) is examples.tracks["B"]


def test_a_morph_follows_the_even_steps(examples):
    settings = examples.even_steps(BlendSettings(morph=True))
    frames = examples.blend_frames
    alpha = settings.shares(frames)[1]  # B's share: α through the steps
    expected = np.interp(np.linspace(0, 1, frames), np.linspace(0, 1, 9), settings.steps)
    np.testing.assert_allclose(alpha, expected, atol=1e-6)


def test_steps_that_do_not_run_from_0_to_1_are_refused():
    with pytest.raises(ValueError, match="even steps"):
        BlendSettings(steps=(0.1, 0.5, 1.0))


def test_the_map_is_kept_until_a_track_or_option_changes(examples, shipped_model):
    first = examples.even_steps(BlendSettings())
    again = examples.even_steps(BlendSettings(alpha=0.3))
    assert again.steps is first.steps  # not measured again
    assert examples.even_steps(BlendSettings(mode="lerp")).steps != first.steps
    other = Engine(shipped_model)
    other.set_track("A", examples.tracks["B"])
    other.set_track("B", examples.tracks["A"])
    swapped = other.even_steps(BlendSettings()).steps
    assert swapped != first.steps
    other.set_track("A", examples.tracks["A"])  # another track: measured again, not compared
    other.set_track("B", examples.tracks["B"])
    assert other.even_steps(BlendSettings()).steps == pytest.approx(first.steps)
