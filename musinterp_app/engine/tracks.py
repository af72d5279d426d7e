"""A track: an excerpt of a file, decoded, analysed and encoded once (:func:`load_track`), with
an overview for drawing the whole file; a moved excerpt (:func:`with_excerpt`) and a track
fitted to another's tempo and key (:func:`align_track`)."""

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from musinterp_app import sidecar
from musinterp_app.audio import io, levels, mel, stretch
from musinterp_app.audio.cancel import CancelToken, Progress
from musinterp_app.base import files, limits
from musinterp_app.model.onnx_vae import OnnxVAE

Content = tuple[Path, str, float, float]  # a file, its sha256, an excerpt's start and length (s)
DEFAULT_EXCERPT_S = 5.0
MIN_EXCERPT_S = limits.MIN_EXCERPT_S
MIN_TRACK_S = 0.05  # shorter files are refused; anything longer is padded to the excerpt
OVERVIEW_COLUMNS = 2048  # time columns kept for drawing a whole track


@dataclass(frozen=True)
class Track:
    """A loaded file, the excerpt used for blending, and what the model made of it."""

    path: Path
    info: io.AudioInfo
    start_s: float
    excerpt_s: float
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
        return self.path, self.source_sha256, self.start_s, self.excerpt_s

    @property
    def frames(self) -> int:
        return self.mel.shape[1]

    @property
    def residual(self) -> np.ndarray:
        """What the model misses of this excerpt: ``mel − decoded``, ``[n_mels, frames]``."""
        return self.mel - self.decoded


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
    info: io.AudioInfo, start_s: float, excerpt_s: float
) -> tuple[float, float, str]:
    """The excerpt this file allows for a request, in seconds: ``(start, length, note)``.

    The length is at most the file's (never under ``MIN_EXCERPT_S``: shorter files
    are padded with silence) and the start is moved back so the excerpt ends
    within the file; ``note`` says in words what was changed ('' when nothing).
    """
    length_s = min(excerpt_s, max(info.duration_s, MIN_EXCERPT_S))
    start = min(start_s, max(0.0, info.duration_s - length_s))
    changes = []
    if length_s < excerpt_s - 1e-3:
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
    excerpt_s: float,
    cancel: CancelToken | None,
) -> dict:
    """Decode, analyse and encode one excerpt: the excerpt fields of a :class:`Track`.

    The start and length are checked against :mod:`musinterp_app.base.limits` and the
    memory the excerpt needs before anything is decoded; a start past
    :func:`latest_start_s` is moved back to it.
    """
    config = model.mel_config
    limits.START_S.check(start_s, "the excerpt start")
    excerpt_s = (
        limits.EXCERPT_S.check(excerpt_s, "the excerpt length")
        if model.info.temporal
        else config.segment_seconds
    )
    note = ""
    if model.info.temporal:  # a global model works on one fixed-length, padded segment
        start_s, excerpt_s, note = bounded_excerpt(info, start_s, excerpt_s)
    limits.check_excerpt_memory(excerpt_s)
    start_s = float(np.clip(start_s, 0.0, latest_start_s(info)))
    stereo = info.channels == 2
    samples = io.load(
        path,
        sample_rate=config.sample_rate,
        offset_s=start_s,
        duration_s=excerpt_s,
        min_duration_s=MIN_TRACK_S,
        cancel=cancel,
        channels=2 if stereo else 1,
    )
    side = None
    if stereo:  # the model hears the middle; the sides are kept to rebuild the stereo image
        samples, side = samples.mean(axis=1), 0.5 * (samples[:, 0] - samples[:, 1])
    fields = _excerpt_fields(model, samples, side, excerpt_s)
    return {"start_s": start_s, "excerpt_s": excerpt_s, "note": note, **fields}


def _excerpt_fields(
    model: OnnxVAE, samples: np.ndarray, side: np.ndarray | None, excerpt_s: float
) -> dict:
    """Analyse and encode an excerpt's audio (mid ``[samples]``, side or None): the
    :class:`Track` fields that follow from it."""
    config = model.mel_config
    frames = config.seconds_to_frames(excerpt_s)
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
    excerpt_s: float = DEFAULT_EXCERPT_S,
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
    excerpt = _analyse_excerpt(path, info, model, start_s, excerpt_s, cancel)
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
        stat = file_stat(path)
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
    excerpt_s: float,
    cancel: CancelToken | None = None,
) -> Track:
    """The same track with another excerpt (or model): re-analysed and re-encoded.

    A synced track is fitted again as it was when its excerpt stays (a model
    switch); a moved excerpt comes back unfitted: its beats and key are
    another excerpt's, to be estimated and fitted again (``Engine.synced``).
    """
    excerpt = _analyse_excerpt(track.path, track.info, model, start_s, excerpt_s, cancel)
    fresh = replace(track, **excerpt, **_fingerprint(track.path, track), alignment=None)
    same = (fresh.start_s, fresh.excerpt_s) == (track.start_s, track.excerpt_s)
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
    piece, heard_s = fitted_excerpt(track, alignment, rate, mid_side=True, cancel=cancel)
    stereo = track.side is not None
    fields = _excerpt_fields(model, piece[0], piece[1] if stereo else None, track.excerpt_s)
    note = ""
    if heard_s < track.excerpt_s - 0.1:  # the file ran out: the rest is silence
        note = (
            f"“{track.name}” runs out {heard_s:.1f} s into its fitted "
            f"{track.excerpt_s:.1f}-s excerpt (it plays ×{alignment.speed:.2f} as fast); "
            "the rest is silence: choose an earlier start or a shorter excerpt"
        )
    fingerprint = _fingerprint(track.path, track)
    return replace(track, **fields, **fingerprint, alignment=alignment, note=note)


def excerpt_audio(
    track: Track, sample_rate: int, *, cancel: CancelToken | None = None
) -> np.ndarray:
    """The excerpt as the blend hears it, at ``sample_rate``, read again from the file:
    ``[channels, samples]`` (left and right, or mono), fitted as the track's alignment
    says. (Exports use it to carry what lies above the model's band.)"""
    if track.alignment is not None:
        return fitted_excerpt(track, track.alignment, sample_rate, cancel=cancel)[0]
    channels = _read_channels(track, sample_rate, track.excerpt_s, cancel=cancel)
    return _cut(channels, 0, round(track.excerpt_s * sample_rate))[0]


def fitted_excerpt(
    track: Track,
    alignment: stretch.Alignment,
    sample_rate: int,
    *,
    mid_side: bool = False,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, float]:
    """The track's excerpt read from its file at ``sample_rate`` (as much as the speed change
    needs), stretched and pitch-shifted by Rubber Band (all channels together) and cut so its
    first downbeat meets the reference's: ``[channels, samples]`` (left and right, or with
    ``mid_side`` the middle and the sides (L − R) / 2; or mono), silence-padded to the
    excerpt's length, and the seconds of it the file filled."""
    needed_s = (track.excerpt_s + alignment.skip_s) * alignment.speed + 0.1
    channels = _read_channels(track, sample_rate, needed_s, cancel=cancel)
    if mid_side and len(channels) == 2:
        channels = np.stack([channels.mean(axis=0), 0.5 * (channels[0] - channels[1])])
    fitted = stretch.stretch(
        channels, sample_rate, speed=alignment.speed, semitones=alignment.semitones
    )
    first, length = round(alignment.skip_s * sample_rate), round(track.excerpt_s * sample_rate)
    piece, filled = _cut(fitted, first, length)
    return piece, filled / sample_rate


def _read_channels(
    track: Track, sample_rate: int, seconds: float, *, cancel: CancelToken | None
) -> np.ndarray:
    """``seconds`` of the track's file from its excerpt's start at ``sample_rate``,
    ``[channels, samples]`` (left and right, or mono), memory checked first."""
    limits.check_excerpt_memory(seconds)
    stereo = track.side is not None
    raw = io.load(
        track.path,
        sample_rate=sample_rate,
        offset_s=track.start_s,
        duration_s=seconds,
        min_duration_s=MIN_TRACK_S,
        cancel=cancel,
        channels=2 if stereo else 1,
    )
    return raw.T if stereo else raw[None]


def _cut(channels: np.ndarray, first: int, length: int) -> tuple[np.ndarray, int]:
    """``length`` samples of ``channels`` ``[channels, samples]`` from ``first`` on, float32,
    silence after their end; and how many samples they filled."""
    piece = np.zeros((channels.shape[0], length), np.float32)
    kept = channels[:, first : first + length]
    piece[:, : kept.shape[1]] = kept
    return piece, kept.shape[1]


def file_stat(path: Path) -> tuple[int, int]:
    """A file's size and modification time (ns): how a track tells its file changed
    (``OSError`` when it is gone or no regular file)."""
    info = files.check_regular(path)
    return info.st_size, info.st_mtime_ns
