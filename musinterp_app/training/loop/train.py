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

import json
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from musinterp_app.audio import mel
from musinterp_app.training.dataset.corpus import Corpus, open_corpus
from musinterp_app.training.evaluation import metrics
from musinterp_app.training.loop import distributed
from musinterp_app.training.loop.batches import (
    BatchPlan,
    augment,
    band_statistics,
    plan_batch,
    read_batch,
)
from musinterp_app.training.loop.options import StageOptions
from musinterp_app.training.loop.run_folder import (
    append_log,
    read_saved,
    resume_options,
    save_atomically,
    start_log,
    write_config,
)
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
    "val_convergence_db",
    "baseline_db",
    "validation_share",
]


@dataclass
class TrainOptions(StageOptions):
    arch: str = "hybrid"
    width: int = 256
    planes: int = 16
    latent_channels: int = 64
    time_reduction: int = 4
    steps: int = 12_000
    lr: float = 6e-4  # for a global batch of ``lr_batch``; see ``learning_rate``
    lr_batch: int = 16
    lr_warmup_steps: int = 300
    beta: float = 1e-3
    warmup_steps: int = 2000  # KL weight ramp


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
) -> tuple[float, float, float]:
    """Median log-mel MAE (dB), band-to-band detail ratio and mel spectral convergence (dB)
    of decoded posterior means."""
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
    convergence = float(np.median(metrics.convergence_db(decoded, segments, config)))
    return mae, ratio, convergence


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


@dataclass
class _Run:
    """One stage-1 run as it goes: what it trains, on what, and how far it got. Rank 0
    alone holds the validation set and the mean-spectrum baseline."""

    folder: Path
    options: TrainOptions
    corpus: Corpus
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    weights: losses.LossWeights
    rng: np.random.Generator
    noise_rng: torch.Generator
    resumed: bool
    step: int = 0
    elapsed_s: float = 0.0
    validation_s: float = 0.0
    best_db: float = float("inf")
    validation: np.ndarray | None = None
    baseline_db: float | None = None


def _set_up(
    context: distributed.Context, cache: Path, folder: Path, options: TrainOptions, resume: bool
) -> _Run:
    """Open the cache, write ``config.json`` (rank 0), build the model and optimiser, and
    restore the checkpoint's state when resuming."""
    if context.is_main:
        folder.mkdir(parents=True, exist_ok=True)
    saved, state = context.share(read_saved(folder, resume) if context.is_main else None)
    if saved is not None:
        options = resume_options(saved["options"], options)
    if options.threads:
        torch.set_num_threads(options.threads)
    corpus = open_corpus(cache)
    mel_config, store = corpus.mel_config, corpus.store
    if options.arch == "conv2d":
        options.crop_frames = mel_config.segment_frames
    if int(store.lengths.max()) < options.crop_frames:
        raise ValueError(f"no training track in {cache} is {options.crop_frames} frames long")
    if saved is not None:
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
    validation = None
    if context.is_main:
        validation, data_summary = corpus.validation(options.validation_segments)
        write_config(
            folder,
            {
                "model": model_config.to_dict(),
                "mel": mel_config.to_dict(),
                "options": asdict(options),
                "data": data_summary,
                "processes": context.world_size,
            },
        )
    torch.manual_seed(options.seed)
    model = build(model_config).to(context.device)
    run = _Run(
        folder=folder,
        options=options,
        corpus=corpus,
        model=model,
        optimizer=torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=1e-4),
        weights=options.loss_weights(),
        rng=np.random.default_rng(options.seed),
        noise_rng=torch.Generator().manual_seed(options.seed),
        resumed=saved is not None,
        validation=validation,
    )
    if state is not None:
        model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.step, run.elapsed_s, run.best_db = state["step"], state["elapsed_s"], state["best_db"]
        run.validation_s = state["validation_s"]
        run.noise_rng.set_state(state["noise_rng"])
        run.rng.bit_generator.state = json.loads(state["numpy_rng"])
    if context.is_main:
        run.baseline_db = float(
            np.median(metrics.mae_db(metrics.mean_spectrum(validation), validation, mel_config))
        )
        start_log(folder / "log.csv", run.step if run.resumed else None, LOG_FIELDS)
    return run


def _validate_and_log(
    run: _Run, terms: dict[str, float], lr: float, beta: float, started: float
) -> tuple[float, float]:
    """Validate (rank 0), log the line, and keep ``best.pt`` when the MAE improved; returns
    the validation's MAE (dB) and detail ratio. ``started``: the run's start on
    ``time.monotonic()``'s clock, earlier sessions included."""
    mel_config = run.corpus.mel_config
    validation_started = time.monotonic()
    val_db, val_ratio, val_convergence = validate(run.model, run.validation, mel_config)
    run.validation_s += time.monotonic() - validation_started
    now_s = time.monotonic() - started
    append_log(
        run.folder / "log.csv",
        LOG_FIELDS,
        {
            "step": run.step,
            "minutes": round(now_s / 60, 2),
            "lr": f"{lr:.3g}",
            "loss": round(terms["loss"], 5),
            "recon_db": round(terms["l1"] * mel_config.norm_scale_db, 3),
            "detail": round(terms["detail"], 4),
            "convergence": round(terms["convergence"], 4),
            "kl": round(terms["kl"], 4),
            "beta": f"{beta:.3g}",
            "val_mae_db": round(val_db, 3),
            "val_detail_ratio": round(val_ratio, 3),
            "val_convergence_db": round(val_convergence, 2),
            "baseline_db": round(run.baseline_db, 3),
            "validation_share": round(run.validation_s / max(now_s, 1e-9), 4),
        },
    )
    if val_db < run.best_db:
        run.best_db = val_db
        save_atomically({"model": run.model.state_dict(), "step": run.step}, run.folder / "best.pt")
    return val_db, val_ratio


def _save_checkpoint(run: _Run, elapsed_s: float, rng_after: str) -> None:
    """``checkpoint.pt``: weights, optimiser and both generators, so a resume repeats the
    uninterrupted run; ``rng_after`` is the numpy generator's state after the last step's
    draws (the generator itself has drawn the next step's already)."""
    save_atomically(
        {
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "step": run.step,
            "elapsed_s": elapsed_s,
            "validation_s": run.validation_s,
            "best_db": run.best_db,
            "noise_rng": run.noise_rng.get_state(),
            "numpy_rng": rng_after,
        },
        run.folder / "checkpoint.pt",
    )


def _train(
    context: distributed.Context,
    cache: Path,
    folder: Path,
    options: TrainOptions,
    resume: bool,
    stop_after_steps: int | None,
    progress: bool,
) -> dict:
    run = _set_up(context, cache, folder, options, resume)
    options, store, mel_config = run.options, run.corpus.store, run.corpus.mel_config
    part = context.part(options.batch)
    vae = context.wrap(ReparameterisedVAE(run.model))

    def noise(shape: torch.Size) -> torch.Tensor:
        """This process's rows of the global batch's latent noise."""
        return torch.randn((options.batch, *shape[1:]), generator=run.noise_rng)[part]

    last_step = min(options.steps, stop_after_steps or options.steps)
    first_step, validation_before_s = run.step, run.validation_s
    store.reader.bytes_read = 0  # from here: what the training steps read
    started = time.monotonic() - run.elapsed_s
    shown = progress and context.is_main
    bar = tqdm(
        total=options.steps, initial=run.step, unit="step", desc=options.arch, disable=not shown
    )
    data_s = 0.0
    reader = ThreadPoolExecutor(max_workers=1)  # reads the next step's crops during this one
    pin = context.device.type == "cuda"

    def next_batch() -> tuple[BatchPlan, Future]:
        plan = plan_batch(store, options, run.rng)
        return plan, reader.submit(read_batch, store, plan, part, options.crop_frames, pin)

    upcoming = next_batch() if run.step < last_step else None
    while run.step < last_step:
        data_started = time.monotonic()
        plan, reading = upcoming
        crops = reading.result()
        upcoming = next_batch() if run.step + 1 < last_step else None
        batch = augment(plan, *crops, part, mel_config, context.device)
        data_s += time.monotonic() - data_started
        beta = options.beta * min(1.0, run.step / max(1, options.warmup_steps))
        lr = learning_rate(run.step, options)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        terms = training_step(
            vae, run.optimizer, batch, noise, weights=run.weights, beta=beta, config=mel_config
        )
        run.step += 1
        bar.update(1)
        validating = run.step % options.validate_every == 0 or run.step == options.steps
        if validating:  # the whole global batch's values: the mean over the processes
            means = context.mean(torch.stack(list(terms.values()))).tolist()
            terms = dict(zip(terms, means, strict=True))
        if context.is_main and validating:
            val_db, val_ratio = _validate_and_log(run, terms, lr, beta, started)
            bar.set_postfix(val_db=f"{val_db:.2f}", detail=f"{val_ratio:.2f}")
        if context.is_main and (run.step % options.validate_every == 0 or run.step == last_step):
            _save_checkpoint(run, time.monotonic() - started, plan.rng_after)
    bar.close()
    reader.shutdown()
    steps_run = max(1, run.step - first_step)
    training_s = time.monotonic() - started - run.elapsed_s
    training_s -= run.validation_s - validation_before_s
    if context.is_main and not (folder / "best.pt").exists():  # too short to validate once
        run.best_db, _, _ = validate(run.model, run.validation, mel_config)
        save_atomically({"model": run.model.state_dict(), "step": run.step}, folder / "best.pt")
    return {
        "steps": run.step,
        "best_val_mae_db": round(run.best_db, 3),
        "baseline_db": round(run.baseline_db, 3) if context.is_main else None,
        "parameters": parameter_count(run.model),
        "processes": context.world_size,
        "step_s": round(training_s / steps_run, 4),  # this call, no validation
        "data_s": round(data_s / steps_run, 4),  # of step_s: read and augment
        "bytes_read_per_step": store.reader.bytes_read // steps_run,  # this rank
    }
