"""One blend: the sources, frames, shares and latent of a request, worked out once.

:meth:`Engine.blend <musinterp_app.engine.core.Engine.blend>` builds a
:class:`Blend` from the settings (α, or the pad's position, travels inside
them); everything a request needs then reads it instead of looking the tracks
up and computing the shares again: the blended log-mel of any window, the
sources' phase that starts the render, the exact source at the ends, the
stereo image.

Shapes: log-mel ``[n_mels, frames]`` (normalised), latents ``[channels,
latent_frames]`` (``[channels]`` for a global latent), audio float32 ``[samples]``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from musinterp_app.audio import levels, mel, stft
from musinterp_app.engine.settings import Settings
from musinterp_app.engine.tracks import Track
from musinterp_app.model import latent
from musinterp_app.model.onnx_vae import OnnxVAE

DECODE_MARGIN_LATENT = 24  # latent frames around a window: the v2 decoder reaches ±15, loudness ±3


@dataclass(frozen=True, eq=False)
class Blend:
    """A blend request made concrete: ``tracks`` (``settings.slots``, in order), ``frames``
    (the shortest excerpt), ``shares`` (each source's weight: ``[n]`` or ``[n, frames]``)
    and ``latent`` (the blended code)."""

    model: OnnxVAE
    settings: Settings
    tracks: tuple[Track, ...]
    frames: int
    shares: np.ndarray
    latent: np.ndarray

    @classmethod
    def of(cls, model: OnnxVAE, settings: Settings, tracks: list[Track | None]) -> "Blend":
        """The blend of ``tracks`` (those of ``settings.slots``); ``ValueError`` naming what
        is missing, or a morph asked of a model without a temporal latent."""
        if not all(tracks):
            missing = "both tracks" if len(tracks) == 2 else "all four tracks (A, B, C, D)"
            raise ValueError(f"load {missing} first")
        if settings.morph and not model.info.temporal:
            raise ValueError("morphing over time needs a model with a temporal latent")
        frames = min(t.frames for t in tracks)
        latent_frames = model.latent_frames(frames) if model.info.temporal else 0
        codes = [t.latent[:, :latent_frames] if latent_frames else t.latent for t in tracks]
        return cls(
            model=model,
            settings=settings,
            tracks=tuple(tracks),
            frames=frames,
            shares=settings.shares(frames),
            latent=settings.blend_latents(codes, latent_frames),
        )

    @property
    def config(self) -> mel.MelConfig:
        return self.model.mel_config

    def mel(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The blended log-mel of frames ``[start, stop)``, ``[n_mels, stop − start]``.

        With a temporal model a window is decoded from just the latent frames it
        needs (plus a margin wider than the decoder's reach and the loudness
        smoothing), so the first chunk of a long blend costs no more than a short
        one. With ``keep_detail`` each track's residual is added back by its share;
        with ``steady_level`` each frame's level follows the share-weighted level of
        the sources.
        """
        stop = self.frames if stop is None else min(stop, self.frames)
        code, first_frame = self.latent, 0
        if self.model.info.temporal and (start > 0 or stop < self.frames):
            reduction = self.model.info.time_reduction
            first_latent = max(0, start // reduction - DECODE_MARGIN_LATENT)
            stop_latent = min(code.shape[1], -(-stop // reduction) + DECODE_MARGIN_LATENT)
            code = code[:, first_latent:stop_latent]
            first_frame = first_latent * reduction
        blended = self.model.decode(code)
        window = slice(first_frame, min(self.frames, first_frame + blended.shape[1]))
        blended = blended[:, : window.stop - window.start]
        shares = self.shares[:, window] if self.shares.ndim == 2 else self.shares
        if self.settings.keep_detail:
            residuals = [t.residual[:, window] for t in self.tracks]
            blended = latent.restore_detail_weighted(blended, residuals, shares)
        if self.settings.steady_level:
            floor_db = self.config.floor_db
            source_levels = [t.loudness_db[window] for t in self.tracks]
            any_silent = np.min(source_levels, axis=0) <= floor_db + 1.0
            target = np.where(any_silent, floor_db, latent.weighted_sum(source_levels, shares))
            blended = levels.follow_loudness(blended, target, self.config)
        return blended[:, start - first_frame : stop - first_frame].astype(np.float32)

    @property
    def exact_source(self) -> Track | None:
        """The track the blend *is* (α = 0 or 1, or a pad corner, with keep detail, no
        morph), or None."""
        settings = self.settings
        if settings.keep_detail and not settings.morph and np.count_nonzero(self.shares) == 1:
            return self.tracks[int(np.argmax(self.shares))]
        return None

    def _per_sample(self, first_sample: int, length: int) -> np.ndarray:
        """The shares at samples ``[first_sample, first_sample + length)``: ``[n]`` when they
        are constant, else interpolated from the frames ``[n, length]``."""
        if self.shares.ndim == 1:
            return self.shares
        hop = self.config.hop_length
        at_frames = np.arange(first_sample, first_sample + length) / hop
        frames = np.arange(self.frames)
        return np.stack([np.interp(at_frames, frames, share) for share in self.shares])

    def source_phase(self, *, stride: int = 1) -> Callable[[int, int], np.ndarray]:
        """Frames at hop ``stride · hop_length`` → complex ``[n_bins, frames]``: the STFT of
        the share-weighted mix of the sources, whose phase starts the render.

        The STFT is linear, so this is the weighted sum of the sources' STFTs (for a
        morph, with the shares interpolated per sample rather than held per frame),
        at the cost of one transform instead of one per source.
        """
        n_fft, hop = self.config.n_fft, self.config.hop_length * stride

        def phase_frames(start: int, stop: int) -> np.ndarray:
            first_sample = start * hop - n_fft // 2
            length = (stop - start - 1) * hop + n_fft
            pieces = [stft.read_padded(t.samples, first_sample, length) for t in self.tracks]
            weights = self._per_sample(first_sample, length).astype(np.float32)
            mixed = latent.weighted_sum(pieces, weights)
            return stft.piece_spectra(mixed, stop - start, n_fft=n_fft, hop_length=hop)

        return phase_frames

    def stereo_image(self, middle: np.ndarray) -> np.ndarray:
        """Left and right ``[samples, 2]`` of a rendered blend ``[samples]`` (its middle).

        The model blends the middle (what it hears); the sides of the sources,
        (left − right) / 2, are mixed by the same shares (per sample when
        morphing), so the blend keeps the sources' stereo image, and α = 0 or 1
        gives back a stereo source exactly. A mono source has no sides.
        """
        weights = self._per_sample(0, len(middle))
        side = np.zeros(len(middle), np.float32)
        for track, weight in zip(self.tracks, weights, strict=True):
            if track.side is not None:
                length = min(len(middle), len(track.side))
                part = weight[:length] if np.ndim(weight) else weight
                side[:length] += part * track.side[:length]
        return np.stack([middle + side, middle - side], axis=1).astype(np.float32)
