"""``train``: fit a VAE on a prepared cache, with checkpoints that resume.

Training reads whole tracks into memory and draws fresh random crops every
step (not a fixed set of segments seen again and again). Validation uses the
cached 5-s segments of held-out source files. Everything that defines the
run (model, mel parameters, options, data) is kept in ``RUN/config.json``,
which ``export`` reads back.

The learning rate follows a cosine from ``lr`` down to a tenth of it over
the time budget (``--minutes``). Loss: L1 between the decoded and the true
normalised log-mel, with the prediction clamped at the floor (the app treats
anything below it as silence, so errors there do not matter), plus β·KL with
a linear warm-up.
"""

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from musinterp_app.audio import mel
from musinterp_app.training import data, metrics
from musinterp_app.training.models import ModelConfig, build, parameter_count

LOG_FIELDS = ["step", "minutes", "loss", "recon_db", "kl", "beta", "val_mae_db", "baseline_db"]


@dataclass
class TrainOptions:
    arch: str = "conv1d"
    width: int = 240
    latent_channels: int = 64
    time_reduction: int = 8
    batch: int = 16
    crop_frames: int = 320
    lr: float = 3e-4
    beta: float = 1e-3
    warmup_steps: int = 2000
    minutes: float = 60.0
    max_steps: int = 1_000_000
    validate_every: int = 250
    seed: int = 0
    threads: int = 0  # 0: all cores


def band_statistics(tracks: list[np.ndarray]) -> tuple[list[float], list[float]]:
    """Mean and standard deviation of every mel band over the training tracks."""
    total = sum(track.shape[1] for track in tracks)
    mean = sum(track.astype(np.float64).sum(axis=1) for track in tracks) / total
    square = sum((track.astype(np.float64) ** 2).sum(axis=1) for track in tracks) / total
    return mean.tolist(), np.sqrt(np.maximum(square - mean**2, 1e-6)).tolist()


def random_crops(
    tracks: list[np.ndarray], count: int, frames: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` random crops ``[count, n_mels, frames]`` float32, tracks weighted by length."""
    lengths = np.array([track.shape[1] - frames + 1 for track in tracks], dtype=np.float64)
    weights = np.maximum(lengths, 0) / np.maximum(lengths, 0).sum()
    chosen = rng.choice(len(tracks), size=count, p=weights)
    crops = np.empty((count, tracks[0].shape[0], frames), np.float32)
    for row, index in enumerate(chosen):
        start = rng.integers(0, tracks[index].shape[1] - frames + 1)
        crops[row] = tracks[index][:, start : start + frames]
    return crops


@torch.no_grad()
def validate(model: torch.nn.Module, segments: np.ndarray, config: mel.MelConfig) -> float:
    """Mean reconstruction error (dB) of the decoded posterior means of ``[N, n_mels, frames]``."""
    model.eval()
    errors = []
    for first in range(0, len(segments), 16):
        batch = torch.from_numpy(segments[first : first + 16])
        mu, _ = model.encode(batch)
        errors.append(metrics.mae_db(model.decode(mu).numpy(), batch.numpy(), config))
    model.train()
    return float(np.concatenate(errors).mean())


def _save_atomically(state: dict, path: Path) -> None:
    temporary = path.with_suffix(".part")
    torch.save(state, temporary)
    os.replace(temporary, path)


def train(cache: Path, run: Path, options: TrainOptions, *, resume: bool = False) -> dict:
    """Train into ``run`` (checkpoint.pt, best.pt, log.csv, config.json); returns a summary."""
    cache, run = Path(cache), Path(run)
    run.mkdir(parents=True, exist_ok=True)
    if options.threads:
        torch.set_num_threads(options.threads)
    mel_config = mel.MelConfig.from_dict(json.loads((cache / "mel_config.json").read_text()))
    rows = data.read_index(cache)
    if not rows:
        raise ValueError(f"{cache} holds no segments; run prepare first")
    train_rows, validation_rows = data.split_by_file(rows)
    tracks = [t for t in data.load_tracks(cache, train_rows) if t.shape[1] >= options.crop_frames]
    validation = np.stack([data.read_exr(cache / r["segment"]) for r in validation_rows]).astype(
        np.float32
    )
    config_path = run / "config.json"
    if resume and config_path.exists():
        saved = json.loads(config_path.read_text())
        model_config = ModelConfig(**saved["model"])
        options = TrainOptions(
            **{**saved["options"], "minutes": options.minutes, "max_steps": options.max_steps}
        )
    else:
        band_mean, band_std = band_statistics(tracks)
        model_config = ModelConfig(
            arch=options.arch,
            n_mels=mel_config.n_mels,
            latent_channels=options.latent_channels,
            width=options.width,
            time_reduction=options.time_reduction,
            segment_frames=mel_config.segment_frames,
            floor=mel_config.floor_normalised,
            band_mean=band_mean,
            band_std=band_std,
        )
    crop_frames = options.crop_frames if options.arch == "conv1d" else mel_config.segment_frames
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
                    "train_files": len({r["file_id"] for r in train_rows}),
                    "validation_files": len({r["file_id"] for r in validation_rows}),
                    "train_minutes": round(
                        mel_config.frames_to_seconds(sum(t.shape[1] for t in tracks)) / 60, 1
                    ),
                    "validation_segments": len(validation_rows),
                },
            },
            indent=2,
        )
    )

    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    model = build(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=1e-4)
    step, elapsed_s, best_db = 0, 0.0, float("inf")
    checkpoint_path = run / "checkpoint.pt"
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_s, best_db = state["step"], state["elapsed_s"], state["best_db"]
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
    baseline_db = float(
        metrics.mae_db(metrics.mean_spectrum(validation), validation, mel_config).mean()
    )
    log_path = run / "log.csv"
    new_log = not (resume and log_path.exists())
    with open(log_path, "w" if new_log else "a", newline="") as log_file:
        log = csv.DictWriter(log_file, fieldnames=LOG_FIELDS)
        if new_log:
            log.writeheader()
        started = time.monotonic() - elapsed_s
        budget_s = options.minutes * 60
        bar = tqdm(total=int(budget_s), initial=int(elapsed_s), unit="s", desc=options.arch)
        floor = torch.tensor(mel_config.floor_normalised)
        while step < options.max_steps and time.monotonic() - started < budget_s:
            batch = torch.from_numpy(random_crops(tracks, options.batch, crop_frames, rng))
            mu, logvar = model.encode(batch)
            latent = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            decoded = model.decode(latent)
            recon = (decoded.clamp_min(floor) - batch).abs().mean()
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean()
            beta = options.beta * min(1.0, step / max(1, options.warmup_steps))
            progress = min(1.0, (time.monotonic() - started) / budget_s)
            for group in optimizer.param_groups:  # cosine decay to a tenth over the time budget
                group["lr"] = options.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))
            loss = recon + beta * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            now = time.monotonic() - started
            bar.update(int(now) - bar.n)
            if step % options.validate_every == 0:
                val_db = validate(model, validation, mel_config)
                log.writerow(
                    {
                        "step": step,
                        "minutes": round(now / 60, 2),
                        "loss": round(float(loss), 5),
                        "recon_db": round(float(recon) * mel_config.norm_scale_db, 3),
                        "kl": round(float(kl), 4),
                        "beta": beta,
                        "val_mae_db": round(val_db, 3),
                        "baseline_db": round(baseline_db, 3),
                    }
                )
                log_file.flush()
                bar.set_postfix(val_db=f"{val_db:.2f}", ratio=f"{val_db / baseline_db:.3f}")
                if val_db < best_db:
                    best_db = val_db
                    _save_atomically({"model": model.state_dict(), "step": step}, run / "best.pt")
                _save_atomically(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "step": step,
                        "elapsed_s": now,
                        "best_db": best_db,
                        "torch_rng": torch.get_rng_state(),
                        "numpy_rng": json.dumps(rng.bit_generator.state),
                    },
                    checkpoint_path,
                )
        bar.close()
    if not (run / "best.pt").exists():  # too short to validate even once
        best_db = validate(model, validation, mel_config)
        _save_atomically({"model": model.state_dict(), "step": step}, run / "best.pt")
    return {
        "steps": step,
        "best_val_mae_db": round(best_db, 3),
        "baseline_db": round(baseline_db, 3),
        "parameters": parameter_count(model),
    }
