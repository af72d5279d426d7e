"""Short-time Fourier transform shared by the mel features and Griffin-Lim.

Convention (one for the whole project): frames are centred, the signal is
zero-padded by ``n_fft // 2`` on both sides, and a clip of ``n`` samples has
``n // hop_length`` frames. Frame ``t`` is centred on sample ``t * hop_length``,
so ``frames * hop_length`` samples come back out of the inverse.
"""

from functools import lru_cache

import numpy as np
import scipy.fft

from musinterp_app.audio.parallel import WORKERS


@lru_cache(maxsize=8)
def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window, float32 ``[n_fft]`` (read-only, cached)."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    window.flags.writeable = False
    return window


def frame_count(n_samples: int, hop_length: int) -> int:
    """Number of STFT frames for a clip of ``n_samples``."""
    return n_samples // hop_length


def padded_frames(samples: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """Read-only view ``[frames, n_fft]`` of the centre-padded signal (not windowed)."""
    n_frames = frame_count(len(samples), hop_length)
    padded = np.zeros(len(samples) + n_fft, dtype=np.float32)
    padded[n_fft // 2 : n_fft // 2 + len(samples)] = samples
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft)
    return windows[: n_frames * hop_length : hop_length]


def stft(samples: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Complex STFT, complex64 ``[n_fft // 2 + 1, frames]`` (frames = len // hop)."""
    frames = padded_frames(np.asarray(samples, dtype=np.float32), n_fft, hop_length)
    spectrum = scipy.fft.rfft(frames * hann_window(n_fft), axis=-1, workers=WORKERS)
    return spectrum.T


def magnitude(samples: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Linear STFT magnitude, float32 ``[n_fft // 2 + 1, frames]``."""
    return np.abs(stft(samples, n_fft=n_fft, hop_length=hop_length))


def spectral_convergence_db(
    samples: np.ndarray, target_magnitude: np.ndarray, *, n_fft: int, hop_length: int
) -> float:
    """How far the STFT magnitude of ``samples`` is from ``target_magnitude``, in dB.

    ``20 log10(‖|STFT(x)| - S‖ / ‖S‖)`` over the frames both have; lower is
    better (-20 dB means the error is a tenth of the signal).
    """
    estimate = magnitude(samples, n_fft=n_fft, hop_length=hop_length)
    n_frames = min(estimate.shape[1], target_magnitude.shape[1])
    target = np.asarray(target_magnitude[:, :n_frames], dtype=np.float64)
    error = np.linalg.norm(estimate[:, :n_frames] - target)
    return float(20 * np.log10(error / max(np.linalg.norm(target), 1e-12) + 1e-12))


def stft_frames(
    samples: np.ndarray, start: int, stop: int, *, n_fft: int, hop_length: int
) -> np.ndarray:
    """Frames ``[start, stop)`` of :func:`stft` of ``samples``: complex64 ``[n_bins, frames]``.

    Computes only those frames (the clip is read from ``start · hop − n_fft/2``);
    frames past the end of the clip see zeros.
    """
    first_sample = start * hop_length - n_fft // 2
    piece = read_padded(samples, first_sample, (stop - start - 1) * hop_length + n_fft)
    return piece_spectra(piece, stop - start, n_fft=n_fft, hop_length=hop_length)


def read_padded(samples: np.ndarray, first_sample: int, length: int) -> np.ndarray:
    """``samples[..., first_sample : first_sample + length]`` (``[samples]`` or ``[channels,
    samples]``) as float32, zeros outside the clip."""
    piece = np.zeros((*samples.shape[:-1], length), np.float32)
    lo, hi = max(0, first_sample), min(samples.shape[-1], first_sample + length)
    if hi > lo:
        piece[..., lo - first_sample : hi - first_sample] = samples[..., lo:hi]
    return piece


def piece_spectra(piece: np.ndarray, n_frames: int, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Spectra of the ``n_frames`` windows starting at ``piece[0], piece[hop], …``:
    complex64 ``[n_bins, n_frames]`` (``piece`` is ``(n_frames − 1) · hop + n_fft`` long)."""
    frames = np.lib.stride_tricks.sliding_window_view(piece, n_fft)[::hop_length][:n_frames]
    return scipy.fft.rfft(frames * hann_window(n_fft), axis=-1, workers=WORKERS).T
