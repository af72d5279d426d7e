"""Clips with a known tempo, beat phase and key, made here for the analysis tests.

Each bar plays a cadence chord (I–IV–V–I, or i–iv–V–i in minor) of harmonic
tones over its root in the bass; a kick marks every beat, louder on the downbeat.
"""

from dataclasses import dataclass

import numpy as np

MAJOR_CHORDS = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7))
MINOR_CHORDS = ((0, 3, 7), (5, 8, 12), (7, 11, 14), (0, 3, 7))


@dataclass(frozen=True)
class KnownClip:
    samples: np.ndarray  # float32 [samples]
    bpm: float
    tonic: int  # pitch class, 0 = C
    minor: bool
    first_downbeat_s: float


def _tone(hz: float, t: np.ndarray, decay_s: float) -> np.ndarray:
    out = np.zeros_like(t)
    for harmonic in range(1, 7):
        out += np.sin(2 * np.pi * harmonic * hz * t) / harmonic**1.5
    return out * np.exp(-t / decay_s)


def known_clip(
    bpm: float,
    tonic: int,
    minor: bool,
    sample_rate: int,
    *,
    duration_s: float = 8.0,
    lead_in_s: float = 0.0,
) -> KnownClip:
    """A clip at ``bpm`` in ``tonic`` major/minor whose first downbeat is at ``lead_in_s``."""
    n = round(duration_s * sample_rate)
    out = np.zeros(n)
    beat_s = 60.0 / bpm
    chords = MINOR_CHORDS if minor else MAJOR_CHORDS
    root_midi = 48 + tonic
    beat = 0
    while lead_in_s + beat * beat_s < duration_s:
        start = round((lead_in_s + beat * beat_s) * sample_rate)
        stop = min(n, start + round(4 * beat_s * sample_rate))
        t = np.arange(stop - start) / sample_rate
        if beat % 4 == 0:
            for step in chords[(beat // 4) % 4]:
                out[start:stop] += 0.12 * _tone(440 * 2 ** ((root_midi + step - 69) / 12), t, 1.2)
            bass = 440 * 2 ** ((root_midi - 12 + chords[(beat // 4) % 4][0] - 69) / 12)
            out[start:stop] += 0.2 * _tone(bass, t, 0.8)
        kick = t[: round(0.12 * sample_rate)]
        accent = 1.0 if beat % 4 == 0 else 0.55
        out[start : start + len(kick)] += (
            accent * 0.6 * np.sin(2 * np.pi * 60 * kick) * np.exp(-kick / 0.02)
        )
        beat += 1
    out *= 0.7 / np.max(np.abs(out))
    return KnownClip(out.astype(np.float32), bpm, tonic, minor, lead_in_s)


def known_clips(count: int, sample_rate: int, *, seed: int = 0, **options) -> list[KnownClip]:
    """``count`` clips with random tempi (60–180 BPM), keys and lead-ins."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(count):
        bpm = float(rng.uniform(60, 180))
        clips.append(
            known_clip(
                bpm,
                int(rng.integers(12)),
                bool(rng.integers(2)),
                sample_rate,
                lead_in_s=float(rng.uniform(0, 60 / bpm)),
                **options,
            )
        )
    return clips
