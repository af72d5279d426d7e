"""``prepare``: any folder of music → a store of 5-s log-mel segments that training reads.

Segments go into fixed-size float16 shards (:mod:`shards`: ``shards/NNNNN.npy``,
``[capacity, segment_frames, n_mels]``); ``index.csv`` lists every segment with
its source file, offset, label (the FMA genre when metadata is given, otherwise
the folder the file came from), FMA split, and its shard and row. The work is
per file, in parallel processes; a file is done once its manifest
(``files/ID.json``) is written, after its rows are flushed, so an interrupted run
resumes where it stopped. Unreadable files are listed in ``skipped.csv``, never
fatal. Each segment is also written as a lossless half-float OpenEXR image
(``segments/``, the original report's format) unless ``exr=False`` (``--no-exr``):
training reads only the shards.

``part=(K, N)`` prepares only the files whose id falls in part K of N (by a hash
of the id), so N machines can prepare one corpus at once; :func:`merge` checks
the N parts (same corpus, same parameters, each part once and finished, no file
twice, shards intact) and joins them into one cache.
"""

import csv
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from io import StringIO
from itertools import repeat
from pathlib import Path

import numpy as np
import OpenEXR
from tqdm import tqdm

from musinterp_app.audio import io, mel
from musinterp_app.base.files import check_regular, reason, write_atomically
from musinterp_app.training.dataset import fma, shards

INDEX_FIELDS = ["segment", "source", "offset_s", "label", "file_id", "split", "shard", "row"]


@dataclass(frozen=True)
class SourceFile:
    path: Path
    label: str
    split: str = ""  # FMA's split (training / validation / test), "" without FMA metadata

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


def find_sources(
    folders: Sequence[Path], tracks: dict[int, fma.Track] | None = None
) -> tuple[list[SourceFile], list[tuple[Path, str]]]:
    """Audio files under ``folders`` (recursively) with their labels.

    With FMA ``tracks`` (from :func:`fma.select`; files are named by track id,
    e.g. ``000/000002.mp3``) the label is the track's genre and only the chosen
    tracks are kept; otherwise the label is the name of the folder the file was
    found under (pass one folder per label).
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
                    skipped.append((path, reason(error)))
                continue
            if tracks is None:
                sources.append(SourceFile(path, folder.name))
                continue
            match = re.search(r"(\d+)", path.stem)
            track = tracks.get(int(match.group(1)) if match else -1)
            if track is None:
                skipped.append((path, "not in the chosen FMA tracks"))
            else:
                sources.append(SourceFile(path, track.label, track.split))
    return sources, skipped


def part_of(file_id: str, parts: int) -> int:
    """Which of ``parts`` (1 … parts) prepares the file ``file_id``."""
    return int(file_id, 16) % parts + 1


def whole_segments(
    path: Path, config: mel.MelConfig, *, max_segments: int | None = None
) -> np.ndarray:
    """The whole segments of an audio file (the first ``max_segments``, or all), log-mel
    float32 ``[count, n_mels, segment_frames]``; a remainder shorter than a segment is
    dropped. Raises :class:`io.AudioLoadError` for a file that cannot be used."""
    duration_s = None if max_segments is None else max_segments * config.segment_seconds
    samples = io.load(path, sample_rate=config.sample_rate, duration_s=duration_s)
    features = mel.log_mel_long(samples, config)  # [n_mels, frames]
    count = features.shape[1] // config.segment_frames
    return (
        features[:, : count * config.segment_frames]
        .reshape(config.n_mels, count, config.segment_frames)
        .transpose(1, 0, 2)
    )


def _segments_of(
    source: SourceFile, cache: Path, config: mel.MelConfig, exr: bool
) -> tuple[np.ndarray, str | None]:
    """The whole segments of one file, float16 ``[count, segment_frames, n_mels]``, and the
    load error (then no segments). With ``exr`` each is also written to ``segments/``."""
    try:
        segments = whole_segments(source.path, config).transpose(0, 2, 1).astype(np.float16)
    except io.AudioLoadError as error:
        return np.zeros((0, config.segment_frames, config.n_mels), np.float16), str(error)
    if exr:
        for index, segment in enumerate(segments):
            write_exr(cache / "segments" / f"{source.file_id}_{index:04d}.exr", segment.T)
    return segments, None


def _write_json(path: Path, value: dict) -> None:
    write_atomically(path, json.dumps(value))


def _fma_tracks(metadata: Path, subset: str, balanced: bool) -> dict:
    """FMA's tracks to use, read before anything is written (a bad table leaves no cache
    folder behind); an error names the table."""
    try:
        return fma.select(fma.read_tracks(metadata), subset, balanced)
    except ValueError as error:
        message = str(error)
        raise ValueError(
            message if message.startswith(str(metadata)) else f"{metadata}: {message}"
        ) from None


def _claim_mel_config(cache: Path, config: mel.MelConfig) -> None:
    """Write ``mel_config.json``, refusing a cache prepared with other mel parameters."""
    config_path = cache / "mel_config.json"
    if (
        config_path.exists()
        and mel.MelConfig.from_dict(json.loads(config_path.read_text())) != config
    ):
        raise ValueError(f"{cache} was prepared with other mel parameters; use a new folder")
    write_atomically(config_path, json.dumps(config.to_dict(), indent=2))


def _claim_part(part_path: Path, described: dict) -> None:
    """Refuse a cache that holds another part (or shard size) than ``described``."""
    if part_path.exists():
        before = json.loads(part_path.read_text())
        if {key: before[key] for key in described} != described:
            raise ValueError(
                f"{part_path.parent} holds part {before['part']}/{before['parts']} with "
                f"{before['shard_segments']} segments per shard; use a new folder"
            )


def prepare(
    folders: Sequence[Path],
    cache: Path,
    *,
    config: mel.MelConfig | None = None,
    fma_metadata: Path | None = None,
    fma_subset: str = "full",
    fma_balanced: bool = False,
    workers: int = 2,
    part: tuple[int, int] = (1, 1),
    shard_segments: int = shards.SHARD_SEGMENTS,
    exr: bool = True,
) -> dict:
    """Build or resume a segment store (part ``part[0]`` of ``part[1]``); returns a summary."""
    config = config or mel.MelConfig()
    cache = Path(cache)
    if cache.exists() and not cache.is_dir():
        raise ValueError(f"{cache} is a file, not a folder: give a new folder for the cache")
    tracks = _fma_tracks(fma_metadata, fma_subset, fma_balanced) if fma_metadata else None
    (cache / "files").mkdir(parents=True, exist_ok=True)
    if exr:
        (cache / "segments").mkdir(exist_ok=True)
    _claim_mel_config(cache, config)
    sources, skipped = find_sources(folders, tracks)
    number, parts = part
    mine = [s for s in sources if part_of(s.file_id, parts) == number]
    part_path = cache / "part.json"
    described = {"part": number, "parts": parts, "shard_segments": shard_segments}
    _claim_part(part_path, described)
    corpus = sorted(s.file_id for s in sources)
    _write_json(
        part_path,
        {
            **described,
            "corpus_files": len(corpus),
            "corpus_key": hashlib.sha1(" ".join(corpus).encode()).hexdigest(),
            "files": len(mine),
            "finished": False,
        },
    )
    manifests = {s.file_id: cache / "files" / f"{s.file_id}.json" for s in mine}
    finished = {}  # file id → its pieces; a manifest from before shards is redone
    for file_id, path in manifests.items():
        if path.exists() and "pieces" in (manifest := json.loads(path.read_text())):
            finished[file_id] = manifest["pieces"]
    used: dict[str, int] = {}
    for shard, row, count in (piece for pieces in finished.values() for piece in pieces):
        used[Path(shard).name] = max(used.get(Path(shard).name, 0), row + count)
    todo = [s for s in mine if s.file_id not in finished]
    writer = shards.ShardWriter(
        cache / "shards", shard_segments, (config.segment_frames, config.n_mels), used
    )
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_segments_of, todo, repeat(cache), repeat(config), repeat(exr))
        for source, (segments, error) in tqdm(
            zip(todo, results, strict=True), total=len(todo), desc="prepare", unit="file"
        ):
            pieces = writer.append(segments) if len(segments) else []
            manifest = {
                "source": str(source.path),
                "error": error,
                "segments": len(segments),
                "exr": exr,
                "pieces": [[f"shards/{name}", row, count] for name, row, count in pieces],
            }
            _write_json(manifests[source.file_id], manifest)
    writer.close()
    summary = _write_index(cache, mine, skipped, config)
    _write_json(part_path, {**json.loads(part_path.read_text()), "finished": True})
    return summary


def _write_index(
    cache: Path, sources: Iterable[SourceFile], skipped: list, config: mel.MelConfig
) -> dict:
    rows = []
    for source in sources:
        manifest = json.loads((cache / "files" / f"{source.file_id}.json").read_text())
        if manifest["error"]:
            skipped.append((source.path, manifest["error"]))
        elif not manifest["segments"]:
            skipped.append((source.path, "shorter than one segment"))
        index = 0
        for shard, first_row, count in manifest["pieces"]:
            for row in range(first_row, first_row + count):
                exr = f"segments/{source.file_id}_{index:04d}.exr" if manifest["exr"] else ""
                first_frame = index * config.segment_frames
                rows.append(
                    {
                        "segment": exr,
                        "source": str(source.path),
                        "offset_s": round(config.frames_to_seconds(first_frame), 4),
                        "label": source.label,
                        "file_id": source.file_id,
                        "split": source.split,
                        "shard": shard,
                        "row": row,
                    }
                )
                index += 1
    _write_table(cache / "index.csv", INDEX_FIELDS, rows)
    _write_table(
        cache / "skipped.csv",
        ["path", "reason"],
        [{"path": str(path), "reason": reason} for path, reason in skipped],
    )
    return {
        "segments": len(rows),
        "files": len({row["file_id"] for row in rows}),
        "skipped": len(skipped),
        "labels": sorted({row["label"] for row in rows}),
        "shards": len({row["shard"] for row in rows}),
    }


def _write_table(path: Path, fields: list[str], rows: list[dict]) -> None:
    table = StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, table.getvalue())


def merge(parts: Sequence[Path], out: Path) -> dict:
    """Join the caches of ``prepare(part=(K, N))`` for K = 1 … N into one cache ``out``.

    Checks first, and writes nothing if a check fails: every part finished, the
    N parts each given once, all made from the same corpus with the same mel
    parameters and shard size, no file in two parts, every shard the index
    names present with the right shape. Shards are hard-linked into
    ``out/shards`` (copied across file systems) as ``pK-NNNNN.npy``.
    """
    parts = [Path(p) for p in parts]
    described = []
    for folder in parts:
        if not (folder / "part.json").exists():
            raise ValueError(f"{folder} is no prepared part (no part.json): run prepare first")
        described.append(json.loads((folder / "part.json").read_text()))
    first = described[0]
    for folder, info in zip(parts, described, strict=True):
        name = f"part {info['part']}/{info['parts']} ({folder})"
        if not info["finished"]:
            raise ValueError(f"{name} is unfinished: rerun its prepare command to complete it")
        for key in ("parts", "corpus_key", "shard_segments"):
            if info[key] != first[key]:
                raise ValueError(
                    f"{name} differs from {parts[0]} in {key}: prepare every part from the same "
                    "folders and metadata with the same options"
                )
        if (folder / "mel_config.json").read_text() != (parts[0] / "mel_config.json").read_text():
            raise ValueError(f"{name} was prepared with other mel parameters than {parts[0]}")
    numbers = sorted(info["part"] for info in described)
    expected = list(range(1, first["parts"] + 1))
    if numbers != expected:
        missing = sorted(set(expected) - set(numbers))
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        raise ValueError(
            f"need parts 1 … {first['parts']} once each; "
            + (f"missing {missing} " if missing else "")
            + (f"given twice {twice}" if twice else "")
        )
    if sum(info["files"] for info in described) != first["corpus_files"]:
        raise ValueError("the parts do not add up to the corpus: prepare them again")
    rows, skipped, seen, links = [], [], {}, {}
    for folder, info in zip(parts, described, strict=True):
        part_rows = read_index(folder)
        for file_id in {row["file_id"] for row in part_rows}:
            if file_id in seen:
                raise ValueError(f"a file is in both {seen[file_id]} and {folder}")
            seen[file_id] = folder
        for shard in sorted({row["shard"] for row in part_rows}):
            capacity = shards.header(folder / shard)[1][0]
            if capacity != first["shard_segments"]:
                raise ValueError(f"{folder / shard} is damaged: prepare that part again")
        for row in part_rows:
            for kind in ("shard", "segment"):
                if row[kind]:  # shards/00000.npy of part 2 → shards/p2-00000.npy
                    path = Path(row[kind])
                    renamed = str(path.with_name(f"p{info['part']}-{path.name}"))
                    links[renamed] = folder / row[kind]
                    row[kind] = renamed
        rows += part_rows
        with open(folder / "skipped.csv", newline="") as handle:
            skipped += list(csv.DictReader(handle))
    for renamed, original in links.items():
        (out / renamed).parent.mkdir(parents=True, exist_ok=True)
        _link(original, out / renamed)
    shutil.copyfile(parts[0] / "mel_config.json", out / "mel_config.json")
    _write_table(out / "index.csv", INDEX_FIELDS, rows)
    _write_table(out / "skipped.csv", ["path", "reason"], skipped)
    return {
        "parts": len(parts),
        "segments": len(rows),
        "files": len(seen),
        "skipped": len(skipped),
        "labels": sorted({row["label"] for row in rows}),
        "shards": len({row["shard"] for row in rows}),
    }


def _link(source: Path, target: Path) -> None:
    """``target`` becomes ``source`` (a hard link, or a copy across file systems)."""
    if target.exists():
        if target.samefile(source):
            return
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def read_index(cache: Path) -> list[dict]:
    return list(iter_index(cache))


def iter_index(cache: Path) -> Iterator[dict]:
    """The rows of ``index.csv`` one at a time (a large corpus's index is not held)."""
    with open(Path(cache) / "index.csv", newline="") as handle:
        yield from csv.DictReader(handle)


def split_files(
    files: dict[str, str], validation_fraction: float = 0.1
) -> tuple[set[str], set[str]]:
    """Training and validation file ids of ``files`` (file id → FMA split or ""),
    deterministically; no file in both.

    With FMA's split for every file, its ``training`` and ``validation`` tracks
    are used as they are (``test`` is in neither). Otherwise a hash of the id
    puts about ``validation_fraction`` of the files in validation, and a tiny
    data set holds out at least one file.
    """
    if files and all(files.values()):
        train = {f for f, split in files.items() if split == "training"}
        validation = {f for f, split in files.items() if split == "validation"}
        if train and validation:
            return train, validation

    def is_validation(file_id: str) -> bool:
        bucket = int(hashlib.sha1(file_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return bucket < validation_fraction

    validation = {f for f in files if is_validation(f)}
    if not validation or len(validation) == len(files):
        ordered = sorted(files)
        validation = set(ordered[: max(1, len(ordered) // 10)]) if len(ordered) > 1 else set()
    return set(files) - validation, validation


def split_by_file(rows: list[dict], validation_fraction: float = 0.1) -> tuple[list, list]:
    """Train/validation rows, split by source file (:func:`split_files`); with a single
    file, its last segment validates."""
    files = {row["file_id"]: row.get("split", "") for row in rows}
    training, validation = split_files(files, validation_fraction)
    train = [row for row in rows if row["file_id"] in training]
    return train, [row for row in rows if row["file_id"] in validation] or train[-1:]


def read_segments(cache: Path, rows: Sequence[dict], *, progress: str | None = None) -> np.ndarray:
    """The segments of index ``rows``, float32 ``[len(rows), n_mels, segment_frames]``, read
    from the shards (a cache prepared with or without OpenEXR files); ``progress``: the name
    of a progress bar over the rows, none when ``None``."""
    reader = shards.ShardReader(cache)
    segment_frames = reader.shape(rows[0]["shard"])[1]
    shown = tqdm(rows, desc=progress, leave=False, disable=progress is None)
    return np.stack(
        [reader.frames(r["shard"], int(r["row"]) * segment_frames, segment_frames).T for r in shown]
    ).astype(np.float32)


class TrackStore:
    """The training tracks of a cache, read crop by crop from its shards: nothing of the
    corpus is held in RAM or mapped, so memory does not grow with the corpus.

    A track is one file's segments end to end within one shard (a file that
    continues in the next shard is two tracks). ``starts``: each track's first
    frame in its shard; ``lengths``: its frames; ``labels``: its label.
    """

    def __init__(self, cache: Path, rows: Iterable[dict]) -> None:
        """``rows``: index rows in the index's order (a file's segments one after another),
        e.g. streamed from :func:`iter_index`; they are not kept."""
        self.reader = shards.ShardReader(cache)
        runs: list[list] = []  # [shard, first row, rows, label, file id]
        for row in rows:
            last = runs[-1] if runs else None
            if (
                last is not None
                and (last[0], last[4]) == (row["shard"], row["file_id"])
                and last[1] + last[2] == int(row["row"])
            ):
                last[2] += 1
            else:
                runs.append([row["shard"], int(row["row"]), 1, row["label"], row["file_id"]])
        _, self.segment_frames, self.n_mels = self.reader.shape(runs[0][0])
        self.shards = [run[0] for run in runs]
        self.starts = np.array([run[1] for run in runs], dtype=np.int64) * self.segment_frames
        self.lengths = np.array([run[2] for run in runs], dtype=np.int64) * self.segment_frames
        self.labels: list[str] = [run[3] for run in runs]

    def __len__(self) -> int:
        return len(self.starts)

    def crop(self, track: int, start: int, frames: int) -> np.ndarray:
        """Frames ``start … start + frames`` of one track, float32 ``[n_mels, frames]``."""
        first = int(self.starts[track]) + start
        return self.reader.frames(self.shards[track], first, frames).T.astype(np.float32)

    def plan_crops(
        self, count: int, frames: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where ``count`` random crops are: tracks (weighted by length) and start frames."""
        room = np.maximum(self.lengths - frames + 1, 0)
        tracks = rng.choice(len(self), size=count, p=room / room.sum())
        return tracks, rng.integers(0, room[tracks])

    def read_raw(self, tracks: np.ndarray, starts: np.ndarray, frames: int) -> np.ndarray:
        """The planned crops as stored, float16 ``[len(tracks), frames, n_mels]`` (the
        conversion is left to the training device)."""
        crops = np.empty((len(tracks), frames, self.n_mels), np.float16)
        for k, (track, start) in enumerate(zip(tracks, starts, strict=True)):
            first = int(self.starts[track]) + int(start)
            crops[k] = self.reader.frames(self.shards[track], first, frames)
        return crops

    def read_crops(self, tracks: np.ndarray, starts: np.ndarray, frames: int) -> np.ndarray:
        """The planned crops, float32 ``[len(tracks), n_mels, frames]``."""
        return self.read_raw(tracks, starts, frames).transpose(0, 2, 1).astype(np.float32)

    def random_crops(self, count: int, frames: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` random crops ``[count, n_mels, frames]``, tracks weighted by length."""
        return self.read_crops(*self.plan_crops(count, frames, rng), frames)


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
