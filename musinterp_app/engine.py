"""The one use case: two tracks, one α, a blend. No Qt here.

The GUI and the CLI are thin faces on these functions and this class, so
everything the window does can be scripted and tested without a screen.
Heavy steps (:func:`load_track`, :meth:`Engine.render_stream`) take a cancel
token and a progress callback and are meant to run on worker threads; the
light step (:meth:`Engine.blend_mel`, decode only) is fast enough to follow a
slider.

Shapes: log-mel ``[n_mels, frames]`` (normalised), latents
``[channels, latent_frames]``, audio float32 ``[samples]`` at the model rate.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from musinterp_app import limits
from musinterp_app.audio import io, levels, mel
from musinterp_app.audio.cancel import CancelToken
from musinterp_app.model import latent
from musinterp_app.model.onnx_vae import OnnxVAE

DEFAULT_EXCERPT_S = 5.0
MIN_EXCERPT_S = limits.MIN_EXCERPT_S
MIN_TRACK_S = 0.05  # shorter files are refused; anything longer is padded to the excerpt
OVERVIEW_COLUMNS = 2048  # time columns kept for drawing a whole track
EXPORT_PEAK_DBFS = -1.0
DECODE_MARGIN_LATENT = 8  # latent frames decoded around a window: more than the decoder sees

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Track:
    """A loaded file, the excerpt used for blending, and what the model made of it."""

    path: Path
    info: io.AudioInfo
    start_s: float
    duration_s: float
    samples: np.ndarray  # the excerpt's audio at the model rate, float32 [samples]
    mel: np.ndarray  # [n_mels, frames] of the excerpt (silence-padded if the file is shorter)
    latent: np.ndarray  # [channels, latent_frames] (temporal) or [channels] (global)
    decoded: np.ndarray  # [n_mels, frames]: the model's reconstruction of `mel`
    overview: np.ndarray  # [128, ≤ OVERVIEW_COLUMNS]: the whole file, for drawing
    overview_seconds_per_column: float

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def frames(self) -> int:
        return self.mel.shape[1]

    @property
    def residual(self) -> np.ndarray:
        """What the model misses of this excerpt: ``mel − decoded``, ``[n_mels, frames]``."""
        return self.mel - self.decoded


@dataclass(frozen=True)
class BlendSettings:
    """How to blend. ``alpha``: 0 = all A, 1 = all B."""

    alpha: float = 0.5
    mode: latent.Mode = "lerp"
    morph: bool = False  # α ramps from 0 to 1 across the excerpt
    keep_detail: bool = True  # add back each track's residual, weighted by its share

    def __post_init__(self) -> None:
        limits.ALPHA.check(self.alpha, "α")
        if self.mode not in latent.MODES:
            raise limits.OptionError(
                f"interpolation {self.mode!r} is not one of {', '.join(latent.MODES)}"
            )


def overview_config(config: mel.MelConfig) -> mel.MelConfig:
    """Coarser features for drawing whole tracks: 128 bands, 64 frames/s, full bandwidth."""
    return mel.MelConfig(
        sample_rate=config.sample_rate,
        n_fft=2048,
        hop_length=config.sample_rate // 64,
        n_mels=128,
        fmax_hz=config.sample_rate / 2,
        floor_db=config.floor_db,
        norm_offset_db=config.norm_offset_db,
        norm_scale_db=config.norm_scale_db,
    )


def _overview(
    path: Path, info: io.AudioInfo, config: mel.MelConfig, cancel, progress
) -> tuple[np.ndarray, float]:
    """Log-mel of the whole file, ``[128, ≤ OVERVIEW_COLUMNS]``, and seconds per column.

    Decoded window by window, so even an hour-long file costs little memory.
    """
    coarse = overview_config(config)
    frames_per_second = coarse.sample_rate / coarse.hop_length
    total_frames = int(info.duration_s * frames_per_second)
    group = max(1, -(-total_frames // OVERVIEW_COLUMNS))
    window_s = max(30.0, group / frames_per_second)
    window_s = group * round(window_s * frames_per_second / group) / frames_per_second
    columns = []
    start_s = 0.0
    while start_s < info.duration_s - 1.0 / frames_per_second:
        samples = io.load(
            path,
            sample_rate=coarse.sample_rate,
            offset_s=start_s,
            duration_s=window_s,
            cancel=cancel,
        )
        features = mel.log_mel_long(samples, coarse)
        usable = features.shape[1] // group * group
        if usable:
            columns.append(features[:, :usable].reshape(coarse.n_mels, -1, group).mean(axis=2))
        start_s += window_s
        if progress is not None:
            progress(
                min(int(start_s * 1000), int(info.duration_s * 1000)), int(info.duration_s * 1000)
            )
    image = np.concatenate(columns, axis=1) if columns else np.zeros((coarse.n_mels, 0))
    return image.astype(np.float32), group / frames_per_second


def latest_start_s(info: io.AudioInfo) -> float:
    """The latest an excerpt of this file may start (seconds): ``MIN_EXCERPT_S`` before its end."""
    return max(0.0, info.duration_s - MIN_EXCERPT_S)


def _analyse_excerpt(
    path: Path,
    info: io.AudioInfo,
    model: OnnxVAE,
    start_s: float,
    duration_s: float,
    cancel: CancelToken | None,
) -> dict:
    """Decode, analyse and encode one excerpt: the excerpt fields of a :class:`Track`.

    The start and length are checked against :mod:`musinterp_app.limits` and the
    memory the excerpt needs before anything is decoded; a start past
    :func:`latest_start_s` is moved back to it.
    """
    config = model.mel_config
    limits.START_S.check(start_s, "the excerpt start")
    duration_s = (
        limits.EXCERPT_S.check(duration_s, "the excerpt length")
        if model.info.temporal
        else config.segment_seconds
    )
    limits.check_excerpt_memory(duration_s)
    start_s = float(np.clip(start_s, 0.0, latest_start_s(info)))
    samples = io.load(
        path,
        sample_rate=config.sample_rate,
        offset_s=start_s,
        duration_s=duration_s,
        min_duration_s=MIN_TRACK_S,
        cancel=cancel,
    )
    frames = config.seconds_to_frames(duration_s)
    features = mel.log_mel(samples, config)[:, :frames]
    if features.shape[1] < frames:  # shorter than the excerpt: pad with silence
        padding = np.full((config.n_mels, frames - features.shape[1]), config.floor_normalised)
        features = np.concatenate([features, padding.astype(np.float32)], axis=1)
    code = model.encode(features)
    return {
        "start_s": start_s,
        "duration_s": duration_s,
        "samples": samples,
        "mel": features,
        "latent": code,
        "decoded": model.decode(code)[:, :frames],
    }


def load_track(
    path: str | Path,
    model: OnnxVAE,
    *,
    start_s: float = 0.0,
    duration_s: float = DEFAULT_EXCERPT_S,
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
    overview: bool = True,
) -> Track:
    """Read a file, draw its overview (unless ``overview=False``), analyse and encode
    the excerpt. Raises ``AudioLoadError`` (the message is for the user) or ``Cancelled``.
    """
    path = Path(path)
    info = io.probe(path)
    if overview:
        columns, seconds_per_column = _overview(path, info, model.mel_config, cancel, progress)
    else:
        columns, seconds_per_column = np.zeros((model.mel_config.n_mels, 0), np.float32), 0.0
    excerpt = _analyse_excerpt(path, info, model, start_s, duration_s, cancel)
    return Track(
        path=path,
        info=info,
        overview=columns,
        overview_seconds_per_column=seconds_per_column,
        **excerpt,
    )


def with_excerpt(
    track: Track,
    model: OnnxVAE,
    *,
    start_s: float,
    duration_s: float,
    cancel: CancelToken | None = None,
) -> Track:
    """The same track with another excerpt (or model): re-analysed and re-encoded."""
    excerpt = _analyse_excerpt(track.path, track.info, model, start_s, duration_s, cancel)
    return replace(track, **excerpt)


def _frame_alpha(settings: BlendSettings, frames: int) -> float | np.ndarray:
    return latent.ramp(frames) if settings.morph else settings.alpha


class Engine:
    """Tracks A and B with one model; blends and renders them.

    Methods that change state (``set_track``, ``set_model``) are called by
    whoever owns the engine (the UI thread); ``blend_mel`` and
    ``render_stream`` only read it and may run on worker threads.
    """

    def __init__(self, model: OnnxVAE) -> None:
        self.model = model
        self.tracks: dict[str, Track | None] = {"A": None, "B": None}

    @property
    def config(self) -> mel.MelConfig:
        return self.model.mel_config

    @property
    def ready(self) -> bool:
        return all(self.tracks.values())

    def set_track(self, slot: str, track: Track) -> None:
        if slot not in self.tracks:
            raise ValueError(f"slot must be A or B, not {slot!r}")
        self.tracks[slot] = track

    def set_model(self, model: OnnxVAE) -> None:
        """Switch models; loaded tracks are re-encoded (their excerpts are kept)."""
        reencoded = {
            slot: with_excerpt(track, model, start_s=track.start_s, duration_s=track.duration_s)
            for slot, track in self.tracks.items()
            if track is not None
        }
        self.model = model
        self.tracks.update(reencoded)

    @property
    def blend_frames(self) -> int:
        """Frames of the blend: the shorter of the two excerpts."""
        return self._pair()[2]

    def _pair(self) -> tuple[Track, Track, int]:
        a, b = self.tracks["A"], self.tracks["B"]
        if a is None or b is None:
            raise ValueError("load both tracks first")
        return a, b, min(a.frames, b.frames)

    def blend_latent(self, settings: BlendSettings) -> np.ndarray:
        a, b, frames = self._pair()
        if settings.morph and not self.model.info.temporal:
            raise ValueError("morphing over time needs a model with a temporal latent")
        latent_frames = self.model.latent_frames(frames) if self.model.info.temporal else 0
        za, zb = (t.latent[:, :latent_frames] if latent_frames else t.latent for t in (a, b))
        return latent.blend(za, zb, _frame_alpha(settings, latent_frames), settings.mode)

    def blend_mel(
        self, settings: BlendSettings, start: int = 0, stop: int | None = None
    ) -> np.ndarray:
        """The blended log-mel of frames ``[start, stop)``, ``[n_mels, stop − start]``.

        Decode only: fast. With a temporal model a window is decoded from just
        the latent frames it needs (plus a margin wider than the decoder's
        reach), so the first chunk of a long blend costs no more than a short one.
        """
        a, b, frames = self._pair()
        stop = frames if stop is None else min(stop, frames)
        code = self.blend_latent(settings)
        first_frame = 0
        if self.model.info.temporal and (start > 0 or stop < frames):
            reduction = self.model.info.time_reduction
            first_latent = max(0, start // reduction - DECODE_MARGIN_LATENT)
            stop_latent = min(code.shape[1], -(-stop // reduction) + DECODE_MARGIN_LATENT)
            code = code[:, first_latent:stop_latent]
            first_frame = first_latent * reduction
        blended = self.model.decode(code)[:, start - first_frame : stop - first_frame]
        if settings.keep_detail:
            share_b = np.asarray(_frame_alpha(settings, frames), np.float32)
            share_b = share_b[start:stop] if share_b.ndim else share_b
            return latent.restore_detail(
                blended, a.residual[:, start:stop], b.residual[:, start:stop], share_b
            )
        return blended.astype(np.float32)

    def render_stream(
        self,
        settings: BlendSettings,
        *,
        n_iter: int = 32,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> Iterator[np.ndarray]:
        """Audio of the blend, chunk by chunk in time order; each chunk's mel is
        decoded only when the stream reaches it."""
        return mel.audio_stream(
            lambda start, stop: self.blend_mel(settings, start, stop),
            self.blend_frames,
            self.config,
            n_iter=n_iter,
            cancel=cancel,
            progress=progress,
        )

    def render(self, settings: BlendSettings, **kwargs) -> np.ndarray:
        """The whole blend as audio ``[frames · hop]``."""
        return np.concatenate(list(self.render_stream(settings, **kwargs)))


def export_wav(
    path: str | Path, audio: np.ndarray, sample_rate: int, *, float32: bool = False
) -> Path:
    """Peak-normalise to −1 dBFS and write atomically (see ``audio.io.save_wav``)."""
    return io.save_wav(
        path, levels.normalise_peak(audio, EXPORT_PEAK_DBFS), sample_rate, float32=float32
    )
