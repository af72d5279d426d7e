"""Time-stretch and pitch-shift with Rubber Band (through Spotify's ``pedalboard``).

A studio-grade stretcher, not one written here: transients stay crisp and the
phase stays coherent across channels (mid and side are stretched together).
"""

import numpy as np
import pedalboard

MAX_SPEED = 4.0  # beyond ×4 / ÷4 a stretch is no longer musical


def stretch(
    samples: np.ndarray, sample_rate: int, *, speed: float = 1.0, semitones: float = 0.0
) -> np.ndarray:
    """``samples`` ``[samples]`` or ``[channels, samples]`` played ``speed`` times as fast
    (same pitch) and shifted by ``semitones`` (same tempo): float32 of
    ``round(samples / speed)`` samples per channel."""
    if not 1 / MAX_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"a speed change of ×{speed:.2f} is outside ×0.25 … ×4")
    audio = np.atleast_2d(np.asarray(samples, np.float32))
    length = round(audio.shape[1] / speed)
    if speed == 1.0 and semitones == 0.0:
        out = audio
    else:
        out = pedalboard.time_stretch(
            audio,
            float(sample_rate),
            stretch_factor=float(speed),
            pitch_shift_in_semitones=float(semitones),
        )
    fitted = np.zeros((audio.shape[0], length), np.float32)
    fitted[:, : min(length, out.shape[1])] = out[:, :length]
    return fitted[0] if np.ndim(samples) == 1 else fitted
