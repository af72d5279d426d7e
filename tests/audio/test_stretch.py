"""Rubber Band through pedalboard: durations, tempo and key after a stretch."""

import numpy as np
import pytest
from support.music import known_clip

from musinterp_app.audio import analysis, stretch

RATE = 32768


@pytest.mark.parametrize("speed", [0.8, 1.0, 1.25, 1.5])
def test_stretch_gives_the_asked_duration_and_tempo(speed):
    clip = known_clip(100.0, 2, False, RATE, duration_s=8.0)
    out = stretch.stretch(clip.samples, RATE, speed=speed)
    assert out.dtype == np.float32
    assert len(out) == round(len(clip.samples) / speed)
    assert analysis.estimate_tempo(out, RATE).bpm == pytest.approx(100.0 * speed, rel=0.02)


def test_pitch_shift_moves_the_key_and_keeps_the_length():
    clip = known_clip(110.0, 2, False, RATE, duration_s=6.0)  # D major
    out = stretch.stretch(clip.samples, RATE, semitones=3)
    assert len(out) == len(clip.samples)
    assert analysis.estimate_key(out, RATE).name == "F major"


def test_channels_are_stretched_together():
    clip = known_clip(100.0, 0, False, RATE, duration_s=4.0).samples
    out = stretch.stretch(np.stack([clip, 0.5 * clip]), RATE, speed=1.2)
    assert out.shape == (2, round(len(clip) / 1.2))
    difference = np.linalg.norm(out[1] - 0.5 * out[0]) / np.linalg.norm(out[1])
    assert difference < 0.01  # the same stretch on both: one is still half the other


def test_an_unmusical_speed_is_refused():
    with pytest.raises(ValueError, match="outside"):
        stretch.stretch(np.zeros(RATE, np.float32), RATE, speed=5.0)
