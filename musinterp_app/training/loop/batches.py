"""The batches both training stages read: random crops of the cache's tracks, augmented.

Every random draw of a global batch is made up front (:class:`BatchPlan`), the same in
every process, so the generator moves the same way under DDP and a checkpoint can keep
its state as it was after the step; each process then reads only its rows. ``options``
is either stage's options: ``batch``, ``crop_frames``, ``gain_db``, ``tilt_db`` and
``mix_probability`` are read.
"""

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from musinterp_app.audio import mel
from musinterp_app.training.dataset import data


def band_statistics(
    store: data.TrackStore, max_frames: int = 1 << 20, block_frames: int = 4096
) -> tuple[list[float], list[float]]:
    """Mean and standard deviation of every mel band, over the tracks (up to ``max_frames``
    of them, whole tracks in a fixed random order), read block by block from disk."""
    total, total_square, counted = np.zeros(store.n_mels), np.zeros(store.n_mels), 0
    for track in np.random.default_rng(0).permutation(len(store)):
        for first in range(0, int(store.lengths[track]), block_frames):
            frames = min(block_frames, int(store.lengths[track]) - first)
            block = store.crop(int(track), first, frames).astype(np.float64)  # [n_mels, frames]
            total += block.sum(axis=1)
            total_square += (block**2).sum(axis=1)
            counted += frames
        if counted >= max_frames:
            break
    mean = total / counted
    square = total_square / counted
    return mean.tolist(), np.sqrt(np.maximum(square - mean**2, 1e-6)).tolist()


@dataclass(frozen=True)
class BatchPlan:
    """Every random draw of one global batch, the same in every process: which crops
    (track, first frame), their gain and tilt (dB, ``[batch, 1, 1]``), which rows get a
    second crop mixed in, those crops and their gain."""

    tracks: np.ndarray
    starts: np.ndarray
    gain_db: np.ndarray
    tilt_db: np.ndarray
    mixed: np.ndarray
    other_tracks: np.ndarray
    other_starts: np.ndarray
    other_gain_db: np.ndarray
    rng_after: str  # the generator's state once drawn: what a checkpoint after this step keeps

    def rows(self, part: slice) -> tuple[np.ndarray, np.ndarray]:
        """The global rows of ``part`` and which of the mixed rows are among them."""
        rows = np.arange(len(self.tracks))[part]
        return rows, np.isin(self.mixed, rows)


def plan_batch(store: data.TrackStore, options: Any, rng: np.random.Generator) -> BatchPlan:
    """Draw the plan of the next global batch of ``options.batch``."""
    count, frames = options.batch, options.crop_frames
    tracks, starts = store.plan_crops(count, frames, rng)
    gain_db = rng.uniform(-options.gain_db, options.gain_db, (count, 1, 1))
    tilt_db = rng.uniform(-options.tilt_db, options.tilt_db, (count, 1, 1))
    mixed = np.flatnonzero(rng.random(count) < options.mix_probability)
    other_tracks, other_starts = store.plan_crops(len(mixed), frames, rng)
    other_gain_db = rng.uniform(-12.0, 0.0, (len(mixed), 1, 1))
    return BatchPlan(
        tracks, starts, gain_db, tilt_db, mixed, other_tracks, other_starts, other_gain_db,
        rng_after=json.dumps(rng.bit_generator.state),
    )  # fmt: skip


def read_batch(
    store: data.TrackStore, plan: BatchPlan, part: slice, frames: int, pin: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's crops of ``plan`` and the crops mixed into them, as stored (float16
    ``[count, frames, n_mels]``), read on the CPU; in page-locked memory when ``pin``
    (for an asynchronous copy to a GPU)."""
    rows, mine = plan.rows(part)
    crops = store.read_raw(plan.tracks[rows], plan.starts[rows], frames)
    others = store.read_raw(plan.other_tracks[mine], plan.other_starts[mine], frames)
    tensors = torch.from_numpy(crops), torch.from_numpy(others)
    return tuple(t.pin_memory() for t in tensors) if pin else tensors


def augment(
    plan: BatchPlan,
    crops: torch.Tensor,
    others: torch.Tensor,
    part: slice,
    config: mel.MelConfig,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The read crops with their gain, tilt and mixes, normalised log-mel
    ``[rows, n_mels, frames]`` on ``device`` (on a GPU this costs next to nothing).
    All changes are made to the mel power (silence stays silent), as
    :func:`mel.normalised_to_power` and :func:`mel.power_to_normalised` do."""
    rows, mine = plan.rows(part)

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(array, dtype=np.float32)).to(device)

    def to_power(raw: torch.Tensor) -> torch.Tensor:
        normalised = raw.to(device, non_blocking=True).float().transpose(1, 2)
        decibels = (normalised * config.norm_scale_db + config.norm_offset_db).nan_to_num(
            config.floor_db
        )
        decibels = decibels.clamp(config.floor_db, mel.CEILING_DB)
        return torch.where(decibels <= config.floor_db + 1e-3, 0.0, 10.0 ** (decibels / 10.0))

    power = to_power(crops)
    ramp = torch.linspace(-0.5, 0.5, power.shape[1], device=device)[None, :, None]
    power *= 10.0 ** ((tensor(plan.gain_db[rows]) + tensor(plan.tilt_db[rows]) * ramp) / 10.0)
    if mine.any():
        mixed_in = to_power(others) * 10.0 ** (tensor(plan.other_gain_db[mine]) / 10.0)
        power[torch.from_numpy(plan.mixed[mine] - rows[0]).to(device)] += mixed_in
    decibels = 10.0 * torch.log10(power.clamp_min(10.0 ** (config.floor_db / 10.0)))
    return (decibels - config.norm_offset_db) / config.norm_scale_db


def augmented_batch(
    store: data.TrackStore,
    options: Any,
    config: mel.MelConfig,
    rng: np.random.Generator,
    part: slice = slice(None),
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Rows ``part`` of a global batch of random crops with random gain, tilt and mixes,
    ``[rows, n_mels, crop_frames]`` on ``device``: plan, read, augment in one call.

    Every draw is made for the whole global batch of ``options.batch`` (so ``rng``
    moves the same way in every process); only the part's crops are read.
    """
    plan = plan_batch(store, options, rng)
    crops = read_batch(store, plan, part, options.crop_frames)
    return augment(plan, *crops, part, config, device)
