"""Writing a blend: the audio file (:func:`export_audio`, level, rate, fades) and the options a
sidecar records (:class:`ExportOptions`)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from musinterp_app import sidecar
from musinterp_app.audio import io, levels
from musinterp_app.base import files

# On every RENDER_STRIDE-th frame, from the sources' phase where it explains the blend and the
# phase gradient elsewhere (render.curve.*.app in musinterp bench).
RENDER_ITERATIONS = 32
EXPORT_PEAK_DBFS = -1.0
EXPORT_LEVELS = ("match", "peak")
DEFAULT_FADE_MS = 5.0  # at both ends of an exported file: no click where it starts or stops
MODEL_FILES = ("encoder.onnx", "decoder.onnx")


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
    ``sample_rate``. ``fade_ms``: raised-cosine fades at both ends (0: none).
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
    output_rate: int | None = None  # None: the sources' (the highest of their rates)
    sample_format: str = "16"
    fade_ms: float = DEFAULT_FADE_MS
    mono: bool = False
    high_band: bool = True  # above the model's band, the sources' own content, by their shares


def check_export_path(path: str | Path, inputs: tuple[str | Path, ...]) -> Path:
    """``path`` if an export may be written there, and its sidecar beside it
    (``files.OutputPathError`` if not, before any work): a supported extension, a
    writable folder, and neither file one of ``inputs`` (by device and inode)."""
    checked = files.check_output(path, suffixes=tuple(io.OUTPUT_FORMATS), inputs=inputs)
    files.check_output(sidecar.path_for(path), suffixes=(".json",), inputs=inputs)
    return checked
