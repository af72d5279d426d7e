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

import contextlib
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import soxr

from musinterp_app import __version__, files, limits, sidecar
from musinterp_app.audio import analysis, io, levels, mel, stft, stretch
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
# On every RENDER_STRIDE-th frame, from the sources' phase where it explains the blend and the
# phase gradient elsewhere (render.curve.*.app in musinterp bench).
RENDER_ITERATIONS = 32
# The first chunk (0.25 s) is small, so sound starts at once even with all the iterations:
# its samples stay as they are, and with 16 iterations the 5-s α = 0.5 blend's SC was
# -13.87 dB against -14.06 with 32 (first chunk 13.6 against 19.3 ms).
FIRST_CHUNK_ITERATIONS = 32
SLOTS = ("A", "B", "C", "D")  # A and B: the two-track blend; all four: the pad
EVEN_STEP_POINTS = 9  # α values measured to even out the slider's steps
EVEN_STEP_CHECKS = 21  # slider positions at which the evenness is measured
EVEN_STEP_FRAMES = 1280  # frames (10 s) of the blend measured for even steps
# Raised whenever the samples a render makes change (chunking, iterations, starting
# phase): a sidecar made by another renderer is made again close to, not exactly as, it was.
RENDERER_VERSION = 3  # 3: the phase gradient starts the bins the sources do not explain
RENDER_SEED = 0  # Griffin-Lim's random start (griffinlim_stream's default rng) for no-source frames
MODEL_FILES = ("encoder.onnx", "decoder.onnx")
# Phase retrieval on every 4th frame (hop 1024 of n_fft 4096): the blend's SC at hop 256
# after 24 iterations is -13.8 dB against -13.9 on every frame, at a quarter of the cost.
RENDER_STRIDE = 4
DECODE_BLOCK_FRAMES = 2048  # mel frames decoded at once when rendering (16 s, ~60 MB of mel)
GENERATE_TEMPERATURE = 0.8  # of the prior's spread: a little tamer than the training latents
GENERATE_ITERATIONS = 32  # from the phase gradient (no source to start from)


Content = tuple[Path, str, float, float]  # a file, its sha256, an excerpt's start and length (s)
ESTIMATES_KEPT = 16  # excerpts whose tempo and key are kept (see _EstimateCache)


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
    source_sha256: str  # of the file's bytes when the excerpt was read (an export names it)
    source_stat: tuple[int, int]  # its size and modification time (ns) then
    note: str = ""  # what was changed of the requested excerpt, in words ('' when nothing)
    alignment: stretch.Alignment | None = None  # how it was fitted to A's tempo/key (sync)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def content(self) -> Content:
        """What the track's tempo and key depend on: its file's bytes and its excerpt (not
        the model that encoded it, nor a fit to A, which stretches that same excerpt)."""
        return self.path, self.source_sha256, self.start_s, self.duration_s

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
    mode: latent.Mode = latent.DEFAULT_MODE
    morph: bool = False  # α ramps from 0 to 1 across the excerpt
    keep_detail: bool = True  # add back each track's residual, weighted by its share
    steady_level: bool = True  # each frame's level follows the α-interpolated sources' level
    steps: tuple[float, ...] = ()  # α at evenly spaced slider positions (Engine.even_steps)

    slots: ClassVar[tuple[str, ...]] = ("A", "B")

    def __post_init__(self) -> None:
        limits.ALPHA.check(self.alpha, "α")
        _check_mode(self.mode)
        if self.steps and (self.steps[0] != 0 or self.steps[-1] != 1 or len(self.steps) < 2):
            raise limits.OptionError("even steps must run from α = 0 to α = 1")

    def shares(self, frames: int) -> np.ndarray:
        """A's and B's shares: ``[2]``, or ``[2, frames]`` when morphing."""
        share_b = _frame_alpha(self, frames)
        return np.stack([1 - share_b, share_b]).astype(np.float32)

    def blend_latents(self, latents: list[np.ndarray], latent_frames: int) -> np.ndarray:
        return latent.blend(*latents, _frame_alpha(self, latent_frames), self.mode)


def _check_mode(mode: str) -> None:
    if mode not in latent.MODES:
        raise limits.OptionError(f"interpolation {mode!r} is not one of {', '.join(latent.MODES)}")


@dataclass(frozen=True)
class PadSettings:
    """Where the puck is on the four-corner pad, or the path it follows over the excerpt.

    A is at (0, 0), B at (1, 0), C at (0, 1), D at (1, 1) (see ``latent.bilinear``).
    ``path``: (x, y) points spread evenly over the excerpt (at least two); empty
    for a puck that stays at ``(x, y)``.
    """

    x: float = 0.5
    y: float = 0.5
    path: tuple[tuple[float, float], ...] = ()
    mode: latent.Mode = latent.DEFAULT_MODE
    keep_detail: bool = True
    steady_level: bool = True

    slots: ClassVar[tuple[str, ...]] = ("A", "B", "C", "D")

    def __post_init__(self) -> None:
        for value in (self.x, self.y, *(v for point in self.path for v in point)):
            limits.PAD.check(value, "a pad position")
        if len(self.path) == 1 or any(len(point) != 2 for point in self.path):
            raise limits.OptionError("a pad path needs two or more (x, y) points")
        _check_mode(self.mode)

    @property
    def morph(self) -> bool:
        return bool(self.path)

    def position(self, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """x and y: numbers (0-d), or ``[frames]`` each along the path."""
        if not self.path:
            return np.float32(self.x), np.float32(self.y)
        points = np.asarray(self.path, np.float64)
        at = np.linspace(0, 1, frames)
        knots = np.linspace(0, 1, len(points))
        x, y = (np.interp(at, knots, points[:, k]).astype(np.float32) for k in (0, 1))
        return x, y

    def shares(self, frames: int) -> np.ndarray:
        """Each corner's share, A B C D: ``[4]``, or ``[4, frames]`` along a path."""
        return latent.pad_shares(*self.position(frames))

    def blend_latents(self, latents: list[np.ndarray], latent_frames: int) -> np.ndarray:
        return latent.bilinear(tuple(latents), *self.position(latent_frames), self.mode)


Settings = BlendSettings | PadSettings


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
    fields = _excerpt_fields(model, samples, side, duration_s)
    return {"start_s": start_s, "duration_s": duration_s, "note": note, **fields}


def _excerpt_fields(
    model: OnnxVAE, samples: np.ndarray, side: np.ndarray | None, duration_s: float
) -> dict:
    """Analyse and encode an excerpt's audio (mid ``[samples]``, side or None): the
    :class:`Track` fields that follow from it."""
    config = model.mel_config
    frames = config.seconds_to_frames(duration_s)
    features = mel.log_mel(samples, config)[:, :frames]
    if features.shape[1] < frames:  # shorter than the excerpt: pad with silence
        padding = np.full((config.n_mels, frames - features.shape[1]), config.floor_normalised)
        features = np.concatenate([features, padding.astype(np.float32)], axis=1)
    code = model.encode(features)
    return {
        "samples": samples,
        "side": side,
        "mel": features,
        "latent": code,
        "decoded": model.decode(code)[:, :frames],
        "loudness_db": levels.frame_loudness_db(features, config),
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
        **_fingerprint(path),
    )


def _fingerprint(path: Path, known: Track | None = None) -> dict:
    """The :class:`Track` fields ``source_sha256`` and ``source_stat`` of the file at
    ``path``; hashed again only when its size or modification time differ from ``known``'s."""
    try:
        info = files.check_regular(path)
        stat = (info.st_size, info.st_mtime_ns)
        if known is not None and known.source_stat == stat:
            return {}
        return {"source_sha256": sidecar.sha256(path), "source_stat": stat}
    except OSError as error:
        raise io.AudioLoadError(path, f"it cannot be read ({files.reason(error)}).") from None


def with_excerpt(
    track: Track,
    model: OnnxVAE,
    *,
    start_s: float,
    duration_s: float,
    cancel: CancelToken | None = None,
) -> Track:
    """The same track with another excerpt (or model): re-analysed and re-encoded.

    A synced track is fitted again as it was when its excerpt stays (a model
    switch); a moved excerpt comes back unfitted: its beats and key are
    another excerpt's, to be estimated and fitted again (``Engine.synced``).
    """
    excerpt = _analyse_excerpt(track.path, track.info, model, start_s, duration_s, cancel)
    fresh = replace(track, **excerpt, **_fingerprint(track.path, track), alignment=None)
    same = (fresh.start_s, fresh.duration_s) == (track.start_s, track.duration_s)
    if track.alignment is None or not same:
        return fresh
    return align_track(fresh, model, track.alignment, cancel=cancel)


def align_track(
    track: Track,
    model: OnnxVAE,
    alignment: stretch.Alignment,
    *,
    cancel: CancelToken | None = None,
) -> Track:
    """``track`` fitted as ``alignment`` says: its excerpt read again from the file (as
    much as the speed change needs), stretched and pitch-shifted by Rubber Band (mid
    and side together), cut so its first downbeat meets the reference's, and
    re-analysed. Its start and length stay those of the excerpt."""
    rate = model.mel_config.sample_rate
    needed_s = (track.duration_s + alignment.skip_s) * alignment.speed + 0.1
    limits.check_excerpt_memory(needed_s)
    stereo = track.side is not None
    raw = io.load(
        track.path,
        sample_rate=rate,
        offset_s=track.start_s,
        duration_s=needed_s,
        min_duration_s=MIN_TRACK_S,
        cancel=cancel,
        channels=2 if stereo else 1,
    )
    channels = [raw.mean(axis=1), 0.5 * (raw[:, 0] - raw[:, 1])] if stereo else [raw]
    fitted = stretch.stretch(
        np.stack(channels), rate, speed=alignment.speed, semitones=alignment.semitones
    )
    first, length = round(alignment.skip_s * rate), round(track.duration_s * rate)
    piece = np.zeros((len(channels), length), np.float32)
    kept = fitted[:, first : first + length]
    piece[:, : kept.shape[1]] = kept
    fields = _excerpt_fields(model, piece[0], piece[1] if stereo else None, track.duration_s)
    note = ""
    if kept.shape[1] < length - rate // 10:  # the file ran out: the rest is silence
        note = (
            f"“{track.name}” runs out {kept.shape[1] / rate:.1f} s into its fitted "
            f"{track.duration_s:.1f}-s excerpt (it plays ×{alignment.speed:.2f} as fast); "
            "the rest is silence: choose an earlier start or a shorter excerpt"
        )
    fingerprint = _fingerprint(track.path, track)
    return replace(track, **fields, **fingerprint, alignment=alignment, note=note)


class _EstimateCache:
    """Tempo and key by excerpt (a track's content and the rate), kept across the engines
    that fits and model switches build: each ``synced`` asks for every track's again.
    The least recently used go first; a request for an excerpt being estimated on
    another thread waits for that estimate instead of making a second one."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._known: OrderedDict[tuple, tuple[analysis.Tempo, analysis.Key]] = OrderedDict()
        self._running: dict[tuple, Future] = {}
        self._lock = threading.Lock()

    def get(
        self, key: tuple, estimate: Callable[[], tuple[analysis.Tempo, analysis.Key]]
    ) -> tuple[analysis.Tempo, analysis.Key]:
        """The estimate for ``key``, made by ``estimate()`` unless known or being made."""
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
                return self._known[key]
            running = self._running.get(key)
            if running is None:
                future = self._running[key] = Future()
        if running is not None:
            return running.result()  # its error too (an excerpt too short)
        try:
            known = estimate()
        except BaseException as error:
            with self._lock:
                del self._running[key]
            future.set_exception(error)
            raise
        with self._lock:
            del self._running[key]
            self._known[key] = known
            while len(self._known) > self.kept:
                self._known.popitem(last=False)
        future.set_result(known)
        return known


_ESTIMATES = _EstimateCache(ESTIMATES_KEPT)


def _frame_alpha(settings: BlendSettings, frames: int) -> np.ndarray:
    """B's share per frame: ``[frames]`` when morphing, else one number (a 0-d array);
    mapped through ``settings.steps`` when they are set (even steps)."""
    alpha = latent.ramp(frames) if settings.morph else np.float32(settings.alpha)
    if settings.steps:
        knots = np.linspace(0, 1, len(settings.steps))
        alpha = np.interp(alpha, knots, settings.steps).astype(np.float32)
    return alpha


class Engine:
    """Tracks A and B with one model; blends and renders them.

    ``set_track`` changes state and is called by whoever owns the engine (the UI
    thread); ``with_model`` builds a new engine and ``blend_mel`` and
    ``render_stream`` only read this one, so they may run on worker threads.
    """

    def __init__(self, model: OnnxVAE) -> None:
        self.model = model
        self.tracks: dict[str, Track | None] = dict.fromkeys(SLOTS)  # C, D: the pad's
        # The last even-steps map: (track A, track B, options it was measured for, α steps).
        self._even_steps: tuple = (None, None, (), ())
        self._even_steps_lock = threading.Lock()  # the decode and render workers both ask
        self._last_blend = _LastBlend()  # the display decodes a blend, its render reuses it

    @property
    def config(self) -> mel.MelConfig:
        return self.model.mel_config

    @property
    def ready(self) -> bool:
        return all(self.tracks[slot] for slot in BlendSettings.slots)

    def set_track(self, slot: str, track: Track) -> None:
        if slot not in self.tracks:
            raise ValueError(f"slot must be one of {', '.join(SLOTS)}, not {slot!r}")
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

    def frames_of(self, settings: Settings) -> int:
        """Frames of a blend (or pad blend): the shortest of its sources' excerpts."""
        return self._sources(settings)[1]

    def _sources(self, settings: Settings) -> tuple[list[Track], int]:
        """The tracks a blend is made of (``settings.slots``) and its frames (the shortest)."""
        tracks = [self.tracks[slot] for slot in settings.slots]
        if not all(tracks):
            missing = "both tracks" if len(tracks) == 2 else "all four tracks (A, B, C, D)"
            raise ValueError(f"load {missing} first")
        return tracks, min(t.frames for t in tracks)

    def blend_latent(self, settings: Settings) -> np.ndarray:
        return self._blend_latent(settings, *self._sources(settings))

    def _blend_latent(self, settings: Settings, tracks: list[Track], frames: int) -> np.ndarray:
        if settings.morph and not self.model.info.temporal:
            raise ValueError("morphing over time needs a model with a temporal latent")
        latent_frames = self.model.latent_frames(frames) if self.model.info.temporal else 0
        codes = [t.latent[:, :latent_frames] if latent_frames else t.latent for t in tracks]
        return settings.blend_latents(codes, latent_frames)

    def blend_mel(self, settings: Settings, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The blended log-mel of frames ``[start, stop)``, ``[n_mels, stop − start]``.

        Decode only: fast. With a temporal model a window is decoded from just
        the latent frames it needs (plus a margin wider than the decoder's
        reach and the loudness smoothing), so the first chunk of a long blend
        costs no more than a short one. With ``keep_detail`` each track's
        residual is added back by its share; with ``steady_level`` each frame's
        level follows the α-interpolated level of the two sources (of all four
        on the pad, by their shares). The whole blend (no ``start``, ``stop``) comes
        back read-only and is kept: the render that follows reuses it.
        """
        tracks, frames = self._sources(settings)
        if start == 0 and stop is None:
            whole = functools.partial(self._decode, settings, tracks, 0, frames)
            return self._last_blend.get(tracks, settings, whole)
        return self._decode(settings, tracks, start, frames if stop is None else min(stop, frames))

    def _decode(self, settings: Settings, tracks: list[Track], start: int, stop: int) -> np.ndarray:
        """:meth:`blend_mel` of ``tracks`` (``settings.slots``), frames ``[start, stop)``."""
        frames = min(t.frames for t in tracks)
        code = self._blend_latent(settings, tracks, frames)
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
        shares = settings.shares(frames)
        shares = shares[:, window] if shares.ndim == 2 else shares
        if settings.keep_detail:
            residuals = [t.residual[:, window] for t in tracks]
            blended = latent.restore_detail_weighted(blended, residuals, shares)
        if settings.steady_level:
            source_levels = [t.loudness_db[window] for t in tracks]
            any_silent = np.min(source_levels, axis=0) <= self.config.floor_db + 1.0
            target = np.where(
                any_silent, self.config.floor_db, latent.weighted_sum(source_levels, shares)
            )
            blended = levels.follow_loudness(blended, target, self.config)
        return blended[:, start - first_frame : stop - first_frame].astype(np.float32)

    def exact_source(self, settings: Settings) -> Track | None:
        """The track the blend *is* (α = 0 or 1, or a pad corner, with keep detail, no
        morph), or None."""
        if settings.keep_detail and not settings.morph:
            shares = settings.shares(0)
            if np.count_nonzero(shares) == 1:
                return self.tracks[settings.slots[int(np.argmax(shares))]]
        return None

    def source_phase(
        self, settings: Settings, *, stride: int = 1
    ) -> Callable[[int, int], np.ndarray]:
        """Frames at hop ``stride · hop_length`` → complex ``[n_bins, frames]``: the STFT of
        the α-weighted mix of the two sources, whose phase starts the render.

        The STFT is linear, so this is the α-weighted sum of the sources' STFTs
        (for a morph, with α interpolated per sample rather than held per frame),
        at the cost of one transform instead of two.
        """
        tracks, frames = self._sources(settings)
        shares = settings.shares(frames)
        n_fft, hop = self.config.n_fft, self.config.hop_length * stride

        def phase_frames(start: int, stop: int) -> np.ndarray:
            first_sample = start * hop - n_fft // 2
            length = (stop - start - 1) * hop + n_fft
            weights = shares
            if shares.ndim == 2:  # per frame → per sample
                at_frames = np.arange(first_sample, first_sample + length) / self.config.hop_length
                weights = [np.interp(at_frames, np.arange(frames), share) for share in shares]
            pieces = [stft.read_padded(t.samples, first_sample, length) for t in tracks]
            mixed = latent.weighted_sum(pieces, np.asarray(weights, np.float32))
            return stft.piece_spectra(mixed, stop - start, n_fft=n_fft, hop_length=hop)

        return phase_frames

    def render_stream(
        self,
        settings: Settings,
        *,
        n_iter: int = RENDER_ITERATIONS,
        first_chunk_iterations: int = FIRST_CHUNK_ITERATIONS,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> Iterator[np.ndarray]:
        """Audio of the blend, chunk by chunk in time order, from its log-mel as
        :meth:`_log_mel_frames` gives it (the window's decode when it drew this blend).

        Phase retrieval starts from the phase of the α-weighted sum of the
        sources' STFTs where that sum's magnitude matches the blend's (the sources
        are real audio: most of the answer is already known) and from the phase
        integrated from the blend's magnitude elsewhere, and runs on every
        ``RENDER_STRIDE``-th frame; the first chunk is short (0.25 s), so sound
        starts at once. A blend that is one
        of the sources plays its samples. A peak limiter keeps blends from
        clipping, so what plays is what exports.
        """
        frames = self._sources(settings)[1]
        source = self.exact_source(settings)
        if source is not None:
            return _sample_stream(source.samples, frames * self.config.hop_length, progress)
        chunks = mel.audio_stream(
            self._log_mel_frames(settings),
            frames,
            self.config,
            stride=RENDER_STRIDE,
            n_iter=n_iter,
            first_chunk_iterations=min(first_chunk_iterations, n_iter),
            phase_frames=self.source_phase(settings, stride=RENDER_STRIDE),
            phase_gradient=True,  # in the bins the sources do not explain
            cancel=cancel,
            progress=progress,
        )
        limiter = levels.PeakLimiter(self.config.sample_rate)
        return (limiter.process(chunk) for chunk in chunks)

    def _log_mel_frames(self, settings: Settings) -> Callable[[int, int], np.ndarray]:
        """``log_mel_frames(start, stop)`` of the blend, for the renderer: from the whole
        blend when it is already decoded (the window shows it) or short enough to decode
        at once, else decoded block by block (:class:`_DecodedBlocks`)."""
        tracks, frames = self._sources(settings)
        whole = self._last_blend.peek(tracks, settings)
        if whole is None and frames <= DECODE_BLOCK_FRAMES:
            whole = self.blend_mel(settings)
        if whole is not None:
            return lambda start, stop: whole[:, start:stop]
        return _DecodedBlocks(lambda start, stop: self.blend_mel(settings, start, stop), frames)

    def render(self, settings: Settings, **kwargs) -> np.ndarray:
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
        decoded, and turned into sound starting from the phase integrated from
        their magnitude (no source to take it from). The same seed gives the same
        audio. Raises ``OptionError`` for a value out of range.
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
            phase_gradient=True,
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

    def with_stereo_image(self, settings: Settings, middle: np.ndarray) -> np.ndarray:
        """Left and right ``[samples, 2]`` of a rendered blend ``[samples]`` (its middle).

        The model blends the middle (what it hears); the sides of the two
        sources, (left − right) / 2, are mixed by the same α (per frame when
        morphing), so the blend keeps the sources' stereo image, and α = 0 or 1
        gives back a stereo source exactly. A mono source has no sides.
        """
        tracks, frames = self._sources(settings)
        hop = self.config.hop_length
        shares = settings.shares(frames)
        if shares.ndim == 2:  # per frame → per sample
            at_frames = np.arange(len(middle)) / hop
            shares = [np.interp(at_frames, np.arange(frames), share) for share in shares]
        side = np.zeros(len(middle), np.float32)
        for track, weight in zip(tracks, shares, strict=True):
            if track.side is not None:
                length = min(len(middle), len(track.side))
                part = weight[:length] if np.ndim(weight) else weight
                side[:length] += part * track.side[:length]
        return np.stack([middle + side, middle - side], axis=1).astype(np.float32)

    # ----- tempo and key --------------------------------------------------------------------
    def estimates(self, slot: str) -> tuple[analysis.Tempo, analysis.Key]:
        """A track's tempo and key before any fitting (as estimated, or as overridden);
        each excerpt is estimated once."""
        track = self.tracks[slot]
        if track is None:
            raise ValueError(f"load track {slot} first")
        return self.estimates_of(track)

    def estimates_of(self, track: Track) -> tuple[analysis.Tempo, analysis.Key]:
        """:meth:`estimates` of a given track (whichever slot holds it now)."""
        if track.alignment is not None:
            return track.alignment.tempo, track.alignment.key
        rate = self.config.sample_rate
        return _ESTIMATES.get(
            (track.content, rate),
            lambda: (
                analysis.estimate_tempo(track.samples, rate),
                analysis.estimate_key(track.samples, rate),
            ),
        )

    def synced(
        self,
        sync: tuple[str, ...],
        *,
        tempo_bpm: dict[str, float] | None = None,
        keys: dict[str, analysis.Key] | None = None,
        cancel: CancelToken | None = None,
    ) -> "Engine":
        """A new engine whose tracks B, C, D are fitted to A (``sync``: ``("tempo",)``,
        ``("key",)``, both, or ``()`` to undo): B is stretched to A's tempo (A stays
        exactly as loaded, so α = 0 is still A itself, and the slider stays a
        decode-only move) with its first downbeat on A's, and shifted by the
        smallest interval onto A's key. ``tempo_bpm`` and ``keys`` replace a slot's
        estimate (a double or half tempo, the relative key). Built like
        :meth:`with_model`: this engine is left as it is."""
        tempo_bpm, keys = tempo_bpm or {}, keys or {}
        for bpm in tempo_bpm.values():
            limits.TEMPO_BPM.check(bpm, "the tempo")

        def used(slot: str) -> tuple[analysis.Tempo, analysis.Key]:
            tempo, key = self.estimates(slot)
            if slot in tempo_bpm:
                tempo = tempo.scaled(tempo_bpm[slot] / tempo.bpm)
            return tempo, keys.get(slot, key)

        switched = Engine(self.model)
        reference = used("A") if sync else None
        for slot, track in self.tracks.items():
            if track is not None and slot != "A" and reference is not None:
                fit = stretch.plan(sync, *used(slot), *reference)
                track = align_track(track, self.model, fit, cancel=cancel)
            elif track is not None and track.alignment is not None:
                track = with_excerpt(
                    replace(track, alignment=None),
                    self.model,
                    start_s=track.start_s,
                    duration_s=track.duration_s,
                    cancel=cancel,
                )
            if track is not None:
                switched.set_track(slot, track)
        return switched

    # ----- even steps -----------------------------------------------------------------------
    def step_sizes(self, settings: BlendSettings, count: int = EVEN_STEP_CHECKS) -> np.ndarray:
        """How much the sound changes between ``count`` evenly spaced slider positions
        (0 … 1, through ``settings.steps``): the mean absolute log-mel difference of
        neighbouring blends, ``[count − 1]``, over the first ``EVEN_STEP_FRAMES``."""
        frames = min(self.blend_frames, EVEN_STEP_FRAMES)
        mels = [
            self.blend_mel(replace(settings, alpha=float(u), morph=False), 0, frames)
            for u in np.linspace(0, 1, count)
        ]
        return np.mean(np.abs(np.diff(np.stack(mels), axis=0)), axis=(1, 2))

    def even_steps(self, settings: BlendSettings, points: int = EVEN_STEP_POINTS) -> BlendSettings:
        """``settings`` with ``steps``: α at ``points`` evenly spaced slider positions,
        chosen so that equal slider steps change the sound equally (the cumulative
        log-mel change along the blend, measured at ``points`` α values, inverted).
        The last map is kept: asking again for the same tracks and options is free."""
        plain = replace(settings, steps=())
        a, b = self.tracks["A"], self.tracks["B"]
        options = (plain.mode, plain.keep_detail, plain.steady_level, points)
        with self._even_steps_lock:  # a second worker waits for the first's map
            known_a, known_b, known_options, steps = self._even_steps
            if known_a is not a or known_b is not b or known_options != options:
                cumulative = np.concatenate([[0.0], np.cumsum(self.step_sizes(plain, points))])
                steps = ()
                if cumulative[-1] > 0:  # else the two tracks sound the same: nothing to even
                    knots = np.linspace(0, 1, points)
                    alphas = np.interp(knots, cumulative / cumulative[-1], knots)
                    alphas[0], alphas[-1] = 0.0, 1.0
                    steps = tuple(float(x) for x in alphas)
                self._even_steps = (a, b, options, steps)
        return replace(settings, steps=steps)

    # ----- export with its sidecar ----------------------------------------------------------
    def export(
        self,
        path: str | Path,
        settings: Settings,
        options: "ExportOptions",
        *,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Render, write ``path`` (see :func:`export_audio`) and beside it
        ``NAME.musinterp.json`` (see :mod:`musinterp_app.sidecar`), from which
        ``musinterp render`` makes the same file again.

        The audio is written under a temporary name, then the sidecar, then the
        audio takes its name: if either cannot be written, neither is, and if the
        last step fails the sidecar goes back to what it was. A failed export
        leaves the folder as it found it.
        """
        path = self.check_output(path, settings)
        audio = self.render(settings, n_iter=options.n_iter, cancel=cancel, progress=progress)
        if self.stereo and not options.mono:
            audio = self.with_stereo_image(settings, audio)
        record = self.export_record(settings, options, channels=audio.ndim)
        record_path = sidecar.path_for(path)
        previous = _read_previous(record_path)  # put back if the audio cannot take its place
        written = []

        def write_record() -> None:  # once the audio is written, before it takes its name
            sidecar.write(record_path, {**record, "audio_file": path.name})
            written.append(record_path)

        try:
            return export_audio(
                path,
                audio,
                self.config.sample_rate,
                level=options.level,
                output_rate=options.output_rate,
                sample_format=options.sample_format,
                fade_ms=options.fade_ms,
                before_replace=write_record,
            )
        except BaseException:
            if written:  # the audio failed at the last step: its sidecar goes back too
                with contextlib.suppress(OSError):  # the audio's error is the one to report
                    if previous is None:
                        record_path.unlink(missing_ok=True)
                    else:  # with the permissions it had (write_atomically keeps them)
                        files.write_atomically(record_path, previous)
            raise

    def check_output(self, path: str | Path, settings: Settings) -> Path:
        """``path`` if an export may be written there (``files.OutputPathError`` if not,
        before any work): a supported extension, a writable folder, and neither it nor
        its sidecar one of the blend's sources or the model's files."""
        tracks = self._sources(settings)[0]
        inputs = tuple(track.path for track in tracks) + tuple(
            self.model.info.folder / name for name in MODEL_FILES
        )
        checked = files.check_output(path, suffixes=tuple(io.OUTPUT_FORMATS), inputs=inputs)
        files.check_output(sidecar.path_for(path), suffixes=(".json",), inputs=inputs)
        return checked

    def export_record(self, settings: Settings, options: "ExportOptions", channels: int) -> dict:
        """What :mod:`musinterp_app.sidecar` keeps of an export (plain JSON values)."""
        folder = self.model.info.folder
        tracks = dict(zip(settings.slots, self._sources(settings)[0], strict=True))
        kind = "pad" if isinstance(settings, PadSettings) else "blend"
        blend = {"kind": kind, **asdict(settings)}
        return {
            "format": sidecar.FORMAT,
            "format_version": sidecar.FORMAT_VERSION,
            "app_version": __version__,
            "model": {
                "folder": folder.name,
                "path": str(folder.resolve()),
                "model_id": self.model.info.model_id,
                **{name: self.model.file_sha256[name] for name in MODEL_FILES},
            },
            "sources": {
                slot: {
                    "path": str(track.path.resolve()),
                    "sha256": track.source_sha256,
                    "start_s": track.start_s,
                    "duration_s": track.duration_s,
                }
                for slot, track in tracks.items()
            },
            "blend": blend,
            "sync": {
                slot: track.alignment.to_dict()
                for slot, track in tracks.items()
                if track.alignment is not None
            },
            "render": {
                **asdict(options),
                "renderer": RENDERER_VERSION,
                "first_chunk_iterations": FIRST_CHUNK_ITERATIONS,
                "seed": RENDER_SEED,
                "rate": options.output_rate or self.config.sample_rate,
                "channels": channels,
            },
        }


def _read_previous(record_path: Path) -> bytes | None:
    """The bytes of the sidecar an export is about to replace (None if there is none);
    ``SidecarError`` if something that cannot be one is in its place."""
    try:
        with files.open_regular(record_path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise sidecar.SidecarError(
            f"Cannot write “{record_path.name}” in {record_path.parent}: {files.reason(error)}"
        ) from None


class _LastBlend:
    """The last whole blend decoded: its tracks (by identity), settings and log-mel.

    The window decodes a blend to draw it, and the render that follows a slider
    release asks for the same blend: it gets this one instead of decoding it
    again. Asking for a blend that is being decoded waits for that decode;
    asking for another one does not wait.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._entry: tuple[list[Track], Settings, np.ndarray] | None = None
        self._decoding: dict[object, tuple[list[Track], Settings]] = {}  # under way, by token

    @staticmethod
    def _same(known: tuple[list[Track], Settings], tracks: list[Track], settings) -> bool:
        known_tracks, known_settings = known
        if known_settings != settings or len(known_tracks) != len(tracks):
            return False
        return all(a is b for a, b in zip(known_tracks, tracks, strict=True))

    def _wait_for(self, tracks: list[Track], settings: Settings) -> np.ndarray | None:
        """(Holding the lock) wait while this blend is being decoded; then it, if known."""
        while any(self._same(key, tracks, settings) for key in self._decoding.values()):
            self._changed.wait()
        if self._entry is not None and self._same(self._entry[:2], tracks, settings):
            return self._entry[2]
        return None

    def get(
        self, tracks: list[Track], settings: Settings, decode: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The blend's log-mel (read-only), decoded with ``decode()`` unless it is known."""
        token = object()
        with self._changed:
            known = self._wait_for(tracks, settings)
            if known is not None:
                return known
            self._decoding[token] = (tracks, settings)
        decoded = None
        try:
            decoded = decode()
            decoded.flags.writeable = False
            return decoded
        finally:
            with self._changed:
                del self._decoding[token]
                if decoded is not None:
                    self._entry = (tracks, settings, decoded)
                self._changed.notify_all()

    def peek(self, tracks: list[Track], settings: Settings) -> np.ndarray | None:
        """The blend's log-mel if it is known or being decoded (then it waits), else None."""
        with self._changed:
            return self._wait_for(tracks, settings)


class _DecodedBlocks:
    """``log_mel_frames(start, stop)`` for a stream that asks for each frame once, in order.

    Decoding a window costs the window plus ``DECODE_MARGIN_LATENT`` on both
    sides, so decoding one small window per chunk would decode most frames
    twice. This decodes the first request as asked (a small window: sound
    starts at once) and then whole blocks of ``DECODE_BLOCK_FRAMES``, keeping
    what the stream has not asked for yet.
    """

    def __init__(self, decode: Callable[[int, int], np.ndarray], n_frames: int) -> None:
        self._decode = decode
        self._n_frames = n_frames
        self._first_frame = 0  # of self._mel
        self._mel: np.ndarray | None = None  # [n_mels, frames] decoded, not yet handed out

    def __call__(self, start: int, stop: int) -> np.ndarray:
        have = self._first_frame + (0 if self._mel is None else self._mel.shape[1])
        if start < self._first_frame or start > have:
            raise ValueError(f"frames asked out of order: {start} after {have}")
        if stop > have:  # decode from where the last block ended; keep its unasked frames
            block_stop = stop if self._mel is None else have + DECODE_BLOCK_FRAMES
            fresh = self._decode(have, max(stop, min(self._n_frames, block_stop)))
            if self._mel is not None:
                fresh = np.concatenate([self._mel[:, start - self._first_frame :], fresh], axis=1)
            self._mel, self._first_frame = fresh, start
        offset = start - self._first_frame
        return self._mel[:, offset : offset + stop - start]


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
    before_replace: Callable[[], None] | None = None,
) -> Path:
    """Write a render to a file a DAW can use, atomically (see ``audio.io.save_audio``,
    which also calls ``before_replace``).

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
    return io.save_audio(
        path, audio, rate, sample_format=sample_format, before_replace=before_replace
    )


@dataclass(frozen=True)
class ExportOptions:
    """How an export is rendered and written (see :meth:`Engine.export`)."""

    n_iter: int = RENDER_ITERATIONS
    level: str = "match"
    output_rate: int | None = None  # None: the model's rate
    sample_format: str = "16"
    fade_ms: float = DEFAULT_FADE_MS
    mono: bool = False
