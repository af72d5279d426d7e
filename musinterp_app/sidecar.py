"""``NAME.wav.musinterp.json`` beside every export (``NAME.flac.musinterp.json`` …): how it was
made, so it can be made again.

The record (built by ``Engine.export_record``) names the app version, the model
folder and the sha256 of both ONNX files, each source file with its sha256 and
excerpt, the blend (α, α over time or the pad's path), the sync settings with
the tempi and keys used, and the render options. ``musinterp render`` reads it
back (:mod:`musinterp_app.rebuild`); every file is checked against its sha256 first, and
one that changed or is missing is named, never guessed around.
"""

import hashlib
import json
import os
from pathlib import Path

from musinterp_app.base import files, json_input

FORMAT = "musinterp export"
FORMAT_VERSION = 1
SUFFIX = ".musinterp.json"


class SidecarError(ValueError):
    """A sidecar cannot be used as it is; ``str(error)`` is the message for the user."""


def path_for(audio_path: str | os.PathLike) -> Path:
    """``song.wav`` → ``song.wav.musinterp.json`` (same folder): one sidecar per file, so
    WAV, FLAC and Ogg exports of one blend keep their own."""
    audio_path = Path(audio_path)
    return audio_path.with_name(audio_path.name + SUFFIX)


def sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes (read in blocks, through ``files`` like every
    user path)."""
    digest = hashlib.sha256()
    with files.open_regular(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(
    path: str | os.PathLike,
    expected_sha256: str,
    what: str,
    *,
    recorded_at: str = "the export",
    consequence: str = "so the export cannot be made again as it was",
) -> None:
    """Refuse, naming it, a file that is missing or whose bytes changed since it was
    recorded (at ``recorded_at``: an export, a saved session)."""
    path = Path(path)
    try:
        actual = sha256(path)
    except OSError:
        raise SidecarError(
            f"{what} “{path}” is missing or unreadable: put it back where it was at "
            f"{recorded_at}, or {'re-export' if recorded_at == 'the export' else 'load it again'}"
        ) from None
    if actual != expected_sha256:
        raise SidecarError(
            f"{what} “{path}” has changed since {recorded_at} (its sha256 differs), {consequence}"
        )


def write(path: str | os.PathLike, record: dict) -> Path:
    """Write ``record`` as indented JSON, atomically (temporary name, then rename)."""
    path = Path(path)
    try:
        return files.write_atomically(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    except OSError as error:
        raise SidecarError(
            f"Cannot write “{path.name}” in {path.parent}: {files.reason(error)}"
        ) from None


def read(path: str | os.PathLike) -> json_input.Node:
    """A sidecar's record, its format and version checked; ``json_input.JsonInputError``
    when the file is no JSON musinterp can use, ``SidecarError`` when it is another kind
    of file or of a newer format."""
    path = Path(path)
    record = json_input.load(path)
    record.entries()  # an object, or refused
    if record.value.get("format") != FORMAT:
        raise SidecarError(f"“{path.name}” is not a musinterp sidecar (no “{FORMAT}” format)")
    version = record["format_version"]
    if version.value != FORMAT_VERSION:
        raise SidecarError(
            f"“{path.name}” has format version {json_input.shorten(repr(version.value))}; this "
            f"musinterp reads version {FORMAT_VERSION}"
        )
    return record
