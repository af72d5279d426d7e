"""Time-stretch and pitch-shift with Rubber Band (through Spotify's ``pedalboard``).

A studio-grade stretcher, not one written here: transients stay crisp and the
phase stays coherent across channels (mid and side are stretched together).
"""

from dataclasses import dataclass, replace

import numpy as np
import pedalboard

from musinterp_app.audio.analysis import BEATS_PER_BAR, Key, Tempo

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


SYNC_CHOICES = ("tempo", "key")


@dataclass(frozen=True)
class Alignment:
    """How a track is fitted to a reference track (``sync``: "tempo", "key" or both).

    ``tempo``/``key``: this track's (estimated or overridden) tempo and key before
    fitting; ``reference_*``: the reference's. The track is played ``speed`` times as
    fast, shifted by ``semitones``, and ``skip_s`` (seconds of the stretched audio)
    are cut from its start so that its first downbeat meets the reference's.
    """

    sync: tuple[str, ...]
    tempo: Tempo
    key: Key
    reference_tempo: Tempo
    reference_key: Key
    speed: float
    semitones: int
    skip_s: float

    def to_dict(self) -> dict:
        return {
            "sync": list(self.sync),
            "tempo": self.tempo.to_dict(),
            "key": self.key.to_dict(),
            "reference_tempo": self.reference_tempo.to_dict(),
            "reference_key": self.reference_key.to_dict(),
            "speed": self.speed,
            "semitones": self.semitones,
            "skip_s": self.skip_s,
        }

    @classmethod
    def from_dict(cls, values: dict) -> "Alignment":
        def tempo(entry: dict) -> Tempo:
            return Tempo(**entry)

        def key(entry: dict) -> Key:
            return replace(Key.parse(entry["key"]), confidence=entry["confidence"])

        return cls(
            sync=tuple(values["sync"]),
            tempo=tempo(values["tempo"]),
            key=key(values["key"]),
            reference_tempo=tempo(values["reference_tempo"]),
            reference_key=key(values["reference_key"]),
            speed=float(values["speed"]),
            semitones=int(values["semitones"]),
            skip_s=float(values["skip_s"]),
        )


def plan(
    sync: tuple[str, ...],
    tempo: Tempo,
    key: Key,
    reference_tempo: Tempo,
    reference_key: Key,
    *,
    fold: bool = True,
) -> Alignment:
    """How to fit a track with ``tempo`` and ``key`` to the reference's.

    Tempo: with ``fold``, the speed change is folded by octaves into ×0.71 … ×1.41,
    so a track estimated at double or half the reference's tempo is not stretched
    twice as far (its beats still fall on the reference's beats); without it (a
    tempo given by hand: ×2 means twice as fast) the stretch is the ratio itself,
    within ×0.25 … ×4 (``ValueError`` beyond). Then the start is cut
    so its first downbeat lands on one of the reference's (modulo one of the
    reference's bars). Key: the smallest shift onto the reference's key (see
    ``Key.semitones_to``). Neither when either track has none (too quiet: ``found``).
    """
    unknown = set(sync) - set(SYNC_CHOICES)
    if unknown:
        raise ValueError(f"sync {', '.join(sorted(unknown))}? Choose tempo, key or tempo,key")
    speed, skip_s = 1.0, 0.0
    if "tempo" in sync and tempo.found and reference_tempo.found:  # else nothing to match
        speed = reference_tempo.bpm / tempo.bpm
        if fold:
            speed *= 2.0 ** -np.round(np.log2(speed))
        elif not 1 / MAX_SPEED <= speed <= MAX_SPEED:
            raise ValueError(
                f"matching {tempo.bpm:.1f} BPM to {reference_tempo.bpm:.1f} BPM needs a "
                f"×{speed:.2f} stretch, beyond ×0.25 … ×4: halve or double one of the tempos"
            )
        bar_s = reference_tempo.beat_s * BEATS_PER_BAR
        skip_s = float((tempo.first_downbeat_s / speed - reference_tempo.first_downbeat_s) % bar_s)
    pitched = key.found and reference_key.found  # no key in one of them: nothing to match
    semitones = key.semitones_to(reference_key) if "key" in sync and pitched else 0
    return Alignment(
        tuple(sync), tempo, key, reference_tempo, reference_key, float(speed), semitones, skip_s
    )
