"""Where latents come from when there is no source: a prior to sample for generation.

A VAE trained with a small KL weight does not put its latents where its nominal
prior N(0, I) is, and a temporal latent moves smoothly in time, so white noise
decodes to something no training clip looked like. A :class:`LatentPrior` is
fitted on the posterior means of the training clips (``musinterp-train
fit-prior``) and saved beside the model as ``prior.npz``. It holds two ways to
make latent frames that move like the training latents:

- ``"ar"``: a vector autoregression of order p over latent frames,
  ``z_t = c + Σ_k A_k z_{t−k} + L e_t`` with ``e_t ~ N(0, T² I)``;
- ``"spectral"``: Gaussian noise per decorrelated channel, filtered so its
  spectrum over time matches the training latents', then given their mean
  and channel covariance;

and, as a baseline, ``"white"``: independent frames with the training mean
and covariance (smooth in nothing). The temperature ``T`` scales the
deviation from the mean (the innovations of ``"ar"``).

Arrays: temporal latents ``[channels, latent_frames]``; a global model's
latents are ``[channels]`` and only the mean and covariance apply.
"""

import io
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.signal

from musinterp_app.base import files

PRIOR_FILE = "prior.npz"
Kind = Literal["ar", "spectral", "white"]
KINDS: tuple[Kind, ...] = ("ar", "spectral", "white")
DEFAULT_KIND: Kind = "spectral"  # measured closest to real clips (GENERATION.md of the default)
BURN_IN_FRAMES = 256  # latent frames run and thrown away so an AR walk forgets its start


class PriorError(ValueError):
    """A ``prior.npz`` that cannot be used; ``str(error)`` says why, for a person."""


@dataclass(frozen=True)
class LatentPrior:
    """Statistics of a model's training latents (see the module docstring)."""

    model_id: str
    mean: np.ndarray  # [C]
    scale_tril: np.ndarray  # [C, C]: Cholesky factor of the channel covariance
    filters: np.ndarray  # [C, taps]: per decorrelated channel, unit-energy FIR (spectral kind)
    ar_weights: np.ndarray  # [order, C, C]: A_1 … A_p (empty for a global latent)
    ar_bias: np.ndarray  # [C]
    ar_noise_tril: np.ndarray  # [C, C]: Cholesky factor of the innovations' covariance
    fitted: bool = True  # False: the nominal N(0, I), for a model without prior.npz

    @property
    def channels(self) -> int:
        return len(self.mean)

    @classmethod
    def nominal(cls, channels: int, model_id: str = "") -> "LatentPrior":
        """The VAE's nominal prior N(0, I), white in time: for models never fitted."""
        eye = np.eye(channels, dtype=np.float64)
        return cls(
            model_id=model_id,
            mean=np.zeros(channels),
            scale_tril=eye,
            filters=np.ones((channels, 1)),
            ar_weights=np.zeros((0, channels, channels)),
            ar_bias=np.zeros(channels),
            ar_noise_tril=eye,
            fitted=False,
        )

    def sample(
        self,
        latent_frames: int,
        *,
        kind: Kind = DEFAULT_KIND,
        temperature: float = 1.0,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Latent frames drawn from the prior, float32 ``[C, latent_frames]``.

        ``latent_frames == 0`` draws one global latent ``[C]``.
        """
        if kind not in KINDS:
            raise ValueError(f"prior kind {kind!r} is not one of {', '.join(KINDS)}")
        global_latent = latent_frames == 0
        frames = 1 if global_latent else latent_frames
        if kind == "ar" and len(self.ar_weights) and not global_latent:
            z = self._sample_ar(frames, temperature, rng)
        else:
            smooth = kind == "spectral" and not global_latent
            noise = (
                self._filtered(frames, rng)
                if smooth
                else rng.standard_normal((self.channels, frames))
            )
            z = self.mean[:, None] + temperature * (self.scale_tril @ noise)
        z = z.astype(np.float32)
        return z[:, 0] if global_latent else z

    def _filtered(self, frames: int, rng: np.random.Generator) -> np.ndarray:
        """Unit-variance noise ``[C, frames]`` with each channel's spectrum over time."""
        taps = self.filters.shape[1]
        noise = rng.standard_normal((self.channels, frames + taps - 1))
        return scipy.signal.fftconvolve(noise, self.filters, mode="valid", axes=1)

    def _sample_ar(self, frames: int, temperature: float, rng: np.random.Generator) -> np.ndarray:
        order = len(self.ar_weights)
        total = BURN_IN_FRAMES + frames
        innovations = temperature * (
            self.ar_noise_tril @ rng.standard_normal((self.channels, total))
        )
        # The walk runs around the mean, so the temperature scales its distance from it.
        centre = np.linalg.solve(np.eye(self.channels) - self.ar_weights.sum(axis=0), self.ar_bias)
        z = np.zeros((self.channels, total + order))
        z[:, :order] = centre[:, None]
        for t in range(order, total + order):
            z[:, t] = self.ar_bias + innovations[:, t - order]
            for k in range(order):
                z[:, t] += self.ar_weights[k] @ z[:, t - 1 - k]
        return z[:, order + BURN_IN_FRAMES :]

    def save(self, folder: Path) -> Path:
        """Write ``folder/prior.npz`` atomically (temporary name, then rename)."""
        arrays = io.BytesIO()
        np.savez(arrays, **{f.name: np.asarray(getattr(self, f.name)) for f in fields(self)})
        return files.write_atomically(Path(folder) / PRIOR_FILE, arrays.getvalue())


MAX_PRIOR_BYTES = 64 << 20  # the shipped prior is 0.2 MB; a mixture of any sensible size fits


def load(folder: Path, *, model_id: str, channels: int) -> LatentPrior | None:
    """The prior saved in a model folder, or None when there is none.

    Raises :class:`PriorError` when the file is damaged or was fitted for another model.
    """
    path = Path(folder) / PRIOR_FILE
    if not path.exists():
        return None
    try:
        with files.open_regular(path) as handle:
            data = handle.read(MAX_PRIOR_BYTES + 1)
            if len(data) > MAX_PRIOR_BYTES:
                raise ValueError(f"it is larger than {MAX_PRIOR_BYTES >> 20} MiB")
            stored = np.load(io.BytesIO(data), allow_pickle=False)
            values = {f.name: stored[f.name] for f in fields(LatentPrior)}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise PriorError(f"{path} is damaged or not a latent prior ({error}).") from None
    values["model_id"] = str(values["model_id"])
    values["fitted"] = bool(values["fitted"])
    prior = LatentPrior(**values)
    if prior.model_id != model_id or prior.channels != channels:
        raise PriorError(
            f"{path} was fitted for model {prior.model_id} ({prior.channels} channels), "
            f"not this one ({model_id}, {channels} channels): run musinterp-train fit-prior again."
        )
    return prior
