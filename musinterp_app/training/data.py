"""``prepare``: any folder of music → a cache of 5-s log-mel segments.

Each segment is a lossless half-float OpenEXR image (one channel ``Y``,
``[n_mels, segment_frames]``, low frequencies in the first row), as in the
original report. ``index.csv`` lists every segment with its source file,
offset, and label (the FMA genre when metadata is given, otherwise the folder
the file came from). The work is per file, in parallel processes; a file is
done once its manifest is written, so an interrupted run resumes where it
stopped. Unreadable files are listed in ``skipped.csv``, never fatal.
"""

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenEXR
from tqdm import tqdm

from musinterp_app.audio import io, mel

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64"}
INDEX_FIELDS = ["segment", "source", "offset_s", "label", "file_id"]


@dataclass(frozen=True)
class SourceFile:
    path: Path
    label: str

    @property
    def file_id(self) -> str:
        """Stable short id of the source file (names its segments)."""
        return hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:12]


def write_exr(path: Path, image: np.ndarray) -> None:
    """Write ``[rows, columns]`` as half-float, ZIP-compressed (lossless) OpenEXR, atomically."""
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    temporary = path.with_name(path.name + ".part")
    with OpenEXR.File(header, {"Y": np.ascontiguousarray(image, dtype=np.float16)}) as exr:
        exr.write(str(temporary))
    os.replace(temporary, path)


def read_exr(path: Path) -> np.ndarray:
    """The ``Y`` channel of an OpenEXR file, float16 ``[rows, columns]``."""
    with OpenEXR.File(str(path)) as exr:
        return exr.channels()["Y"].pixels


def fma_genres(tracks_csv: Path) -> dict[int, str]:
    """Track id → top genre, from FMA's ``tracks.csv`` (three header rows)."""
    genres = {}
    with open(tracks_csv, newline="") as handle:
        rows = csv.reader(handle)
        header = [next(rows), next(rows), next(rows)]
        column = next(
            i
            for i, (top, sub) in enumerate(zip(header[0], header[1], strict=False))
            if top == "track" and sub == "genre_top"
        )
        for row in rows:
            if row and row[0].isdigit() and row[column]:
                genres[int(row[0])] = row[column]
    return genres


def find_sources(
    folders: Sequence[Path], genres: dict[int, str] | None = None
) -> tuple[list[SourceFile], list[tuple[Path, str]]]:
    """Audio files under ``folders`` (recursively) with their labels.

    The label is the FMA genre when ``genres`` is given (files are named by
    track id, e.g. ``000/000002.mp3``), otherwise the name of the folder the
    file was found under (pass one folder per label).
    Returns the files and the ``(path, reason)`` of files left out.
    """
    sources, skipped = [], []
    for folder in folders:
        folder = Path(folder)
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            label = folder.name
            if genres is not None:
                match = re.search(r"(\d+)", path.stem)
                track = int(match.group(1)) if match else -1
                if track not in genres:
                    skipped.append((path, "no genre in the FMA metadata"))
                    continue
                label = genres[track]
            sources.append(SourceFile(path, label))
    return sources, skipped


def _prepare_file(source: SourceFile, cache: Path, config: mel.MelConfig) -> dict:
    """Segments of one file → EXR files + a manifest; returns the manifest."""
    manifest_path = cache / "files" / f"{source.file_id}.json"
    try:
        samples = io.load(source.path, sample_rate=config.sample_rate)
    except io.AudioLoadError as error:
        manifest = {"source": str(source.path), "error": str(error), "segments": []}
    else:
        features = mel.log_mel_long(samples, config)
        segments = []
        for index in range(features.shape[1] // config.segment_frames):
            first = index * config.segment_frames
            name = f"{source.file_id}_{index:04d}.exr"
            write_exr(cache / "segments" / name, features[:, first : first + config.segment_frames])
            segments.append(
                {
                    "segment": f"segments/{name}",
                    "source": str(source.path),
                    "offset_s": round(config.frames_to_seconds(first), 4),
                    "label": source.label,
                    "file_id": source.file_id,
                }
            )
        manifest = {"source": str(source.path), "error": None, "segments": segments}
    temporary = manifest_path.with_suffix(".part")
    temporary.write_text(json.dumps(manifest))
    os.replace(temporary, manifest_path)
    return manifest


def prepare(
    folders: Sequence[Path],
    cache: Path,
    *,
    config: mel.MelConfig | None = None,
    fma_metadata: Path | None = None,
    workers: int = 2,
) -> dict:
    """Build or resume a segment cache; returns a summary dict."""
    config = config or mel.MelConfig()
    cache = Path(cache)
    (cache / "segments").mkdir(parents=True, exist_ok=True)
    (cache / "files").mkdir(exist_ok=True)
    config_path = cache / "mel_config.json"
    if (
        config_path.exists()
        and mel.MelConfig.from_dict(json.loads(config_path.read_text())) != config
    ):
        raise ValueError(f"{cache} was prepared with other mel parameters; use a new folder")
    config_path.write_text(json.dumps(config.to_dict(), indent=2))

    genres = fma_genres(fma_metadata) if fma_metadata else None
    sources, skipped = find_sources(folders, genres)
    todo = [s for s in sources if not (cache / "files" / f"{s.file_id}.json").exists()]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = pool.map(_prepare_file, todo, [cache] * len(todo), [config] * len(todo))
        for _ in tqdm(jobs, total=len(todo), desc="prepare", unit="file", initial=0):
            pass
    return _write_index(cache, sources, skipped)


def _write_index(cache: Path, sources: Iterable[SourceFile], skipped: list) -> dict:
    rows = []
    for source in sources:
        manifest = json.loads((cache / "files" / f"{source.file_id}.json").read_text())
        if manifest["error"]:
            skipped.append((source.path, manifest["error"]))
        elif not manifest["segments"]:
            skipped.append((source.path, "shorter than one segment"))
        rows.extend(manifest["segments"])
    with open(cache / "index.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    with open(cache / "skipped.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "reason"])
        writer.writerows((str(path), reason) for path, reason in skipped)
    return {
        "segments": len(rows),
        "files": len({row["file_id"] for row in rows}),
        "skipped": len(skipped),
        "labels": sorted({row["label"] for row in rows}),
    }


def read_index(cache: Path) -> list[dict]:
    with open(Path(cache) / "index.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def split_by_file(rows: list[dict], validation_fraction: float = 0.1) -> tuple[list, list]:
    """Train/validation rows, split by source file (no file in both), deterministically."""

    def is_validation(file_id: str) -> bool:
        bucket = int(hashlib.sha1(file_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return bucket < validation_fraction

    train = [row for row in rows if not is_validation(row["file_id"])]
    validation = [row for row in rows if is_validation(row["file_id"])]
    if not validation or not train:  # tiny data sets: hold out at least one file
        files = sorted({row["file_id"] for row in rows})
        held = set(files[: max(1, len(files) // 10)]) if len(files) > 1 else set()
        train = [row for row in rows if row["file_id"] not in held]
        validation = [row for row in rows if row["file_id"] in held] or train[-1:]
    return train, validation


def load_tracks(cache: Path, rows: list[dict]) -> list[np.ndarray]:
    """Segments of each source file joined in order: float16 ``[n_mels, frames]`` per file."""
    by_file: dict[str, list[dict]] = {}
    for row in rows:
        by_file.setdefault(row["file_id"], []).append(row)
    tracks = []
    for file_rows in by_file.values():
        file_rows.sort(key=lambda row: float(row["offset_s"]))
        tracks.append(np.concatenate([read_exr(cache / row["segment"]) for row in file_rows], 1))
    return tracks
