"""Reading audio files to float32 (mono, or left and right) and writing audio files atomically.

Everything libsndfile reads is accepted (see :data:`SUPPORTED_FORMATS`). Any
channel count is averaged to mono (or kept as left and right on request), any
rate is resampled (soxr), and only the
requested excerpt is decoded, block by block, so a long file costs no more
than the part that is used. Every way a path can be unusable (not a file at
all, not audio, damaged, cut off, changed while being read) ends in one
:class:`AudioLoadError` whose message says what is wrong and what to do;
nothing here ever waits on a pipe or a device (see :mod:`musinterp_app.base.files`).
"""

import errno
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from musinterp_app.audio.cancel import CancelToken, Progress
from musinterp_app.base import files

READ_BLOCK_FRAMES = 1 << 16
TRUNCATION_TOLERANCE_S = 1.0  # MP3/OGG headers only estimate the length; beyond this, it is cut


@dataclass(frozen=True)
class AudioFormat:
    """A kind of audio file this app reads: its name as people know it, and its file suffixes."""

    name: str
    suffixes: tuple[str, ...]
    detail: str = ""  # e.g. the codecs inside the container


# The one table of what can be opened: the loader's advice, the window's file filter and
# the file names ``musinterp-train prepare`` picks up all come from it.
SUPPORTED_FORMATS = (
    AudioFormat("WAV", (".wav", ".w64")),
    AudioFormat("FLAC", (".flac",)),
    AudioFormat("OGG", (".ogg", ".oga", ".opus"), "Vorbis or Opus"),
    AudioFormat("MP3", (".mp3",)),
    AudioFormat("AIFF", (".aif", ".aiff")),
    AudioFormat("AU", (".au",)),
)
AUDIO_SUFFIXES = frozenset(suffix for kind in SUPPORTED_FORMATS for suffix in kind.suffixes)
FORMAT_NAMES = ", ".join(kind.name for kind in SUPPORTED_FORMATS)  # "WAV, FLAC, …, AU"
_DETAILED_NAMES = [f"{k.name} ({k.detail})" if k.detail else k.name for k in SUPPORTED_FORMATS]
SUPPORTED = f"{', '.join(_DETAILED_NAMES[:-1])} or {_DETAILED_NAMES[-1]}"  # for sentences


_stderr_lock = threading.Lock()
_stderr_users = 0
_saved_stderr = -1


@contextmanager
def _quiet_decoder_messages() -> Iterator[None]:
    """Silence what C decoders print on file descriptor 2 (libmpg123's "Note: …" lines)
    while libsndfile works, so a bad file yields one message, ours. Shared by threads."""
    global _stderr_users, _saved_stderr
    with _stderr_lock:
        if _stderr_users == 0:
            try:
                sys.stderr.flush()
                _saved_stderr = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            except OSError:
                _saved_stderr = -1
        _stderr_users += 1
    try:
        yield
    finally:
        with _stderr_lock:
            _stderr_users -= 1
            if _stderr_users == 0 and _saved_stderr >= 0:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = -1


class AudioLoadError(Exception):
    """A file could not be used as audio; ``str(error)`` is the message for the user."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot use “{self.path.name}”: {reason}")


class AudioSaveError(Exception):
    """A WAV file could not be written; nothing was left behind or overwritten."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, before any decoding."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


# Leading bytes of files people mistake for audio, and of audio libsndfile cannot decode.
_NOT_AUDIO = [
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"{\\rtf", "an RTF document"),
    (b"<!DOCTYPE", "a web page"),
    (b"<html", "a web page"),
]
_UNSUPPORTED_AUDIO = [
    (4, b"ftyp", "MP4/M4A (AAC or ALAC)"),
    (0, b"0&\xb2u", "WMA"),
    (0, b"wvpk", "WavPack"),
    (0, b"MAC ", "Monkey's Audio"),
]
_AUDIO_CONTAINERS = [
    (0, b"RIFF", "WAV"),
    (0, b"RF64", "WAV"),
    (0, b"fLaC", "FLAC"),
    (0, b"OggS", "OGG"),
    (0, b"ID3", "MP3"),
    (0, b"FORM", "AIFF"),
]


def _describe_unreadable(path: Path, head: bytes) -> str:
    """Why libsndfile refused a file, judged from its first bytes."""
    for magic, kind in _NOT_AUDIO:
        if head.lower().startswith(magic.lower()):
            return f"it is {kind}, not an audio file. Choose a {SUPPORTED} file."
    for offset, magic, kind in _UNSUPPORTED_AUDIO:
        if head[offset : offset + len(magic)] == magic:
            return f"{kind} audio is not supported. Convert it to {SUPPORTED} first."
    for offset, magic, kind in _AUDIO_CONTAINERS:
        if head[offset : offset + len(magic)] == magic:
            return (
                f"it looks like {kind} but cannot be decoded: the file is damaged or "
                f"uses an unsupported codec. Re-export it as {SUPPORTED}."
            )
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "it looks like MP3 but cannot be decoded: the file is damaged. Re-export it."
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head[:512]):
        return f"it is a text file, not audio. Choose a {SUPPORTED} file."
    return f"it is not an audio file this app can read. Choose a {SUPPORTED} file."


def _open_file(path: Path) -> BinaryIO:
    """The file opened for reading, after every check that needs words of its own
    (missing, a folder, a pipe or device, a link loop, not allowed, empty)."""
    try:
        raw = files.open_regular(path)
    except FileNotFoundError:
        raise AudioLoadError(path, "the file does not exist (was it moved or renamed?).") from None
    except PermissionError:
        raise AudioLoadError(
            path, "permission denied: you are not allowed to read this file (or its folder)."
        ) from None
    except files.NotAFileError as error:
        advice = "an audio file inside it" if error.errno == errno.EISDIR else "an audio file"
        raise AudioLoadError(path, f"{error.reason}. Choose {advice}.") from None
    except OSError as error:
        raise AudioLoadError(path, f"it cannot be read ({error.strerror}).") from None
    if os.fstat(raw.fileno()).st_size == 0:
        raw.close()
        raise AudioLoadError(
            path, "the file is empty (0 bytes); it may not have finished downloading or copying."
        )
    return raw


def _missing_wav_bytes(raw: BinaryIO) -> int:
    """How many bytes of a RIFF/WAVE file's ``data`` chunk are missing (0: complete).

    libsndfile quietly plays a cut-off WAV up to the cut; the chunk size in
    the header tells that the file was truncated. Reads with ``pread``, so the
    decoder's position in the shared file is left alone.
    """
    descriptor = raw.fileno()
    riff = os.pread(descriptor, 12, 0)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        return 0
    file_size = os.fstat(descriptor).st_size
    position = 12
    while True:
        header = os.pread(descriptor, 8, position)
        if len(header) < 8:
            return 0
        size = int.from_bytes(header[4:], "little")
        position += 8
        if header[:4] == b"data":
            present = file_size - position
            return max(0, size - present) if size not in (0, 0xFFFFFFFF) else 0
        position += size + (size & 1)


OGG_MAX_PAGE_BYTES = 65_307  # 27-byte header + 255 lacing values + 255 × 255 bytes
OGG_END_OF_STREAM = 0x04  # header-type flag of a stream's last page


def _ogg_page_end(data: bytes, start: int) -> int:
    """Where the Ogg page whose header starts at ``start`` ends (-1: header cut off)."""
    count_at = start + 26  # the header's last fixed field: how many lacing values follow
    if count_at >= len(data):
        return -1
    lacing = data[count_at + 1 : count_at + 1 + data[count_at]]
    if len(lacing) < data[count_at]:
        return -1
    return count_at + 1 + len(lacing) + sum(lacing)


def _ogg_is_unfinished(raw: BinaryIO) -> bool:
    """An Ogg file (Vorbis, Opus, FLAC-in-Ogg) that does not end with a whole page
    carrying the end-of-stream mark: it was cut off. libsndfile plays such a
    file up to the cut without a word."""
    descriptor = raw.fileno()
    if os.pread(descriptor, 4, 0) != b"OggS":
        return False
    start = max(0, os.fstat(descriptor).st_size - OGG_MAX_PAGE_BYTES)
    tail = os.pread(descriptor, OGG_MAX_PAGE_BYTES, start)
    position = len(tail)
    while (position := tail.rfind(b"OggS", 0, position)) >= 0:
        if _ogg_page_end(tail, position) == len(tail):  # the last page, whole
            return not tail[position + 5] & OGG_END_OF_STREAM
    return True


def _truncation(raw: BinaryIO) -> str:
    """Why the file is cut off, where its own structure tells ('' when it is not)."""
    missing = _missing_wav_bytes(raw)
    if missing:
        return f"{missing} bytes of audio data are missing from its end"
    if _ogg_is_unfinished(raw):
        return "its audio stream stops without its end mark"
    return ""


def _version(raw: BinaryIO) -> tuple[int, int]:
    """Size and modification time of the open file: they change when it is rewritten."""
    facts = os.fstat(raw.fileno())
    return facts.st_size, facts.st_mtime_ns


@contextmanager
def _decoder(path: Path) -> Iterator[tuple[sf.SoundFile, BinaryIO]]:
    """libsndfile on the checked file (the very descriptor that was checked, so a path
    swapped for a pipe in between is never read), and the file itself."""
    raw = _open_file(path)
    with raw:
        try:
            with _quiet_decoder_messages():
                handle = sf.SoundFile(os.dup(raw.fileno()), closefd=True)
        except (sf.LibsndfileError, RuntimeError, TypeError):
            head = os.pread(raw.fileno(), 4096, 0)
            raise AudioLoadError(path, _describe_unreadable(path, head)) from None
        with handle:
            truncation = _truncation(raw)
            if truncation:
                raise AudioLoadError(
                    path, f"the file is truncated: {truncation}. Re-download or re-export it."
                )
            yield handle, raw


def probe(path: str | os.PathLike) -> AudioInfo:
    """Header facts of an audio file (nothing decoded). Raises :class:`AudioLoadError`."""
    path = Path(path)
    with _decoder(path) as (handle, _raw):
        if handle.frames <= 0 or handle.samplerate <= 0:
            raise AudioLoadError(path, "it contains no audio (zero samples).")
        return AudioInfo(
            path, handle.samplerate, handle.channels, handle.frames, handle.format, handle.subtype
        )


def _read_blocks(
    handle: sf.SoundFile,
    n_frames: int,
    cancel: CancelToken | None,
    progress: Progress | None,
    channels: int = 1,
) -> tuple[list[np.ndarray], int]:
    """Blocks read from the current position, up to ``n_frames`` in all: mono ``[n]``
    (channels averaged) or, with ``channels=2``, left and right ``[n, 2]``."""
    blocks = []
    done = 0
    while done < n_frames:
        if cancel is not None:
            cancel.raise_if_cancelled()
        block = handle.read(min(READ_BLOCK_FRAMES, n_frames - done), dtype="float32")
        if len(block) == 0:
            break
        blocks.append(_channels_of(block, channels))
        done += len(block)
        if progress is not None:
            progress(done, n_frames)
    return blocks, done


def _channels_of(block: np.ndarray, channels: int) -> np.ndarray:
    """A decoded block ``[n]`` or ``[n, file channels]`` as mono ``[n]`` (the average) or
    stereo ``[n, 2]`` (a mono file on both sides; of more channels, the first two)."""
    if channels == 1:
        return block.mean(axis=1) if block.ndim == 2 else block
    if block.ndim == 1:
        return np.repeat(block[:, None], 2, axis=1)
    return block[:, :2] if block.shape[1] >= 2 else np.repeat(block, 2, axis=1)


def _read_samples(
    handle: sf.SoundFile,
    path: Path,
    start_frame: int,
    n_frames: int,
    cancel: CancelToken | None,
    progress: Progress | None,
    channels: int = 1,
) -> np.ndarray:
    """Decode ``n_frames`` from ``start_frame``, block by block (see :func:`_channels_of`).

    Memory follows what actually decodes, not what the header claims (a damaged
    header may promise billions of frames).
    """
    try:
        with _quiet_decoder_messages():
            if start_frame:
                handle.seek(start_frame)
            blocks, done = _read_blocks(handle, n_frames, cancel, progress, channels)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioLoadError(
            path, f"the file is damaged: decoding failed ({error}). Re-export or re-download it."
        ) from None
    empty = np.zeros((0,) if channels == 1 else (0, 2), np.float32)
    samples = np.concatenate(blocks).astype(np.float32, copy=False) if blocks else empty
    missing = n_frames - done
    if missing > max(TRUNCATION_TOLERANCE_S * handle.samplerate, 0.02 * n_frames):
        expected_s = (start_frame + n_frames) / handle.samplerate
        got_s = (start_frame + done) / handle.samplerate
        raise AudioLoadError(
            path,
            f"the file is truncated: its header promises {expected_s:.1f} s but only "
            f"{got_s:.1f} s could be decoded. Re-download or re-export it.",
        )
    if done == 0:
        raise AudioLoadError(path, "it contains no audio that could be decoded.")
    return samples  # compressed formats only estimate their length: keep what decoded


def load(
    path: str | os.PathLike,
    *,
    sample_rate: int,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    min_duration_s: float = 0.0,
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
    channels: int = 1,
) -> np.ndarray:
    """Decode (part of) a file to float32 at ``sample_rate`` Hz: mono ``[samples]``, or
    left and right ``[samples, 2]`` with ``channels=2``.

    Args:
        path: any file libsndfile reads.
        sample_rate: rate of the result, in Hz (resampled if the file differs).
        offset_s: where the excerpt starts, in seconds from the file's start.
        duration_s: length of the excerpt in seconds (``None``: to the end);
            an excerpt reaching past the end is cut at the end.
        min_duration_s: refuse excerpts shorter than this many seconds.
        cancel: checked between decoded blocks.
        progress: ``progress(frames_done, frames_total)`` while decoding.
        channels: 1 (all channels averaged) or 2 (left and right; a mono file
            gives the same signal twice; of more channels, the first two).

    Raises:
        AudioLoadError: missing, folder, unreadable, not audio, unsupported,
            empty, damaged, truncated, non-finite samples, or too short.
    """
    path = Path(path)
    if offset_s < 0 or (duration_s is not None and duration_s <= 0):
        raise ValueError("offset_s must be >= 0 and duration_s > 0")
    if channels not in (1, 2):
        raise ValueError("channels must be 1 (mono) or 2 (stereo)")
    with _decoder(path) as (handle, raw):
        before = _version(raw)
        file_rate = handle.samplerate
        if handle.frames <= 0 or file_rate <= 0:
            raise AudioLoadError(path, "it contains no audio (zero samples).")
        start_frame = round(offset_s * file_rate)
        if start_frame >= handle.frames:
            raise AudioLoadError(
                path,
                f"the excerpt starts at {offset_s:.1f} s but the file is only "
                f"{handle.frames / file_rate:.1f} s long. Choose an earlier start.",
            )
        available = handle.frames - start_frame
        wanted = available if duration_s is None else min(available, round(duration_s * file_rate))
        if wanted / file_rate < min_duration_s:
            raise AudioLoadError(
                path,
                f"it is only {wanted / file_rate:.2f} s long; at least {min_duration_s:.2f} s "
                "is needed. Choose a longer clip.",
            )
        samples = _read_samples(handle, path, start_frame, wanted, cancel, progress, channels)
        if _version(raw) != before:
            raise AudioLoadError(
                path,
                "the file changed while it was being read (is it still being copied, "
                "downloaded or recorded?). Try again once it is complete.",
            )
    if not np.isfinite(samples).all():
        raise AudioLoadError(
            path, "it contains invalid samples (NaN or infinity). Re-export it from its source."
        )
    if file_rate != sample_rate:
        samples = soxr.resample(samples, file_rate, sample_rate, quality="HQ").astype(np.float32)
    return samples


_NOT_ALLOWED = "you are not allowed to write in this folder; choose another one"
_SAVE_ADVICE = {
    errno.EACCES: _NOT_ALLOWED,
    errno.EPERM: _NOT_ALLOWED,
    errno.EROFS: "the disk is read-only; choose another folder",
    errno.ENOSPC: "the disk is full; free some space or choose another disk",
    errno.EFBIG: "the file would be larger than this system allows; write a shorter one",
}


def _check_replaceable(path: Path) -> None:
    """Refuse to put a file where a folder, pipe, device or socket is (renaming over
    ``/dev/…`` as root would replace the device itself)."""
    try:
        files.check_regular(path)
    except FileNotFoundError:
        return  # a new file
    except OSError as error:
        raise AudioSaveError(
            f"Cannot save “{path.name}” in {path.parent}: {files.reason(error)}. "
            "Choose another name."
        ) from None


def _save_failure_reason(error: Exception) -> str:
    """What a person can do about a failed write, in words."""
    advice = _SAVE_ADVICE.get(getattr(error, "errno", None))
    if advice:
        return f"{advice} ({error.strerror})"
    return getattr(error, "strerror", None) or str(error)


SAMPLE_FORMATS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
OUTPUT_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}  # by the name's extension


class _KeepWriteError:
    """The file soundfile writes through, keeping the first ``OSError`` of a write (disk
    full, file too large) instead of raising it inside libsndfile's callback, where cffi
    prints it as "Exception ignored … Traceback" on the user's terminal and soundfile then
    fails an assertion; the save reports it in one line instead."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.error = raw, None

    def write(self, data: bytes) -> int:
        try:
            return self.raw.write(data)
        except OSError as error:
            self.error = self.error or error
            return 0

    def read(self, size: int = -1) -> bytes:
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


def save_audio(
    path: str | os.PathLike,
    samples: np.ndarray,
    sample_rate: int,
    *,
    sample_format: str = "16",
    before_replace: Callable[[], None] | None = None,
) -> Path:
    """Write ``samples`` (``[n]`` or ``[n, channels]``, float in [-1, 1]) to an audio file.

    The format follows the name: ``.wav`` (16-bit, 24-bit or float PCM, by
    ``sample_format``), ``.flac`` (16 or 24 bit) or ``.ogg`` (Vorbis); any other
    name is refused, so a file is never something other than its name says.
    The data go to a temporary file in the same folder, which is renamed over
    ``path`` only once completely written: an interrupted or failed write
    leaves neither a partial file nor a damaged original. ``before_replace`` is
    called between the two (e.g. to write a file that belongs beside this one);
    if it raises, nothing is replaced.
    """
    container = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if container is None:
        raise AudioSaveError(
            f"Cannot write “{Path(path).name}”: choose a name ending in "
            f"{', '.join(OUTPUT_FORMATS)}."
        )
    if sample_format not in SAMPLE_FORMATS:
        raise AudioSaveError(f"Unknown sample format {sample_format!r}: use 16, 24 or float.")
    subtype = "VORBIS" if container == "OGG" else SAMPLE_FORMATS[sample_format]
    if container == "FLAC" and subtype == "FLOAT":
        raise AudioSaveError(
            f"FLAC has no float samples: write “{Path(path).name}” as 16 or 24 bit."
        )
    path = Path(path)
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size == 0:
        raise AudioSaveError(f"Nothing to write to “{path.name}”: the audio is empty.")
    if not np.isfinite(samples).all():
        raise AudioSaveError(f"Not writing “{path.name}”: the audio contains NaN or infinity.")
    if not path.parent.is_dir():
        raise AudioSaveError(f"Cannot save “{path.name}”: the folder {path.parent} does not exist.")
    _check_replaceable(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(temporary, "wb") as raw:
            target = _KeepWriteError(raw)
            try:
                with sf.SoundFile(
                    target,
                    "w",
                    samplerate=sample_rate,
                    channels=1 if samples.ndim == 1 else samples.shape[1],
                    format=container,
                    subtype=subtype,
                ) as handle:
                    handle.write(samples)
            except (AssertionError, RuntimeError, sf.LibsndfileError):
                # soundfile asserts that every frame was written: a short write whose
                # cause ``target`` kept
                if target.error is None:
                    raise
            if target.error is not None:
                raise target.error
            raw.flush()
            os.fsync(raw.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(temporary, path)
    except (OSError, sf.LibsndfileError, RuntimeError) as error:
        temporary.unlink(missing_ok=True)
        raise AudioSaveError(
            f"Cannot save “{path.name}” in {path.parent}: {_save_failure_reason(error)}."
        ) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
