"""Output levels: loudness that follows the sources, peak normalisation, clip protection."""

import numpy as np
from scipy.ndimage import uniform_filter1d

from musinterp_app.audio.mel import MelConfig, normalised_to_power

LOUDNESS_SMOOTHING_FRAMES = 25  # ≈ 0.2 s at 128 frames/s: follows phrases, not single notes
MAX_LOUDNESS_CORRECTION_DB = 24.0


def _peak(audio: np.ndarray) -> float:
    return float(np.max(np.abs(audio))) if audio.size else 0.0


def normalise_peak(audio: np.ndarray, peak_dbfs: float = -1.0) -> np.ndarray:
    """Scale so the loudest sample sits at ``peak_dbfs`` (silence stays silence)."""
    peak = _peak(audio)
    return audio if peak == 0.0 else (audio * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def limit_peak(audio: np.ndarray, ceiling: float = 0.999) -> np.ndarray:
    """Scale down (never up) so that no sample clips in a 16-bit file."""
    peak = _peak(audio)
    return audio * (ceiling / peak) if peak > ceiling else audio


def frame_loudness_db(normalised: np.ndarray, config: MelConfig) -> np.ndarray:
    """Total mel power of every frame in dB, ``[frames]`` (silence: the floor)."""
    power = normalised_to_power(normalised, config).sum(axis=0)
    return 10.0 * np.log10(np.maximum(power, 10.0 ** (config.floor_db / 10.0)))


def follow_loudness(normalised: np.ndarray, target_db: np.ndarray, config: MelConfig) -> np.ndarray:
    """Log-mel ``[n_mels, frames]``, each frame's level moved towards ``target_db [frames]``.

    Levels are compared as power summed over ``LOUDNESS_SMOOTHING_FRAMES``
    around each frame, so the correction follows phrases rather than pumping
    on single notes, and the energy over any such window matches the target.
    The correction is limited to ±``MAX_LOUDNESS_CORRECTION_DB``; frames whose
    target is at the floor (marked silent) keep their level. Silence stays silence.
    """
    actual_db = frame_loudness_db(normalised, config)
    target_db = np.where(target_db <= config.floor_db + 1.0, actual_db, target_db)
    window = LOUDNESS_SMOOTHING_FRAMES
    actual = uniform_filter1d(10.0 ** (actual_db / 10.0), window, mode="nearest")
    target = uniform_filter1d(10.0 ** (target_db / 10.0), window, mode="nearest")
    correction = 10.0 * np.log10(np.maximum(target, 1e-30) / np.maximum(actual, 1e-30))
    correction = np.clip(correction, -MAX_LOUDNESS_CORRECTION_DB, MAX_LOUDNESS_CORRECTION_DB)
    floor = config.floor_normalised
    shifted = normalised + (correction / config.norm_scale_db).astype(np.float32)
    return np.where(normalised <= floor + 1e-6, normalised, np.maximum(shifted, floor)).astype(
        np.float32
    )


def fade_ends(audio: np.ndarray, samples: int) -> np.ndarray:
    """A copy of ``[n]`` or ``[n, channels]`` audio with raised-cosine fades of ``samples``
    at both ends (0: unchanged)."""
    samples = min(samples, len(audio) // 2)
    if samples <= 0:
        return audio
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(samples) + 0.5) / samples)).astype(np.float32)
    if np.ndim(audio) == 2:
        ramp = ramp[:, None]
    faded = np.array(audio, dtype=np.float32)
    faded[:samples] *= ramp
    faded[-samples:] *= ramp[::-1]
    return faded


class PeakLimiter:
    """Keeps a stream of audio chunks under ``ceiling`` without clipping, with a smooth gain.

    The gain drops at once where a hop of samples would exceed the ceiling and
    recovers with a ``release_s`` time constant; within a hop it moves
    linearly, and any sample still above the ceiling is held to it. The state
    carries across chunks, so a streamed render (chunks of whole hops, as
    Griffin-Lim yields them) and the same audio in one piece come out alike.
    Playback and export both run through it: a file exported "as heard" is
    what was heard.
    """

    def __init__(
        self,
        sample_rate: int,
        *,
        ceiling: float = 0.99,
        release_s: float = 0.1,
        hop: int = 256,
    ) -> None:
        self.ceiling = ceiling
        self.hop = hop
        self.release = float(np.exp(-hop / (release_s * sample_rate)))
        self.gain = 1.0

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """The next chunk ``[samples]`` (or ``[samples, channels]``), limited."""
        audio = np.asarray(chunk, dtype=np.float32)
        if len(audio) == 0:
            return audio
        peaks = np.abs(audio).reshape(len(audio), -1).max(axis=1)
        hops = -(-len(audio) // self.hop)
        targets = [
            min(
                1.0, self.ceiling / max(float(peaks[k * self.hop : (k + 1) * self.hop].max()), 1e-9)
            )
            for k in range(hops)
        ]
        ends = np.empty(hops)
        gain = self.gain
        for k, target in enumerate(targets):  # one value per hop: cheap in Python
            gain = target if target < gain else target + (gain - target) * self.release
            ends[k] = gain
        starts = np.concatenate([[self.gain], ends[:-1]])
        ramp = (np.arange(self.hop) + 1) / self.hop
        per_sample = (starts[:, None] + (ends - starts)[:, None] * ramp).reshape(-1)[: len(audio)]
        per_sample = np.minimum(per_sample, self.ceiling / np.maximum(peaks, 1e-9))
        self.gain = float(ends[-1])
        shape = (-1, 1) if audio.ndim == 2 else (-1,)
        return (audio * per_sample.reshape(shape)).astype(np.float32)
