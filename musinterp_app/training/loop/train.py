"""``train``: fit a VAE on a prepared cache, by steps, with checkpoints that resume exactly.

Training reads tracks crop by crop from the cache's shards
(:class:`data.TrackStore`; memory does not grow with the corpus) and draws
fresh random crops every step, augmented (gain, an EQ tilt, and sometimes a
second crop mixed in the power domain). Everything is scheduled in steps, not
minutes, so a run reproduces on any machine: the learning rate warms up
linearly, then follows a cosine down to a tenth of ``lr`` at ``steps``; the KL
weight warms up over ``warmup_steps``. A checkpoint holds the weights, the
optimiser and both random generators, so ``--resume`` continues the same
schedule with the same data order as an uninterrupted run.

The same code runs as one process or as N under ``torchrun`` (PyTorch DDP,
:mod:`distributed`): ``batch`` is the global batch, each process computes its
slice, and only rank 0 validates and writes the run folder. A checkpoint does
not depend on the number of processes, so ``--resume`` works with any.

Validation uses a fixed, label-balanced set of 5-s segments drawn from all
held-out source files; its cost is logged (``validation_share``) and stays a
few percent of the run. Everything that defines the run (model, mel
parameters, options, data) is kept in ``RUN/config.json``, which ``export``
reads back.
"""

import csv
import json
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from musinterp_app.audio import mel
from musinterp_app.training.dataset import data
from musinterp_app.training.dataset.corpus import open_corpus
from musinterp_app.training.evaluation import metrics
from musinterp_app.training.loop import distributed
from musinterp_app.training.networks import losses
from musinterp_app.training.networks.models import ModelConfig, build, parameter_count

LOG_FIELDS = [
    "step",
    "minutes",
    "lr",
    "loss",
    "recon_db",
    "detail",
    "convergence",
    "kl",
    "beta",
    "val_mae_db",
    "val_detail_ratio",
    "baseline_db",
    "validation_share",
]


@dataclass
class TrainOptions:
    arch: str = "hybrid"
    width: int = 256
    planes: int = 16
    latent_channels: int = 64
    time_reduction: int = 4
    batch: int = 16
    crop_frames: int = 160
    steps: int = 12_000
    lr: float = 6e-4  # for a global batch of ``lr_batch``; see ``learning_rate``
    lr_batch: int = 16
    lr_warmup_steps: int = 300
    beta: float = 1e-3
    warmup_steps: int = 2000  # KL weight ramp
    coarse_weight: float = 0.5
    detail_weight: float = 1.0
    convergence_weight: float = 0.1
    gain_db: float = 6.0  # augmentation: random gain within ±gain_db
    tilt_db: float = 6.0  # augmentation: EQ tilt, lowest to highest band, within ±tilt_db
    mix_probability: float = 0.25  # augmentation: a second crop mixed in (power domain)
    validate_every: int = 400
    validation_segments: int = 96
    seed: int = 0
    threads: int = 0  # 0: all cores


# Options that may differ between the first run and a --resume (they do not change the result).
RESUMABLE_OVERRIDES = ("threads",)


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


def plan_batch(
    store: data.TrackStore, options: TrainOptions, rng: np.random.Generator
) -> BatchPlan:
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
    options: TrainOptions,
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


class ReparameterisedVAE(torch.nn.Module):
    """Encode, draw the latent from the posterior, decode: the forward pass DDP wraps."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, batch: torch.Tensor, noise: Callable[[torch.Size], torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``batch`` ``[B, n_mels, frames]`` → decoded, mu, logvar; ``noise(shape)`` gives
        the standard normal draws for a latent of ``shape``."""
        mu, logvar = self.model.encode(batch)
        latent = mu + noise(mu.shape).to(mu.device) * torch.exp(0.5 * logvar)
        return self.model.decode(latent), mu, logvar


def training_step(
    vae: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: torch.Tensor,
    noise: Callable[[torch.Size], torch.Tensor],
    *,
    weights: losses.LossWeights,
    beta: float,
    config: mel.MelConfig,
    mixed_precision: bool = False,
) -> dict[str, torch.Tensor]:
    """One update of ``vae`` (a :class:`ReparameterisedVAE`, DDP-wrapped or not) on ``batch``
    ``[B, n_mels, frames]``: every loss term, backward, clipped AdamW step.
    Returns the loss and its terms (detached scalars)."""
    with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=mixed_precision):
        decoded, mu, logvar = vae(batch, noise)
        terms = losses.reconstruction_terms(decoded.float(), batch, config)
        kl = losses.kl_divergence(mu.float(), logvar.float())
        loss = losses.total(terms, weights) + beta * kl
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
    optimizer.step()
    return {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items()}, "kl": kl.detach()}


def learning_rate(step: int, options: TrainOptions) -> float:
    """Linear warm-up over ``lr_warmup_steps``, then a cosine to a tenth at ``steps``.

    The peak is ``lr`` scaled by √(batch ÷ ``lr_batch``), the square-root rule for
    Adam-type optimisers: a larger global batch averages out more noise, so it takes a
    larger step (the default batch 16 runs at ``lr`` itself).
    """
    peak = options.lr * math.sqrt(options.batch / options.lr_batch)
    if step < options.lr_warmup_steps:
        return peak * (step + 1) / options.lr_warmup_steps
    progress = min(
        1.0, (step - options.lr_warmup_steps) / max(1, options.steps - options.lr_warmup_steps)
    )
    return peak * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def validate(
    model: torch.nn.Module, segments: np.ndarray, config: mel.MelConfig
) -> tuple[float, float]:
    """Median log-mel MAE (dB) and band-to-band detail ratio of decoded posterior means."""
    model.eval()
    device = next(model.parameters()).device
    decoded = []
    for first in range(0, len(segments), 16):
        mu, _ = model.encode(torch.from_numpy(segments[first : first + 16]).to(device))
        decoded.append(model.decode(mu).cpu().numpy())
    model.train()
    decoded = np.concatenate(decoded)[..., : segments.shape[-1]]
    mae = float(np.median(metrics.mae_db(decoded, segments, config)))
    ratio = float(np.median(metrics.detail_ratio(decoded, segments, config, axis="bands")))
    return mae, ratio


def save_atomically(state: dict, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename: a killed run leaves the old file."""
    temporary = path.with_suffix(".part")
    torch.save(state, temporary)
    os.replace(temporary, path)


def resume_options(saved: dict, requested: Any) -> Any:
    """The saved run's options (a dataclass of ``requested``'s type); a request that would
    change the result is refused; ``threads`` may change."""
    kind = type(requested)
    options, defaults = kind(**saved), kind()
    for option in fields(kind):
        wanted = getattr(requested, option.name)
        if option.name in RESUMABLE_OVERRIDES:
            setattr(options, option.name, wanted)
        elif wanted != getattr(defaults, option.name) and wanted != getattr(options, option.name):
            raise ValueError(
                f"--{option.name.replace('_', '-')} {wanted} differs from the run being resumed "
                f"({getattr(options, option.name)}); resume with the same options, or use a "
                "new --out"
            )
    return options


def train(
    cache: Path,
    run: Path,
    options: TrainOptions,
    *,
    resume: bool = False,
    stop_after_steps: int | None = None,
    progress: bool = True,
) -> dict:
    """Train into ``run`` (checkpoint.pt, best.pt, log.csv, config.json); returns a summary.

    ``stop_after_steps`` ends this call early (at that step) without changing
    the schedule: a later ``resume`` continues exactly where it stopped. Under
    ``torchrun`` every process calls this; rank 0 alone reads and writes ``run``.
    """
    context = distributed.start()
    try:
        return _train(context, Path(cache), Path(run), options, resume, stop_after_steps, progress)
    finally:
        distributed.stop(context)


def _train(
    context: distributed.Context,
    cache: Path,
    run: Path,
    options: TrainOptions,
    resume: bool,
    stop_after_steps: int | None,
    progress: bool,
) -> dict:
    config_path, checkpoint_path = run / "config.json", run / "checkpoint.pt"
    saved, state = None, None
    if context.is_main:
        run.mkdir(parents=True, exist_ok=True)
        if resume and config_path.exists() and checkpoint_path.exists():
            saved = json.loads(config_path.read_text())
            state = torch.load(checkpoint_path, weights_only=True, map_location="cpu")
    saved, state = context.share((saved, state))
    resuming = saved is not None
    if resuming:
        options = resume_options(saved["options"], options)
    part = context.part(options.batch)
    if options.threads:
        torch.set_num_threads(options.threads)
    corpus = open_corpus(cache)
    mel_config, store = corpus.mel_config, corpus.store
    crop_frames = options.crop_frames if options.arch != "conv2d" else mel_config.segment_frames
    options.crop_frames = crop_frames
    if int(store.lengths.max()) < crop_frames:
        raise ValueError(f"no training track in {cache} is {crop_frames} frames long")
    if resuming:
        model_config = ModelConfig(**saved["model"])
    else:
        band_mean, band_std = context.share(band_statistics(store) if context.is_main else None)
        model_config = ModelConfig(
            arch=options.arch,
            n_mels=mel_config.n_mels,
            latent_channels=options.latent_channels,
            width=options.width,
            planes=options.planes,
            time_reduction=options.time_reduction,
            segment_frames=mel_config.segment_frames,
            band_mean=band_mean,
            band_std=band_std,
        )
    if context.is_main:
        validation, data_summary = corpus.validation(options.validation_segments)
        config_path.write_text(
            json.dumps(
                {
                    "model": model_config.to_dict(),
                    "mel": mel_config.to_dict(),
                    "options": asdict(options),
                    "data": data_summary,
                    "processes": context.world_size,
                },
                indent=2,
            )
        )

    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    noise_rng = torch.Generator().manual_seed(options.seed)
    model = build(model_config).to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=1e-4)
    weights = losses.LossWeights(
        coarse=options.coarse_weight,
        detail=options.detail_weight,
        convergence=options.convergence_weight,
    )
    step, elapsed_s, validation_s, best_db = 0, 0.0, 0.0, float("inf")
    if resuming:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_s, best_db = state["step"], state["elapsed_s"], state["best_db"]
        validation_s = state["validation_s"]
        noise_rng.set_state(state["noise_rng"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
    vae = context.wrap(ReparameterisedVAE(model))

    def noise(shape: torch.Size) -> torch.Tensor:
        """This process's rows of the global batch's latent noise."""
        return torch.randn((options.batch, *shape[1:]), generator=noise_rng)[part]

    log_path = run / "log.csv"
    if context.is_main:
        baseline_db = float(
            np.median(metrics.mae_db(metrics.mean_spectrum(validation), validation, mel_config))
        )
        start_log(log_path, step if resuming else None)
    last_step = min(options.steps, stop_after_steps or options.steps)
    first_step, validation_before_s = step, validation_s
    store.reader.bytes_read = 0  # from here: what the training steps read
    started = time.monotonic() - elapsed_s
    bar = tqdm(
        total=options.steps,
        initial=step,
        unit="step",
        desc=options.arch,
        disable=not (progress and context.is_main),
    )
    data_s = 0.0
    reader = ThreadPoolExecutor(max_workers=1)  # reads the next step's crops during this one
    pin = context.device.type == "cuda"

    def next_batch() -> tuple[BatchPlan, Future]:
        plan = plan_batch(store, options, rng)
        return plan, reader.submit(read_batch, store, plan, part, options.crop_frames, pin)

    upcoming = next_batch() if step < last_step else None
    while step < last_step:
        data_started = time.monotonic()
        plan, reading = upcoming
        crops = reading.result()
        upcoming = next_batch() if step + 1 < last_step else None
        batch = augment(plan, *crops, part, mel_config, context.device)
        data_s += time.monotonic() - data_started
        beta = options.beta * min(1.0, step / max(1, options.warmup_steps))
        lr = learning_rate(step, options)
        for group in optimizer.param_groups:
            group["lr"] = lr
        terms = training_step(
            vae,
            optimizer,
            batch,
            noise,
            weights=weights,
            beta=beta,
            config=mel_config,
        )
        step += 1
        bar.update(1)
        validating = step % options.validate_every == 0 or step == options.steps
        if validating:  # the whole global batch's values: the mean over the processes
            means = context.mean(torch.stack(list(terms.values()))).tolist()
            terms = dict(zip(terms, means, strict=True))
        if context.is_main and validating:
            validation_started = time.monotonic()
            val_db, val_ratio = validate(model, validation, mel_config)
            validation_s += time.monotonic() - validation_started
            now = time.monotonic() - started
            with open(log_path, "a", newline="") as log_file:
                csv.DictWriter(log_file, fieldnames=LOG_FIELDS).writerow(
                    {
                        "step": step,
                        "minutes": round(now / 60, 2),
                        "lr": f"{lr:.3g}",
                        "loss": round(terms["loss"], 5),
                        "recon_db": round(terms["l1"] * mel_config.norm_scale_db, 3),
                        "detail": round(terms["detail"], 4),
                        "convergence": round(terms["convergence"], 4),
                        "kl": round(terms["kl"], 4),
                        "beta": f"{beta:.3g}",
                        "val_mae_db": round(val_db, 3),
                        "val_detail_ratio": round(val_ratio, 3),
                        "baseline_db": round(baseline_db, 3),
                        "validation_share": round(validation_s / max(now, 1e-9), 4),
                    }
                )
            bar.set_postfix(val_db=f"{val_db:.2f}", detail=f"{val_ratio:.2f}")
            if val_db < best_db:
                best_db = val_db
                save_atomically({"model": model.state_dict(), "step": step}, run / "best.pt")
        if context.is_main and (step % options.validate_every == 0 or step == last_step):
            save_atomically(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": step,
                    "elapsed_s": time.monotonic() - started,
                    "validation_s": validation_s,
                    "best_db": best_db,
                    "noise_rng": noise_rng.get_state(),
                    "numpy_rng": plan.rng_after,  # not the generator's: it drew ahead
                },
                checkpoint_path,
            )
    bar.close()
    reader.shutdown()
    training_s = time.monotonic() - started - elapsed_s - (validation_s - validation_before_s)
    if context.is_main and not (run / "best.pt").exists():  # too short to validate even once
        best_db, _ = validate(model, validation, mel_config)
        save_atomically({"model": model.state_dict(), "step": step}, run / "best.pt")
    return {
        "steps": step,
        "best_val_mae_db": round(best_db, 3),
        "baseline_db": round(baseline_db, 3) if context.is_main else None,
        "parameters": parameter_count(model),
        "processes": context.world_size,
        "step_s": round(training_s / max(1, step - first_step), 4),  # this call, no validation
        "data_s": round(data_s / max(1, step - first_step), 4),  # of step_s: read and augment
        "bytes_read_per_step": store.reader.bytes_read // max(1, step - first_step),  # this rank
    }


def start_log(path: Path, resumed_step: int | None, columns: list[str] = LOG_FIELDS) -> None:
    """A new ``log.csv`` with ``columns``, or the resumed run's without the lines logged after
    its checkpoint (a run killed between the two)."""
    kept = []
    if resumed_step is not None and path.exists():
        with open(path, newline="") as log_file:
            kept = [row for row in csv.DictReader(log_file) if int(row["step"]) <= resumed_step]
    with open(path, "w", newline="") as log_file:
        writer = csv.DictWriter(log_file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(kept)
