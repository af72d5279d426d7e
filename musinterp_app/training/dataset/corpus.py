"""A prepared cache opened for training (stage 1 and stage 2): its mel parameters, the training
tracks read crop by crop, and a bounded, label-balanced validation set."""

import hashlib
import heapq
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musinterp_app.audio import mel
from musinterp_app.training.dataset import data

# Validation rows held per label while choosing the validation set: memory stays bounded
# however large the corpus (a smaller corpus keeps all its rows: the same choice as ever).
VALIDATION_ROWS_PER_LABEL = 4096


@dataclass
class Corpus:
    """A prepared cache opened for training: its mel parameters, the training tracks (read
    crop by crop), and which files validate."""

    cache: Path
    mel_config: mel.MelConfig
    store: data.TrackStore
    training_files: set[str]
    validation_files: set[str]
    labels: set[str]

    def validation(self, count: int) -> tuple[np.ndarray, dict]:
        """Up to ``count`` label-balanced 5-s validation segments ``[count, n_mels, frames]``
        (one file alone: its last segment) and a summary of the data for ``config.json``."""
        cap = max(count, VALIDATION_ROWS_PER_LABEL)
        kept: dict[str, list] = {}  # label → heap of (−hash, order, row): its `cap` lowest
        last_training_row = []
        for order, row in enumerate(data.iter_index(self.cache)):
            if row["file_id"] in self.validation_files:
                digest = hashlib.sha1(f"{row['file_id']}/{row['segment']}".encode()).digest()
                entry = (-int.from_bytes(digest[:8], "big"), order, row)
                heap = kept.setdefault(row["label"], [])
                (heapq.heappush if len(heap) < cap else heapq.heappushpop)(heap, entry)
            elif row["file_id"] in self.training_files:
                last_training_row = [row]
        # At most `cap` rows per label are held (a fixed pseudo-random choice), not every
        # validation row of a large corpus; the balanced choice is made among them.
        rows = [row for heap in kept.values() for _, _, row in sorted(heap, key=lambda e: e[1])]
        chosen = data.balanced_validation(rows or last_training_row, count)
        summary = {
            "cache": str(self.cache.resolve()),
            "labels": sorted(self.labels),
            "train_files": len(self.training_files),
            "validation_files": len(self.validation_files),
            "train_minutes": round(
                self.mel_config.frames_to_seconds(int(self.store.lengths.sum())) / 60, 1
            ),
            "validation_segments": len(chosen),
            "validation_labels": sorted({r["label"] for r in chosen}),
        }
        return data.read_segments(self.cache, chosen), summary


def open_corpus(cache: Path) -> Corpus:
    """Open ``cache`` for training; the index is streamed, so a large corpus's rows are
    never held. Raises ``ValueError`` for an empty cache or one without shards."""
    mel_config = mel.MelConfig.from_dict(json.loads((cache / "mel_config.json").read_text()))
    files, labels = {}, set()
    for row in data.iter_index(cache):
        if not row.get("shard"):
            raise ValueError(
                f"{cache} was prepared before segment shards existed; run the same prepare "
                "command on it again (it adds the shards, keeping what is there)"
            )
        files[row["file_id"]] = row["split"]
        labels.add(row["label"])
    if not files:
        raise ValueError(f"{cache} holds no segments; run prepare first")
    training, validation = data.split_files(files)
    store = data.TrackStore(cache, (r for r in data.iter_index(cache) if r["file_id"] in training))
    return Corpus(cache, mel_config, store, training, validation, labels)
