"""Log-mel features and their inverse to a linear STFT magnitude.

The app and the training scripts both use this module, so a model always sees
exactly the features it was trained on. Arrays are ``[n_mels, frames]`` or
``[n_bins, frames]`` with ``n_bins = n_fft // 2 + 1``; frames are
``hop_length`` samples apart (see :mod:`musinterp_app.audio.stft`).
"""

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
import scipy.sparse

from musinterp_app.audio import stft
from musinterp_app.audio.griffinlim import griffinlim_stream
from musinterp_app.audio.parallel import run_blocks, split


@dataclass(frozen=True)
class MelConfig:
    """Everything needed to turn audio into normalised log-mel and back.

    Normalised value = (clamp(dB, floor_db) - norm_offset_db) / norm_scale_db,
    where dB = 10·log10 of the mel power of a float signal in [-1, 1].
    """

    sample_rate: int = 32768
    n_fft: int = 4096
    hop_length: int = 256
    n_mels: int = 512
    fmin_hz: float = 0.0
    fmax_hz: float = 16384.0
    segment_frames: int = 640
    floor_db: float = -80.0
    norm_offset_db: float = -30.0
    norm_scale_db: float = 30.0

    def __post_init__(self) -> None:
        if self.n_fft % self.hop_length or self.n_fft < 2 * self.hop_length:
            raise ValueError("n_fft must be a multiple of hop_length and at least twice it")
        if not 0 <= self.fmin_hz < self.fmax_hz <= self.sample_rate / 2:
            raise ValueError("need 0 <= fmin_hz < fmax_hz <= sample_rate / 2")
        if self.norm_scale_db <= 0:
            raise ValueError("norm_scale_db must be positive")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def segment_seconds(self) -> float:
        return self.segment_frames * self.hop_length / self.sample_rate

    def frames_to_seconds(self, frames: float) -> float:
        return frames * self.hop_length / self.sample_rate

    def seconds_to_frames(self, seconds: float) -> int:
        return round(seconds * self.sample_rate / self.hop_length)

    @property
    def floor_normalised(self) -> float:
        """The normalised value that silence maps to."""
        return (self.floor_db - self.norm_offset_db) / self.norm_scale_db

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "MelConfig":
        """Build from a dict (e.g. model metadata); unknown keys are ignored."""
        known = {f.name: f.type for f in fields(cls)}
        kwargs = {}
        for name, value in values.items():
            if name in known:
                kwargs[name] = int(value) if known[name] in (int, "int") else float(value)
        return cls(**kwargs)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (15 mel), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_region = 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_region, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    log_region = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_region, linear)


def band_centres_hz(config: MelConfig) -> np.ndarray:
    """Centre frequency of every mel band in Hz, ``[n_mels]`` (for axis labels)."""
    edges = np.linspace(_hz_to_mel(config.fmin_hz), _hz_to_mel(config.fmax_hz), config.n_mels + 2)
    return _mel_to_hz(edges[1:-1])


@lru_cache(maxsize=4)
def mel_filterbank(config: MelConfig) -> np.ndarray:
    """Triangular, area-normalised (Slaney) mel filters, float32 ``[n_mels, n_bins]``.

    Same filters as ``librosa.filters.mel`` with its defaults, computed here in
    numpy so the app never waits for numba to compile.
    """
    bin_hz = np.linspace(0, config.sample_rate / 2, config.n_bins)
    edges_hz = _mel_to_hz(
        np.linspace(_hz_to_mel(config.fmin_hz), _hz_to_mel(config.fmax_hz), config.n_mels + 2)
    )
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz - lower) / (centre - lower)
    falling = (upper - bin_hz) / (upper - centre)
    weights = np.maximum(0, np.minimum(rising, falling))
    weights *= 2.0 / (upper - lower)
    filters = weights.astype(np.float32)
    filters.flags.writeable = False
    return filters


@dataclass(frozen=True)
class _MelInverse:
    """Sparse matrices for inverting the filterbank (built once per config)."""

    filters: scipy.sparse.csr_matrix  # M, [n_mels, n_bins]
    transpose: scipy.sparse.csr_matrix  # Mᵀ, [n_bins, n_mels]
    spread: scipy.sparse.csr_matrix  # [n_bins, n_mels]: band power → bin power, smoothly


@lru_cache(maxsize=4)
def _mel_inverse(config: MelConfig) -> _MelInverse:
    filters = scipy.sparse.csr_matrix(mel_filterbank(config))
    transpose = filters.T.tocsr()
    band_area = np.asarray(filters.sum(axis=1)).ravel()  # [n_mels]
    bin_weight = np.asarray(filters.sum(axis=0)).ravel()  # [n_bins]
    density = scipy.sparse.diags(1.0 / np.maximum(band_area, 1e-12))
    average = scipy.sparse.diags(1.0 / np.maximum(bin_weight, 1e-12))
    spread = (average @ transpose @ density).astype(np.float32).tocsr()
    return _MelInverse(filters, transpose, spread)


def prepare(config: MelConfig) -> None:
    """Build what the first render would otherwise build (the filterbank's inverse, the FFT
    plans of ``n_fft``), so the first sound after a model loads comes as fast as the rest."""
    _mel_inverse(config)
    silence = np.zeros((config.n_mels, 2), np.float32) + config.floor_normalised
    for _ in audio_stream(lambda start, stop: silence[:, start:stop], 2, config, n_iter=1):
        pass


def power_mel(samples: np.ndarray, config: MelConfig) -> np.ndarray:
    """Mel power spectrogram, float32 ``[n_mels, frames]`` of a mono clip."""
    spectrum = stft.magnitude(samples, n_fft=config.n_fft, hop_length=config.hop_length)
    return mel_filterbank(config) @ (spectrum * spectrum)


def power_to_normalised(power: np.ndarray, config: MelConfig) -> np.ndarray:
    """Mel power → normalised log-mel (finite: silence maps to the floor)."""
    floor_power = 10.0 ** (config.floor_db / 10.0)
    decibels = 10.0 * np.log10(np.maximum(power, floor_power))
    return ((decibels - config.norm_offset_db) / config.norm_scale_db).astype(np.float32)


CEILING_DB = 60.0  # far above a full-scale signal's mel power (about 50 dB): a safe cap


def normalised_to_power(normalised: np.ndarray, config: MelConfig) -> np.ndarray:
    """Normalised log-mel → mel power; values at or below the floor give zero power.

    Whatever a decoder produces, the power stays finite: NaN counts as silence
    and everything is capped at ``CEILING_DB``.
    """
    decibels = np.asarray(normalised, dtype=np.float32) * config.norm_scale_db
    decibels += config.norm_offset_db
    np.nan_to_num(
        decibels, copy=False, nan=config.floor_db, posinf=CEILING_DB, neginf=config.floor_db
    )
    np.clip(decibels, config.floor_db, CEILING_DB, out=decibels)
    power = np.power(np.float32(10.0), decibels / 10.0)
    power[decibels <= config.floor_db + 1e-3] = 0.0
    return power


def log_mel(samples: np.ndarray, config: MelConfig) -> np.ndarray:
    """Normalised log-mel, float32 ``[n_mels, len(samples) // hop_length]``."""
    return power_to_normalised(power_mel(samples, config), config)


def log_mel_long(samples: np.ndarray, config: MelConfig, *, block_frames: int = 8192) -> np.ndarray:
    """:func:`log_mel` of a long clip, block by block, with bounded memory.

    Same frames as ``log_mel(samples)`` (each block is analysed with half a
    window of real neighbouring audio on both sides), but the STFT never holds
    more than ``block_frames`` frames at once.
    """
    n_frames = len(samples) // config.hop_length
    context = config.n_fft // 2
    padded = np.zeros(len(samples) + 2 * context, np.float32)
    padded[context : context + len(samples)] = samples
    out = np.empty((config.n_mels, n_frames), np.float32)
    for first in range(0, n_frames, block_frames):
        stop = min(n_frames, first + block_frames)
        start_sample = first * config.hop_length
        block = padded[start_sample : stop * config.hop_length + 2 * context]
        out[:, first:stop] = log_mel(block, config)[:, context // config.hop_length :][
            :, : stop - first
        ]
    return out


MEL_INVERSE_ITERATIONS = 32  # multiplicative updates of the mel inverse (renders and exports)


def power_mel_to_magnitude(
    power: np.ndarray, config: MelConfig, *, n_iter: int = MEL_INVERSE_ITERATIONS
) -> np.ndarray:
    """Estimate the linear STFT magnitude ``[n_bins, frames]`` behind a mel power spectrogram.

    A fast non-negative least-squares fit of ``filters @ bin_power ≈ power``:
    start from each band's power spread evenly over the bins it covers, then
    ``n_iter`` multiplicative updates (Lee & Seung), which keep every bin
    non-negative. Sparse products only, no per-frame solver; blocks of frames
    run on parallel threads.
    """
    inverse = _mel_inverse(config)
    power = np.asarray(power, dtype=np.float32)
    magnitude = np.empty((config.n_bins, power.shape[1]), dtype=np.float32)

    def fit(start: int, stop: int) -> None:
        bands = power[:, start:stop]
        bin_power = inverse.spread @ bands
        numerator = inverse.transpose @ bands
        for _ in range(n_iter):
            denominator = inverse.transpose @ (inverse.filters @ bin_power)
            denominator += 1e-12
            bin_power *= numerator
            bin_power /= denominator
        np.sqrt(bin_power, out=magnitude[:, start:stop])

    run_blocks(fit, split(power.shape[1]))
    return magnitude


def to_magnitude(
    normalised: np.ndarray, config: MelConfig, *, n_iter: int = MEL_INVERSE_ITERATIONS
) -> np.ndarray:
    """Normalised log-mel ``[n_mels, frames]`` → linear magnitude ``[n_bins, frames]`` (≥ 0),
    fitted with ``n_iter`` updates (see :func:`power_mel_to_magnitude`)."""
    return power_mel_to_magnitude(normalised_to_power(normalised, config), config, n_iter=n_iter)


def first_chunk_frames(stride: int) -> int:
    """Frames (at the strided hop) of a streamed render's first chunk: about 0.25 s or
    more, so sound starts at once."""
    return max(8, 32 // stride)


def audio_stream(
    log_mel_frames: Callable[[int, int], np.ndarray],
    n_frames: int,
    config: MelConfig,
    *,
    stride: int = 1,
    **options,
) -> Iterator[np.ndarray]:
    """Normalised log-mel → audio chunks in time order (streaming Griffin-Lim).

    ``log_mel_frames(start, stop)`` gives frames ``[n_mels, stop − start]``; it
    is asked for each chunk's frames only when the stream needs them, each frame
    once, in order. ``stride``: phase retrieval runs on every ``stride``-th frame
    (hop ``stride · hop_length``): with ``n_fft`` 16 hops long the frames are so
    redundant that every 4th one is enough (see ``RENDER_STRIDE`` in the engine)
    and each iteration costs a quarter. ``options`` go to
    :func:`griffinlim_stream` (``n_iter``, ``phase_frames`` — at the strided hop —,
    ``cancel``, ...). Together the chunks are ``n_frames · hop_length`` samples.
    """
    strided_frames = -(-n_frames // stride)

    def magnitude_frames(start: int, stop: int) -> np.ndarray:
        log_mel = log_mel_frames(start * stride, min(n_frames, stop * stride))[:, ::stride]
        return to_magnitude(log_mel, config)

    progress = options.pop("progress", None)

    def strided_progress(done: int, _total: int) -> None:
        progress(min(n_frames, done * stride), n_frames)

    chunks = griffinlim_stream(
        magnitude_frames,
        strided_frames,
        n_fft=config.n_fft,
        hop_length=config.hop_length * stride,
        first_chunk_frames=first_chunk_frames(stride),
        progress=None if progress is None else strided_progress,
        **options,
    )
    remaining = n_frames * config.hop_length
    for chunk in chunks:
        yield chunk[:remaining]
        remaining -= len(chunk)


def to_audio(log_mel: np.ndarray, config: MelConfig, **options) -> np.ndarray:
    """A whole normalised log-mel ``[n_mels, frames]`` → float32 audio ``[frames · hop]``,
    through :func:`audio_stream` (``options``: ``stride``, ``n_iter``, ``phase_gradient``…)."""
    stream = audio_stream(
        lambda start, stop: log_mel[:, start:stop], log_mel.shape[1], config, **options
    )
    return np.concatenate(list(stream))
