"""Music-like test signals the project makes itself (benchmarks, tests, examples).

Deterministic for a given ``rng``: chords of harmonic tones with vibrato and
decaying envelopes, a bass line, and noise-burst percussion.
"""

import numpy as np

_SCALES = {  # semitones from the tonic
    False: np.array([0, 2, 4, 5, 7, 9, 11]),  # major
    True: np.array([0, 2, 3, 5, 7, 8, 10]),  # natural minor
}


def _note_hz(midi_note: float) -> float:
    return 440.0 * 2.0 ** ((midi_note - 69) / 12)


def music_like(
    duration_s: float,
    sample_rate: int,
    *,
    rng: np.random.Generator,
    tempo_bpm: float = 120.0,
    root_midi: int = 57,
    minor: bool = False,
    cadences: bool = False,
) -> np.ndarray:
    """A mono clip, float32 ``[round(duration_s * sample_rate)]`` peaking near -3 dBFS, in the
    major (or ``minor``: natural minor) key of ``root_midi`` at ``tempo_bpm``. Chords are
    drawn from every degree of the scale, or with ``cadences`` from the four that state a
    key (I, IV, V, vi: each bar starts on the tonic and its third chord is the dominant)."""
    scale = _SCALES[minor]
    n_samples = round(duration_s * sample_rate)
    time_s = np.arange(n_samples) / sample_rate
    out = np.zeros(n_samples)
    beat_s = 60.0 / tempo_bpm
    n_beats = int(np.ceil(duration_s / beat_s))
    for beat in range(n_beats):
        start = int(beat * beat_s * sample_rate)
        stop = min(n_samples, int((beat + 1) * beat_s * sample_rate))
        t = time_s[start:stop] - time_s[start]
        if beat % 2 == 0:  # a new chord every two beats
            degree = rng.integers(0, 7)
            if cadences:
                degree = (0, rng.choice((3, 5)), 4, rng.choice((0, 3)))[beat // 2 % 4]
            chord = [
                root_midi + scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)
            ]
        envelope = np.exp(-t / (0.6 * beat_s))
        for midi in chord:
            f0 = _note_hz(midi) * (1 + 0.003 * np.sin(2 * np.pi * 5.5 * t))
            phase = 2 * np.pi * np.cumsum(f0) / sample_rate
            for harmonic in range(1, 9):
                if harmonic * _note_hz(midi) < sample_rate / 2.2:
                    out[start:stop] += envelope * np.sin(harmonic * phase) / harmonic**1.5 * 0.08
        bass_hz = _note_hz(chord[0] - 24)
        out[start:stop] += 0.15 * np.exp(-t / beat_s) * np.sin(2 * np.pi * bass_hz * t)
        hit = min(stop - start, int(0.08 * sample_rate))
        noise = rng.standard_normal(hit) * np.exp(-np.arange(hit) / (0.015 * sample_rate))
        out[start : start + hit] += 0.12 * noise
    peak = np.max(np.abs(out)) or 1.0
    return (out * (0.7 / peak)).astype(np.float32)


def air(
    length: int, sample_rate: int, *, rng: np.random.Generator, level_db: float,
    band_hz: tuple[float, float] = (17000.0, 23000.0),
) -> np.ndarray:  # fmt: skip
    """Noise between ``band_hz`` (the "air" above the model's 16.4 kHz) at ``level_db`` RMS,
    float32 ``[length]``: what a recording at 44.1 / 48 kHz holds that the model cannot."""
    import scipy.signal

    sos = scipy.signal.butter(8, band_hz, btype="bandpass", fs=sample_rate, output="sos")
    noise = scipy.signal.sosfilt(sos, rng.standard_normal(length))
    return (noise * (10 ** (level_db / 20) / np.sqrt(np.mean(noise**2)))).astype(np.float32)


def band_level_db(audio: np.ndarray, sample_rate: int, band_hz: tuple[float, float]) -> float:
    """Mean power (dB) in ``band_hz`` of ``[samples]`` or ``[samples, channels]`` (Welch)."""
    import scipy.signal

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    frequencies, power = scipy.signal.welch(mono, sample_rate, nperseg=4096)
    inside = (frequencies >= band_hz[0]) & (frequencies <= band_hz[1])
    return float(10 * np.log10(power[inside].mean() + 1e-30))


EXAMPLES = {
    "example-a-slow-low.ogg": {"tempo_bpm": 84.0, "root_midi": 45, "seed": 11},
    "example-b-fast-high.ogg": {"tempo_bpm": 150.0, "root_midi": 64, "seed": 12},
}


def write_examples(folder: str, duration_s: float = 12.0, sample_rate: int = 32768) -> None:
    """Write the two example clips shipped in ``resources/examples`` (OGG Vorbis)."""
    from pathlib import Path

    import soundfile

    for name, params in EXAMPLES.items():
        clip = music_like(
            duration_s,
            sample_rate,
            rng=np.random.default_rng(params["seed"]),
            tempo_bpm=params["tempo_bpm"],
            root_midi=params["root_midi"],
        )
        soundfile.write(Path(folder) / name, clip, sample_rate, format="OGG", subtype="VORBIS")


if __name__ == "__main__":
    import sys

    write_examples(sys.argv[1])
