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
import soxr

from musinterp_app import limits
from musinterp_app.audio import io, levels, mel, stft
from musinterp_app.audio.cancel import CancelToken, Progress
from musinterp_app.model import latent, prior
from musinterp_app.model.onnx_vae import OnnxVAE

DEFAULT_EXCERPT_S = 5.0
MIN_EXCERPT_S = limits.MIN_EXCERPT_S
MIN_TRACK_S = 0.05  # shorter files are refused; anything longer is padded to the excerpt
OVERVIEW_COLUMNS = 2048  # time columns kept for drawing a whole track
EXPORT_PEAK_DBFS = -1.0
EXPORT_LEVELS = ("match", "peak")
DEFAULT_FADE_MS = 5.0  # at both ends of an exported file: no click where it starts or stops
DECODE_MARGIN_LATENT = 24  # latent frames around a window: the v2 decoder reaches ±15, loudness ±3
RENDER_ITERATIONS = 16  # from the sources' phase: the knee of `musinterp bench`'s quality curve
FIRST_CHUNK_ITERATIONS = 2  # the first chunk: sound starts at once
GENERATE_TEMPERATURE = 0.8  # of the prior's spread: a little tamer than the training latents
GENERATE_ITERATIONS = 32  # from random phases (no source to start from)


@dataclass(frozen=True)
class Track:
    """A loaded file, the excerpt used for blending, and what the model made of it."""

    path: Path
    info: io.AudioInfo
    start_s: float
    duration_s: float
    samples: np.ndarray  # the excerpt's audio at the model rate, float32 [samples] (mid)
    side: np.ndarray | None  # (left − right) / 2 of a stereo file [samples]; None if mono
    mel: np.ndarray  # [n_mels, frames] of the excerpt (silence-padded if the file is shorter)
    latent: np.ndarray  # [channels, latent_frames] (temporal) or [channels] (global)
    decoded: np.ndarray  # [n_mels, frames]: the model's reconstruction of `mel`
    loudness_db: np.ndarray  # [frames]: each frame's total mel power (dB)
    overview: np.ndarray  # [128, ≤ OVERVIEW_COLUMNS]: the whole file, for drawing
    overview_seconds_per_column: float
    note: str = ""  # what was changed of the requested excerpt, in words ('' when nothing)

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

    def spectrum(self, start: int, stop: int, config: mel.MelConfig) -> np.ndarray:
        """The excerpt's STFT, frames ``[start, stop)``: complex ``[n_bins, stop − start]``."""
        return stft.stft_frames(
            self.samples, start, stop, n_fft=config.n_fft, hop_length=config.hop_length
        )


@dataclass(frozen=True)
class BlendSettings:
    """How to blend. ``alpha``: 0 = all A, 1 = all B."""

    alpha: float = 0.5
    mode: latent.Mode = "lerp"
    morph: bool = False  # α ramps from 0 to 1 across the excerpt
    keep_detail: bool = True  # add back each track's residual, weighted by its share
    steady_level: bool = True  # each frame's level follows the α-interpolated sources' level

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


def bounded_excerpt(
    info: io.AudioInfo, start_s: float, duration_s: float
) -> tuple[float, float, str]:
    """The excerpt this file allows for a request, in seconds: ``(start, length, note)``.

    The length is at most the file's (never under ``MIN_EXCERPT_S``: shorter files
    are padded with silence) and the start is moved back so the excerpt ends
    within the file; ``note`` says in words what was changed ('' when nothing).
    """
    length_s = min(duration_s, max(info.duration_s, MIN_EXCERPT_S))
    start = min(start_s, max(0.0, info.duration_s - length_s))
    changes = []
    if length_s < duration_s - 1e-3:
        changes.append(f"excerpt shortened to {length_s:.1f} s (the whole file)")
    if start < start_s - 1e-3:
        changes.append(f"excerpt start moved from {start_s:.1f} s to {start:.1f} s")
    note = f"“{info.path.name}” is {info.duration_s:.1f} s long: {', '.join(changes)}"
    return start, length_s, note if changes else ""


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
    note = ""
    if model.info.temporal:  # a global model works on one fixed-length, padded segment
        start_s, duration_s, note = bounded_excerpt(info, start_s, duration_s)
    limits.check_excerpt_memory(duration_s)
    start_s = float(np.clip(start_s, 0.0, latest_start_s(info)))
    stereo = info.channels == 2
    samples = io.load(
        path,
        sample_rate=config.sample_rate,
        offset_s=start_s,
        duration_s=duration_s,
        min_duration_s=MIN_TRACK_S,
        cancel=cancel,
        channels=2 if stereo else 1,
    )
    side = None
    if stereo:  # the model hears the middle; the sides are kept to rebuild the stereo image
        samples, side = samples.mean(axis=1), 0.5 * (samples[:, 0] - samples[:, 1])
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
        "side": side,
        "mel": features,
        "latent": code,
        "decoded": model.decode(code)[:, :frames],
        "loudness_db": levels.frame_loudness_db(features, config),
        "note": note,
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


def _frame_alpha(settings: BlendSettings, frames: int) -> np.ndarray:
    """B's share per frame: ``[frames]`` when morphing, else one number (a 0-d array)."""
    return latent.ramp(frames) if settings.morph else np.float32(settings.alpha)


class Engine:
    """Tracks A and B with one model; blends and renders them.

    ``set_track`` changes state and is called by whoever owns the engine (the UI
    thread); ``with_model`` builds a new engine and ``blend_mel`` and
    ``render_stream`` only read this one, so they may run on worker threads.
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

    def with_model(self, model: OnnxVAE, *, cancel: CancelToken | None = None) -> "Engine":
        """A new engine on ``model`` holding the same tracks, re-encoded (excerpts kept).

        The one way to switch models. This engine is left as it is, so the new one
        can be built on a worker thread while renders of this one go on; the owner
        swaps them when it is done.
        """
        switched = Engine(model)
        mel.prepare(model.mel_config)  # on this worker, not at the first render
        for slot, track in list(self.tracks.items()):
            if track is not None:
                excerpt = {"start_s": track.start_s, "duration_s": track.duration_s}
                switched.set_track(slot, with_excerpt(track, model, cancel=cancel, **excerpt))
        return switched

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
        reach and the loudness smoothing), so the first chunk of a long blend
        costs no more than a short one. With ``keep_detail`` each track's
        residual is added back by its share; with ``steady_level`` each frame's
        level follows the α-interpolated level of the two sources.
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
        blended = self.model.decode(code)
        window = slice(first_frame, min(frames, first_frame + blended.shape[1]))
        blended = blended[:, : window.stop - window.start]
        share_b = _frame_alpha(settings, frames)
        share_b = share_b[window] if share_b.ndim else share_b
        if settings.keep_detail:
            blended = latent.restore_detail(
                blended, a.residual[:, window], b.residual[:, window], share_b
            )
        if settings.steady_level:
            level_a, level_b = a.loudness_db[window], b.loudness_db[window]
            either_silent = np.minimum(level_a, level_b) <= self.config.floor_db + 1.0
            target = np.where(
                either_silent, self.config.floor_db, (1 - share_b) * level_a + share_b * level_b
            )
            blended = levels.follow_loudness(blended, target, self.config)
        return blended[:, start - first_frame : stop - first_frame].astype(np.float32)

    def exact_source(self, settings: BlendSettings) -> Track | None:
        """The track the blend *is* (α = 0 or 1 with keep detail, no morph), or None."""
        if settings.keep_detail and not settings.morph and settings.alpha in (0.0, 1.0):
            return self.tracks["A" if settings.alpha == 0.0 else "B"]
        return None

    def source_phase(self, settings: BlendSettings) -> Callable[[int, int], np.ndarray]:
        """Frames → the α-weighted sum of the two sources' STFTs, the render's starting phase."""
        a, b, frames = self._pair()
        share_b = _frame_alpha(settings, frames)

        def phase_frames(start: int, stop: int) -> np.ndarray:
            weight = share_b[start:stop] if share_b.ndim else share_b
            return (1 - weight) * a.spectrum(start, stop, self.config) + weight * b.spectrum(
                start, stop, self.config
            )

        return phase_frames

    def render_stream(
        self,
        settings: BlendSettings,
        *,
        n_iter: int = RENDER_ITERATIONS,
        first_chunk_iterations: int = FIRST_CHUNK_ITERATIONS,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> Iterator[np.ndarray]:
        """Audio of the blend, chunk by chunk in time order; each chunk's mel is
        decoded only when the stream reaches it.

        Phase retrieval starts from the phase of the α-weighted sum of the
        sources' STFTs (the sources are real audio: most of the answer is
        already known), and the first chunk runs fewer iterations so sound
        starts at once. A blend that is one of the sources plays its samples.
        A peak limiter keeps blends from clipping, so what plays is what exports.
        """
        frames = self.blend_frames
        source = self.exact_source(settings)
        if source is not None:
            return _sample_stream(source.samples, frames * self.config.hop_length, progress)
        chunks = mel.audio_stream(
            lambda start, stop: self.blend_mel(settings, start, stop),
            frames,
            self.config,
            n_iter=n_iter,
            first_chunk_iterations=min(first_chunk_iterations, n_iter),
            phase_frames=self.source_phase(settings),
            cancel=cancel,
            progress=progress,
        )
        limiter = levels.PeakLimiter(self.config.sample_rate)
        return (limiter.process(chunk) for chunk in chunks)

    def render(self, settings: BlendSettings, **kwargs) -> np.ndarray:
        """The whole blend as audio ``[frames · hop]``."""
        return np.concatenate(list(self.render_stream(settings, **kwargs)))

    def generate(
        self,
        seconds: float,
        *,
        temperature: float = GENERATE_TEMPERATURE,
        seed: int = 0,
        kind: prior.Kind = prior.DEFAULT_KIND,
        n_iter: int = GENERATE_ITERATIONS,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Unconditioned music from the model's latent prior: audio ``[frames · hop]``.

        Latents are drawn from ``prior.npz`` in the model folder (the nominal
        N(0, I) when the model has none: see :mod:`musinterp_app.model.prior`),
        decoded, and turned into sound from random phases. The same seed
        gives the same audio. Raises ``OptionError`` for a value out of range.
        """
        limits.EXCERPT_S.check(seconds, "the length")
        limits.TEMPERATURE.check(temperature, "the temperature")
        limits.SEED.check(seed, "the seed")
        limits.check_excerpt_memory(seconds)
        config, info = self.config, self.model.info
        frames = config.seconds_to_frames(seconds)
        rng = np.random.default_rng(seed)
        source = self.latent_prior()
        if info.temporal:
            code = source.sample(
                self.model.latent_frames(frames), kind=kind, temperature=temperature, rng=rng
            )
            log_mel = self.model.decode(code)[:, :frames]
        else:  # one global latent per segment, end to end
            pieces = -(-frames // info.segment_frames)
            log_mel = np.concatenate(
                [
                    self.model.decode(source.sample(0, kind=kind, temperature=temperature, rng=rng))
                    for _ in range(pieces)
                ],
                axis=1,
            )[:, :frames]
        chunks = mel.audio_stream(
            lambda start, stop: log_mel[:, start:stop],
            frames,
            config,
            n_iter=n_iter,
            rng=rng,
            cancel=cancel,
            progress=progress,
        )
        limiter = levels.PeakLimiter(config.sample_rate)
        return np.concatenate([limiter.process(chunk) for chunk in chunks])

    def latent_prior(self) -> prior.LatentPrior:
        """The prior fitted for this model (``prior.npz``), else the nominal N(0, I).
        Raises ``PriorError`` when the file is damaged or belongs to another model."""
        info = self.model.info
        fitted = prior.load(info.folder, model_id=info.model_id, channels=info.latent_channels)
        return fitted or prior.LatentPrior.nominal(info.latent_channels, info.model_id)

    @property
    def stereo(self) -> bool:
        """Whether either source is stereo (then exports can be too)."""
        return any(t is not None and t.side is not None for t in self.tracks.values())

    def with_stereo_image(self, settings: BlendSettings, middle: np.ndarray) -> np.ndarray:
        """Left and right ``[samples, 2]`` of a rendered blend ``[samples]`` (its middle).

        The model blends the middle (what it hears); the sides of the two
        sources, (left − right) / 2, are mixed by the same α (per frame when
        morphing), so the blend keeps the sources' stereo image, and α = 0 or 1
        gives back a stereo source exactly. A mono source has no sides.
        """
        a, b, frames = self._pair()
        hop = self.config.hop_length
        share_b = _frame_alpha(settings, frames)
        if share_b.ndim:  # per frame → per sample
            share_b = np.interp(np.arange(len(middle)) / hop, np.arange(frames), share_b)
        side = np.zeros(len(middle), np.float32)
        for track, weight in ((a, 1 - share_b), (b, share_b)):
            if track.side is not None:
                length = min(len(middle), len(track.side))
                part = weight[:length] if np.ndim(weight) else weight
                side[:length] += part * track.side[:length]
        return np.stack([middle + side, middle - side], axis=1).astype(np.float32)


def _sample_stream(
    samples: np.ndarray, length: int, progress: Progress | None, chunk: int = 32768
) -> Iterator[np.ndarray]:
    """``samples`` cut or silence-padded to ``length``, in chunks (as a render would yield)."""
    exact = np.zeros(length, np.float32)
    exact[: min(length, len(samples))] = samples[:length]
    for first in range(0, length, chunk):
        if progress is not None:
            progress(min(length, first + chunk), length)
        yield exact[first : first + chunk]


def export_audio(
    path: str | Path,
    audio: np.ndarray,
    sample_rate: int,
    *,
    level: str = "match",
    output_rate: int | None = None,
    sample_format: str = "16",
    fade_ms: float = DEFAULT_FADE_MS,
) -> Path:
    """Write a render to a file a DAW can use, atomically (see ``audio.io.save_audio``).

    ``level``: ``"match"`` keeps the level that was heard (only scaled down if
    it would clip), ``"peak"`` normalises the loudest sample to −1 dBFS.
    ``output_rate``: resample (soxr, very high quality) to this rate; default
    the model's. ``fade_ms``: raised-cosine fades at both ends (0: none).
    """
    if level not in EXPORT_LEVELS:
        raise ValueError(f"level must be one of {', '.join(EXPORT_LEVELS)}, not {level!r}")
    if fade_ms < 0:
        raise ValueError(f"the fade must be 0 ms or longer, not {fade_ms:g} ms")
    rate = output_rate or sample_rate
    if rate != sample_rate:
        audio = soxr.resample(audio, sample_rate, rate, quality="VHQ").astype(np.float32)
    audio = levels.fade_ends(audio, round(fade_ms * rate / 1000))
    audio = (
        levels.normalise_peak(audio, EXPORT_PEAK_DBFS)
        if level == "peak"
        else levels.limit_peak(audio)
    )
    return io.save_audio(path, audio, rate, sample_format=sample_format)
