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
from musinterp_app.files import check_regular, open_text

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
    with open_text(tracks_csv) as handle:
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
    Returns the files and the ``(path, reason)`` of files left out: among them
    whatever has an audio name but is no file (a pipe, a device, a socket, a
    link loop), so nothing is ever waited on and nothing is left out silently.
    """
    sources, skipped = [], []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder: give folders of audio files to --audio")
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in io.AUDIO_SUFFIXES:
                continue
            try:
                check_regular(path)
            except OSError as error:
                if not path.is_dir():  # a folder named like a file is only walked through
                    skipped.append((path, getattr(error, "reason", None) or error.strerror))
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


class TrackStore:
    """The training tracks of a cache, memory-mapped: crops are read, not held in RAM.

    Built once from the segment images into ``CACHE/tracks/NAME.npy``
    (float16 ``[total_frames, n_mels]``, time-major so a crop is one
    contiguous read) and ``NAME.json`` (where each track starts, its length and
    label). Rebuilt only when the rows it was built from change.
    """

    def __init__(self, cache: Path, rows: list[dict], name: str = "train") -> None:
        folder = Path(cache) / "tracks"
        folder.mkdir(exist_ok=True)
        by_file: dict[str, list[dict]] = {}
        for row in rows:
            by_file.setdefault(row["file_id"], []).append(row)
        for file_rows in by_file.values():
            file_rows.sort(key=lambda row: float(row["offset_s"]))
        key = hashlib.sha1(json.dumps(sorted(r["segment"] for r in rows)).encode()).hexdigest()[:16]
        index_path, array_path = folder / f"{name}.json", folder / f"{name}.npy"
        index = json.loads(index_path.read_text()) if index_path.exists() else {}
        if index.get("key") != key or not array_path.exists():
            index = self._build(cache, by_file, key, index_path, array_path)
        self.starts = np.array(index["starts"], dtype=np.int64)
        self.lengths = np.array(index["lengths"], dtype=np.int64)
        self.labels: list[str] = index["labels"]
        self.frames = np.load(array_path, mmap_mode="r")  # [total_frames, n_mels] float16

    @staticmethod
    def _build(cache: Path, by_file: dict, key: str, index_path: Path, array_path: Path) -> dict:
        lengths = [len(file_rows) for file_rows in by_file.values()]
        first = read_exr(Path(cache) / next(iter(by_file.values()))[0]["segment"])
        n_mels, segment_frames = first.shape
        temporary = array_path.with_name(array_path.name + ".part.npy")
        array = np.lib.format.open_memmap(
            temporary, mode="w+", dtype=np.float16, shape=(sum(lengths) * segment_frames, n_mels)
        )
        position, starts, frames, labels = 0, [], [], []
        for file_rows in tqdm(by_file.values(), desc="track store", unit="file", leave=False):
            starts.append(position)
            for row in file_rows:
                array[position : position + segment_frames] = read_exr(cache / row["segment"]).T
                position += segment_frames
            frames.append(len(file_rows) * segment_frames)
            labels.append(file_rows[0]["label"])
        array.flush()
        del array
        os.replace(temporary, array_path)
        index = {"key": key, "starts": starts, "lengths": frames, "labels": labels}
        index_path.write_text(json.dumps(index))
        return index

    def __len__(self) -> int:
        return len(self.starts)

    def crop(self, track: int, start: int, frames: int) -> np.ndarray:
        """Frames ``start … start + frames`` of one track, float32 ``[n_mels, frames]``."""
        first = self.starts[track] + start
        return np.asarray(self.frames[first : first + frames], dtype=np.float32).T

    def random_crops(self, count: int, frames: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` random crops ``[count, n_mels, frames]``, tracks weighted by length."""
        room = np.maximum(self.lengths - frames + 1, 0).astype(np.float64)
        chosen = rng.choice(len(self), size=count, p=room / room.sum())
        return np.stack(
            [self.crop(track, int(rng.integers(0, room[track])), frames) for track in chosen]
        )


def balanced_validation(rows: list[dict], count: int, seed: int = 0) -> list[dict]:
    """Up to ``count`` validation rows spread evenly over labels, then over files.

    Labels take turns; within a label, its files take turns; within a file,
    segments are drawn in a seeded random order. The same rows every time.
    """
    rng = np.random.default_rng(seed)
    by_label: dict[str, dict[str, list[dict]]] = {}
    for row in sorted(rows, key=lambda row: row["segment"]):
        by_label.setdefault(row["label"], {}).setdefault(row["file_id"], []).append(row)
    queues = {}
    for label, files in by_label.items():
        for segments in files.values():
            rng.shuffle(segments)
        order = [files[f] for f in sorted(files)]
        rng.shuffle(order)
        queues[label] = [s for group in _interleave(order) for s in group]
    chosen = [
        s for group in _interleave([queues[label] for label in sorted(queues)]) for s in group
    ]
    return chosen[:count]


def _interleave(lists: list[list]) -> Iterable[list]:
    """Round-robin over ``lists``: the first item of each, then the second of each, …"""
    for depth in range(max((len(items) for items in lists), default=0)):
        yield [items[depth] for items in lists if depth < len(items)]
