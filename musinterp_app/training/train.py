"""``train``: fit a VAE on a prepared cache, by steps, with checkpoints that resume exactly.

Training reads memory-mapped tracks (:class:`data.TrackStore`) and draws
fresh random crops every step, augmented (gain, an EQ tilt, and sometimes a
second crop mixed in the power domain). Everything is scheduled in steps, not
minutes, so a run reproduces on any machine: the learning rate warms up
linearly, then follows a cosine down to a tenth of ``lr`` at ``steps``; the KL
weight warms up over ``warmup_steps``. A checkpoint holds the weights, the
optimiser and both random generators, so ``--resume`` continues the same
schedule with the same data order as an uninterrupted run.

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
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from musinterp_app.audio import mel
from musinterp_app.training import data, losses, metrics
from musinterp_app.training.models import ModelConfig, build, parameter_count

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
    lr: float = 6e-4
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


def band_statistics(store: data.TrackStore) -> tuple[list[float], list[float]]:
    """Mean and standard deviation of every mel band over the stored tracks."""
    n_mels = store.frames.shape[1]
    total, total_square = np.zeros(n_mels), np.zeros(n_mels)
    for first in range(0, len(store.frames), 65536):  # block by block: the store is on disk
        block = np.asarray(store.frames[first : first + 65536], dtype=np.float64)
        total += block.sum(axis=0)
        total_square += (block**2).sum(axis=0)
    mean = total / len(store.frames)
    square = total_square / len(store.frames)
    return mean.tolist(), np.sqrt(np.maximum(square - mean**2, 1e-6)).tolist()


def augmented_batch(
    store: data.TrackStore, options: TrainOptions, config: mel.MelConfig, rng: np.random.Generator
) -> np.ndarray:
    """A batch of random crops ``[batch, n_mels, crop_frames]`` with random gain, tilt and mixes.

    All changes are made to the mel power (silence stays silent), then the
    result is turned back into normalised log-mel.
    """
    crops = store.random_crops(options.batch, options.crop_frames, rng)
    power = mel.normalised_to_power(crops, config)
    n_mels = crops.shape[1]
    gain_db = rng.uniform(-options.gain_db, options.gain_db, (len(crops), 1, 1))
    tilt_db = rng.uniform(-options.tilt_db, options.tilt_db, (len(crops), 1, 1))
    ramp = np.linspace(-0.5, 0.5, n_mels)[None, :, None]
    power *= (10.0 ** ((gain_db + tilt_db * ramp) / 10.0)).astype(np.float32)
    mixed = np.flatnonzero(rng.random(len(crops)) < options.mix_probability)
    if len(mixed):
        others = store.random_crops(len(mixed), options.crop_frames, rng)
        other_gain = 10.0 ** (rng.uniform(-12.0, 0.0, (len(mixed), 1, 1)) / 10.0)
        power[mixed] += mel.normalised_to_power(others, config) * other_gain.astype(np.float32)
    return mel.power_to_normalised(power, config)


def learning_rate(step: int, options: TrainOptions) -> float:
    """Linear warm-up over ``lr_warmup_steps``, then a cosine to ``lr / 10`` at ``steps``."""
    if step < options.lr_warmup_steps:
        return options.lr * (step + 1) / options.lr_warmup_steps
    progress = min(
        1.0, (step - options.lr_warmup_steps) / max(1, options.steps - options.lr_warmup_steps)
    )
    return options.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def validate(
    model: torch.nn.Module, segments: np.ndarray, config: mel.MelConfig
) -> tuple[float, float]:
    """Median log-mel MAE (dB) and band-to-band detail ratio of decoded posterior means."""
    model.eval()
    decoded = []
    for first in range(0, len(segments), 16):
        mu, _ = model.encode(torch.from_numpy(segments[first : first + 16]))
        decoded.append(model.decode(mu).numpy())
    model.train()
    decoded = np.concatenate(decoded)[..., : segments.shape[-1]]
    mae = float(np.median(metrics.mae_db(decoded, segments, config)))
    ratio = float(np.median(metrics.detail_ratio(decoded, segments, config, axis="bands")))
    return mae, ratio


def _save_atomically(state: dict, path: Path) -> None:
    temporary = path.with_suffix(".part")
    torch.save(state, temporary)
    os.replace(temporary, path)


def _resume_options(saved: dict, requested: TrainOptions) -> TrainOptions:
    """The saved run's options; a request that would change the result is refused."""
    options = TrainOptions(**saved)
    defaults = TrainOptions()
    for option in fields(TrainOptions):
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
    the schedule: a later ``resume`` continues exactly where it stopped.
    """
    cache, run = Path(cache), Path(run)
    run.mkdir(parents=True, exist_ok=True)
    config_path = run / "config.json"
    resuming = resume and config_path.exists() and (run / "checkpoint.pt").exists()
    if resuming:
        saved = json.loads(config_path.read_text())
        options = _resume_options(saved["options"], options)
    if options.threads:
        torch.set_num_threads(options.threads)
    mel_config = mel.MelConfig.from_dict(json.loads((cache / "mel_config.json").read_text()))
    rows = data.read_index(cache)
    if not rows:
        raise ValueError(f"{cache} holds no segments; run prepare first")
    train_rows, validation_rows = data.split_by_file(rows)
    store = data.TrackStore(cache, train_rows)
    crop_frames = options.crop_frames if options.arch != "conv2d" else mel_config.segment_frames
    options.crop_frames = crop_frames
    if int(store.lengths.max()) < crop_frames:
        raise ValueError(f"no training track in {cache} is {crop_frames} frames long")
    chosen = data.balanced_validation(validation_rows, options.validation_segments)
    validation = np.stack([data.read_exr(cache / r["segment"]) for r in chosen]).astype(np.float32)
    if resuming:
        model_config = ModelConfig(**saved["model"])
    else:
        band_mean, band_std = band_statistics(store)
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
    labels = sorted({row["label"] for row in rows})
    config_path.write_text(
        json.dumps(
            {
                "model": model_config.to_dict(),
                "mel": mel_config.to_dict(),
                "options": asdict(options),
                "data": {
                    "cache": str(cache.resolve()),
                    "labels": labels,
                    "train_files": len(store),
                    "validation_files": len({r["file_id"] for r in validation_rows}),
                    "train_minutes": round(
                        mel_config.frames_to_seconds(int(store.lengths.sum())) / 60, 1
                    ),
                    "validation_segments": len(chosen),
                    "validation_labels": sorted({r["label"] for r in chosen}),
                },
            },
            indent=2,
        )
    )

    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    model = build(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=1e-4)
    weights = losses.LossWeights(
        coarse=options.coarse_weight,
        detail=options.detail_weight,
        convergence=options.convergence_weight,
    )
    step, elapsed_s, validation_s, best_db = 0, 0.0, 0.0, float("inf")
    checkpoint_path = run / "checkpoint.pt"
    if resuming:
        state = torch.load(checkpoint_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_s, best_db = state["step"], state["elapsed_s"], state["best_db"]
        validation_s = state["validation_s"]
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
    baseline_db = float(
        np.median(metrics.mae_db(metrics.mean_spectrum(validation), validation, mel_config))
    )
    log_path = run / "log.csv"
    if not resuming or not log_path.exists():
        with open(log_path, "w", newline="") as log_file:
            csv.DictWriter(log_file, fieldnames=LOG_FIELDS).writeheader()
    else:  # drop lines logged after the checkpoint (a run killed between the two)
        with open(log_path, newline="") as log_file:
            kept = [row for row in csv.DictReader(log_file) if int(row["step"]) <= step]
        with open(log_path, "w", newline="") as log_file:
            writer = csv.DictWriter(log_file, fieldnames=LOG_FIELDS)
            writer.writeheader()
            writer.writerows(kept)
    last_step = min(options.steps, stop_after_steps or options.steps)
    started = time.monotonic() - elapsed_s
    bar = tqdm(
        total=options.steps, initial=step, unit="step", desc=options.arch, disable=not progress
    )
    with open(log_path, "a", newline="") as log_file:
        log = csv.DictWriter(log_file, fieldnames=LOG_FIELDS)
        while step < last_step:
            batch = torch.from_numpy(augmented_batch(store, options, mel_config, rng))
            mu, logvar = model.encode(batch)
            latent = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            terms = losses.reconstruction_terms(model.decode(latent), batch, mel_config)
            kl = losses.kl_divergence(mu, logvar)
            beta = options.beta * min(1.0, step / max(1, options.warmup_steps))
            lr = learning_rate(step, options)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = losses.total(terms, weights) + beta * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            bar.update(1)
            if step % options.validate_every == 0 or step == options.steps:
                validation_started = time.monotonic()
                val_db, val_ratio = validate(model, validation, mel_config)
                validation_s += time.monotonic() - validation_started
                now = time.monotonic() - started
                log.writerow(
                    {
                        "step": step,
                        "minutes": round(now / 60, 2),
                        "lr": f"{lr:.3g}",
                        "loss": round(loss.item(), 5),
                        "recon_db": round(float(terms["l1"]) * mel_config.norm_scale_db, 3),
                        "detail": round(float(terms["detail"]), 4),
                        "convergence": round(float(terms["convergence"]), 4),
                        "kl": round(float(kl), 4),
                        "beta": f"{beta:.3g}",
                        "val_mae_db": round(val_db, 3),
                        "val_detail_ratio": round(val_ratio, 3),
                        "baseline_db": round(baseline_db, 3),
                        "validation_share": round(validation_s / max(now, 1e-9), 4),
                    }
                )
                log_file.flush()
                bar.set_postfix(val_db=f"{val_db:.2f}", detail=f"{val_ratio:.2f}")
                if val_db < best_db:
                    best_db = val_db
                    _save_atomically({"model": model.state_dict(), "step": step}, run / "best.pt")
            if step % options.validate_every == 0 or step == last_step:
                _save_atomically(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "step": step,
                        "elapsed_s": time.monotonic() - started,
                        "validation_s": validation_s,
                        "best_db": best_db,
                        "torch_rng": torch.get_rng_state(),
                        "numpy_rng": json.dumps(rng.bit_generator.state),
                    },
                    checkpoint_path,
                )
    bar.close()
    if not (run / "best.pt").exists():  # too short to validate even once
        best_db, _ = validate(model, validation, mel_config)
        _save_atomically({"model": model.state_dict(), "step": step}, run / "best.pt")
    return {
        "steps": step,
        "best_val_mae_db": round(best_db, 3),
        "baseline_db": round(baseline_db, 3),
        "parameters": parameter_count(model),
    }
