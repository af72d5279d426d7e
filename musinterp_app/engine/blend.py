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
import soxr

from musinterp_app.audio import levels, mel, stft
from musinterp_app.engine.settings import Settings, curve_frames, frame_controls
from musinterp_app.engine.tracks import Track
from musinterp_app.model import latent
from musinterp_app.model.onnx_vae import OnnxVAE

DECODE_MARGIN_LATENT = 24  # latent frames around a window: the v2 decoder reaches ±15, loudness ±3


@dataclass(frozen=True, eq=False)
class Blend:
    """A blend request made concrete: ``tracks`` (``settings.slots``, in order), ``frames``
    (the shortest excerpt, or a performance's length), ``shares`` (each source's weight:
    ``[n]`` or ``[n, frames]``) and ``latent`` (the blended code).

    ``period``: 0 when the excerpt plays once (silence after it); else the excerpt
    repeats every ``period`` frames (a performance longer than it, or live playback
    that loops) and the blend's frame 0 lies ``first_frame`` frames into that
    repeating timeline (a multiple of the model's time reduction).
    """

    model: OnnxVAE
    settings: Settings
    tracks: tuple[Track, ...]
    frames: int
    shares: np.ndarray
    latent: np.ndarray
    first_frame: int = 0
    period: int = 0

    @classmethod
    def of(cls, model: OnnxVAE, settings: Settings, tracks: list[Track | None]) -> "Blend":
        """The blend of ``tracks`` (those of ``settings.slots``); ``ValueError`` naming what
        is missing, or a morph or curve asked of a model without a temporal latent."""
        _check(model, settings, tracks)
        frames = min(t.frames for t in tracks)
        if settings.curve:
            config = model.mel_config
            seconds_per_frame = config.hop_length / config.sample_rate
            length = curve_frames(settings, seconds_per_frame)
            reduction = model.info.time_reduction
            first = round(settings.curve_start_s / seconds_per_frame) // reduction * reduction
            controls = frame_controls(settings, length)
            looped = first > 0 or length > frames
            return cls._along(model, settings, tracks, controls, first_frame=first, looped=looped)
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

    @classmethod
    def along(
        cls,
        model: OnnxVAE,
        settings: Settings,
        tracks: list[Track | None],
        controls: np.ndarray,
        *,
        first_frame: int,
    ) -> "Blend":
        """A window of the repeating excerpt with the controls per frame (``[frames, k]``:
        the slider's α, or the puck's x and y), from frame ``first_frame`` of the repeating
        timeline on (a multiple of the time reduction): what live playback renders."""
        _check(model, settings, tracks, varying=True)
        return cls._along(model, settings, tracks, controls, first_frame=first_frame, looped=True)

    @classmethod
    def _along(
        cls,
        model: OnnxVAE,
        settings: Settings,
        tracks: list[Track],
        controls: np.ndarray,
        *,
        first_frame: int,
        looped: bool,
    ) -> "Blend":
        """The blend with the controls per frame (``[frames, k]``); latent frame ``l`` takes
        the controls of its first frame."""
        reduction = model.info.time_reduction
        period = min(t.frames for t in tracks) // reduction * reduction if looped else 0
        if first_frame % reduction or (looped and period == 0):
            raise ValueError("a looped blend needs an excerpt and a start on latent frames")
        latent_controls = controls[::reduction]
        first_latent = first_frame // reduction
        index = np.arange(first_latent, first_latent + len(latent_controls))
        if looped:
            index %= period // reduction
        codes = [t.latent[:, index] for t in tracks]
        return cls(
            model=model,
            settings=settings,
            tracks=tuple(tracks),
            frames=len(controls),
            shares=settings.shares_along(controls),
            latent=settings.latent_along(codes, latent_controls),
            first_frame=first_frame,
            period=period,
        )

    def _excerpt_frames(self, window: slice) -> slice | np.ndarray:
        """The excerpt's frames under the blend's frames ``window``."""
        if not self.period:
            return window
        return (self.first_frame + np.arange(window.start, window.stop)) % self.period

    def _read(
        self, samples: np.ndarray, first_sample: int, length: int, rate: int | None = None
    ) -> np.ndarray:
        """``length`` samples (the last axis) of a source from the blend's sample
        ``first_sample`` on, at ``rate`` (default the model's): the excerpt repeating when
        the blend loops, silence before its start."""
        if not self.period:
            return stft.read_padded(samples, first_sample, length)
        scale = (rate or self.config.sample_rate) / self.config.sample_rate
        period = round(self.period * self.config.hop_length * scale)
        at = round(self.first_frame * self.config.hop_length * scale) + np.arange(
            first_sample, first_sample + length
        )
        repeating = samples[..., :period] if samples.shape[-1] >= period else None
        if repeating is None:  # a source shorter than the excerpt: silence after it
            repeating = stft.read_padded(samples, 0, period)
        return np.where(at >= 0, repeating[..., at % period], 0).astype(np.float32)

    @property
    def config(self) -> mel.MelConfig:
        return self.model.mel_config

    @property
    def source_rate(self) -> int:
        """The sources' sample rate (the highest, when they differ): what exports default to."""
        return max(t.info.sample_rate for t in self.tracks)

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
        excerpt = self._excerpt_frames(window)
        if self.settings.keep_detail:
            residuals = [t.mel[:, excerpt] - t.decoded[:, excerpt] for t in self.tracks]
            blended = latent.restore_detail_weighted(blended, residuals, shares)
        if self.settings.steady_level:
            floor_db = self.config.floor_db
            source_levels = [t.loudness_db[excerpt] for t in self.tracks]
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

    def _per_sample(self, first_sample: int, length: int, rate: int | None = None) -> np.ndarray:
        """The shares at samples ``[first_sample, first_sample + length)`` at ``rate``
        (default the model's): ``[n]`` when they are constant, else interpolated from the
        frames ``[n, length]``."""
        if self.shares.ndim == 1:
            return self.shares
        samples_per_frame = self.config.hop_length * (rate or self.config.sample_rate)
        at_frames = np.arange(first_sample, first_sample + length) * (
            self.config.sample_rate / samples_per_frame
        )
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
            pieces = [self._read(t.samples, first_sample, length) for t in self.tracks]
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
                side += weight * self._read(track.side, 0, len(middle))
        return np.stack([middle + side, middle - side], axis=1).astype(np.float32)

    def high_band(self, parts: list[np.ndarray], rate: int) -> np.ndarray:
        """What lies above the model's band, mixed by the shares' square roots (per sample
        when morphing):
        ``parts`` holds each source's ``[channels, samples]`` at ``rate`` (see
        :func:`above_model_band`); returns ``[channels, samples]`` for the blend's length,
        with as many channels as the widest part (a mono part goes to every channel)."""
        length = round(self.frames * self.config.hop_length * rate / self.config.sample_rate)
        channels = max(part.shape[0] for part in parts)
        # Equal-power weights: the sources' high bands are unrelated noise-like content, so
        # √share keeps the blend's level at the share-weighted mean of theirs (linear
        # weights would dip 3 dB at α = 0.5); a source alone still comes back whole.
        weights = np.sqrt(np.maximum(self._per_sample(0, length, rate), 0.0))
        mixed = np.zeros((channels, length), np.float32)
        for part, weight in zip(parts, weights, strict=True):
            mixed += weight * self._read(part, 0, length, rate)
        return mixed


def above_model_band(audio: np.ndarray, rate: int, model_rate: int) -> np.ndarray:
    """What a trip through the model's rate takes away from ``audio`` ``[channels, samples]``
    at ``rate``: the audio minus itself resampled down (as tracks are loaded) and up again
    (as exports are written), so a source alone comes back whole: ``[channels, samples]``."""
    down = soxr.resample(audio.T, rate, model_rate, quality="HQ")
    up = soxr.resample(down, model_rate, rate, quality="VHQ")
    heard = np.zeros_like(audio)
    heard[:, : min(len(up), audio.shape[1])] = up[: audio.shape[1]].T
    return (audio - heard).astype(np.float32)


def _check(
    model: OnnxVAE, settings: Settings, tracks: list[Track | None], *, varying: bool = False
) -> None:
    """``ValueError`` naming what a blend of ``tracks`` lacks (``varying``: its controls
    move over time, whatever the settings say)."""
    if not all(tracks):
        missing = "both tracks" if len(tracks) == 2 else "all four tracks (A, B, C, D)"
        raise ValueError(f"load {missing} first")
    varying = varying or settings.morph or bool(settings.curve)
    if varying and not model.info.temporal:
        raise ValueError("morphing over time needs a model with a temporal latent")
