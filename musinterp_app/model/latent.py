"""Blending latents: linear and spherical interpolation, α constant or varying over time.

A temporal latent is ``[channels, latent_frames]``; a global one is
``[channels]``. ``alpha`` is a number in [0, 1] or, for temporal latents, one
value per latent frame ``[latent_frames]`` (a morph over time).
"""

from typing import Literal

import numpy as np

Mode = Literal["lerp", "slerp"]
MODES: tuple[Mode, ...] = ("lerp", "slerp")


def _as_alpha(alpha: float | np.ndarray, latent: np.ndarray) -> np.ndarray:
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.ndim == 1 and (latent.ndim != 2 or alpha.shape[0] != latent.shape[1]):
        raise ValueError(f"alpha has {alpha.shape[0]} values but the latent is {latent.shape}")
    if alpha.ndim > 1:
        raise ValueError("alpha must be a number or one value per latent frame")
    return alpha


def lerp(a: np.ndarray, b: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    """``(1 − α)·a + α·b``, frame by frame."""
    weight = _as_alpha(alpha, a)
    return ((1.0 - weight) * a + weight * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation of each latent frame (the channel vector).

    Follows the great circle between the two vectors instead of the chord, so
    the blend keeps the length typical of latents (a straight line through a
    Gaussian's bulk passes close to its centre). Nearly parallel frames fall
    back to ``lerp``. α = 0 gives ``a`` and α = 1 gives ``b`` exactly.
    """
    weight = _as_alpha(alpha, a)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=0) * np.linalg.norm(b64, axis=0)
    cosine = np.clip(np.sum(a64 * b64, axis=0) / np.maximum(norms, 1e-12), -1.0, 1.0)
    omega = np.arccos(cosine)
    sin_omega = np.sin(omega)
    safe = sin_omega > 1e-4
    sin_safe = np.where(safe, sin_omega, 1.0)
    from_a = np.where(safe, np.sin((1.0 - weight) * omega) / sin_safe, 1.0 - weight)
    from_b = np.where(safe, np.sin(weight * omega) / sin_safe, weight)
    # Exactly a and b at the ends (the sines are only nearly 1 and 0 there).
    from_a = np.where(weight == 0, 1.0, np.where(weight == 1, 0.0, from_a))
    from_b = np.where(weight == 0, 0.0, np.where(weight == 1, 1.0, from_b))
    return (from_a * a64 + from_b * b64).astype(np.float32)


def blend(
    a: np.ndarray, b: np.ndarray, alpha: float | np.ndarray, mode: Mode = "lerp"
) -> np.ndarray:
    """The latent a fraction ``alpha`` of the way from ``a`` to ``b``."""
    if a.shape != b.shape:
        raise ValueError(f"latents differ in shape: {a.shape} vs {b.shape}")
    if mode == "lerp":
        return lerp(a, b, alpha)
    if mode == "slerp":
        return slerp(a, b, alpha)
    raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")


def ramp(n_frames: int, start: float = 0.0, stop: float = 1.0) -> np.ndarray:
    """α going linearly from ``start`` to ``stop`` over ``n_frames`` latent frames."""
    return np.linspace(start, stop, n_frames, dtype=np.float32)


def restore_detail(
    decoded: np.ndarray,
    residual_a: np.ndarray,
    residual_b: np.ndarray,
    share_b: float | np.ndarray,
) -> np.ndarray:
    """ "Keep detail": a decoded blend plus what the model missed of each source.

    All arrays are log-mel ``[n_mels, frames]``; each residual is
    ``source − decode(encode(source))``, weighted by its share (``share_b``: a
    number or one value per frame). At share 0 or 1 this is the source exactly.
    """
    share_b = np.asarray(share_b, np.float32)
    return (decoded + (1 - share_b) * residual_a + share_b * residual_b).astype(np.float32)
