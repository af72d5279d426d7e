"""Fixed-size float16 shards of log-mel segments: what ``prepare`` writes and ``train`` reads.

A shard ``shards/NAME.npy`` holds up to ``capacity`` segments, float16
``[capacity, segment_frames, n_mels]``: time-major, so the segments of one
file, written one after another, are one contiguous run of frames, and a
training crop is one read. A file's segments continue in the next shard when
one fills. A shard is created at its full size (sparse on disk until written);
which rows hold data is known from the file manifests, which are written only
after the rows they list are flushed, so an interrupted ``prepare`` resumes
after the last finished file and overwrites whatever a killed one left.

Reading goes through :class:`ShardReader` (``os.pread`` of the frames asked
for): nothing is memory-mapped or cached by the reader, so a training
process's memory does not grow with the corpus.
"""

import os
from pathlib import Path

import numpy as np

SHARD_SEGMENTS = 2048  # segments per shard: 2048 × 640 × 512 × 2 bytes = 1.34 GB


class ShardWriter:
    """Appends the segments of one file after another into ``folder/NNNNN.npy`` shards."""

    def __init__(
        self, folder: Path, capacity: int, segment_shape: tuple[int, int], used: dict[str, int]
    ) -> None:
        """``segment_shape``: ``(segment_frames, n_mels)``; ``used``: rows already holding
        data per shard file name (from the manifests of finished files)."""
        self.folder, self.capacity, self.segment_shape = Path(folder), capacity, segment_shape
        self.folder.mkdir(parents=True, exist_ok=True)
        self.names = sorted(used)
        self.position = used[self.names[-1]] if self.names else capacity
        self.array: np.memmap | None = None

    def _next_shard(self) -> None:
        # after the last shard in use: one past it was left by a killed run, if it exists
        name = f"{int(Path(self.names[-1]).stem) + 1 if self.names else 0:05d}.npy"
        shape = (self.capacity, *self.segment_shape)
        path = self.folder / name
        if path.exists():  # no finished file has rows in it
            path.unlink()
        self.array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape)
        self.names.append(name)
        self.position = 0

    def append(self, segments: np.ndarray) -> list[list]:
        """Write ``[count, segment_frames, n_mels]``; returns where they went:
        ``[[shard name, first row, count], …]`` (more than one piece when a shard fills)."""
        pieces, done = [], 0
        while done < len(segments):
            if self.position >= self.capacity:
                self._next_shard()
            elif self.array is None:
                path = self.folder / self.names[-1]
                self.array = np.lib.format.open_memmap(path, mode="r+")
            count = min(len(segments) - done, self.capacity - self.position)
            self.array[self.position : self.position + count] = segments[done : done + count]
            pieces.append([self.names[-1], self.position, count])
            self.position += count
            done += count
            if self.position >= self.capacity:
                self.close()
        if self.array is not None:
            self.array.flush()
        return pieces

    def close(self) -> None:
        if self.array is not None:
            self.array.flush()
            self.array = None


def header(path: Path) -> tuple[int, tuple[int, ...]]:
    """Byte offset of the data in a shard and its shape ``(capacity, segment_frames, n_mels)``."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        if dtype != np.float16 or len(shape) != 3:
            raise ValueError(f"{path} is no segment shard (float16 [segments, frames, n_mels])")
        return handle.tell(), shape


class ShardReader:
    """Reads runs of frames out of the shards of one cache, float16 ``[frames, n_mels]``."""

    def __init__(self, cache: Path) -> None:
        self.cache = Path(cache)
        self._headers: dict[str, tuple[int, tuple[int, ...]]] = {}
        self.bytes_read = 0  # counts what was asked of the disk, for the scaling plan

    def shape(self, shard: str) -> tuple[int, ...]:
        return self._header(shard)[1]

    def _header(self, shard: str) -> tuple[int, tuple[int, ...]]:
        if shard not in self._headers:
            self._headers[shard] = header(self.cache / shard)
        return self._headers[shard]

    def frames(self, shard: str, first_frame: int, count: int) -> np.ndarray:
        """Frames ``first_frame … first_frame + count`` of a shard (segments end to end)."""
        offset, (_, _, n_mels) = self._header(shard)
        size = count * n_mels * 2
        descriptor = os.open(self.cache / shard, os.O_RDONLY)
        try:
            raw = os.pread(descriptor, size, offset + first_frame * n_mels * 2)
        finally:
            os.close(descriptor)
        if len(raw) != size:
            raise ValueError(f"{self.cache / shard} is shorter than its index says; prepare again")
        self.bytes_read += size
        return np.frombuffer(raw, dtype=np.float16).reshape(count, n_mels)
