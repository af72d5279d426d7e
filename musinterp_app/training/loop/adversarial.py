"""``adversarial``: stage 2, the decoder trained against a discriminator, the encoder frozen.

Stage 1 (:mod:`train`) leaves a decoder that averages the spectra it is unsure
of. Stage 2 starts from a finished model (a model folder's ONNX graphs, read
back by :mod:`warm_start`, or a stage-1 run) and trains only its decoder, with
the stage-1 reconstruction terms kept and three more (:mod:`critics`):

- a hinge loss against a multi-scale patch discriminator on the log-mel;
- feature matching: the discriminator's features of each decode pulled toward
  those of its real crop;
- with ``interpolation_weight`` > 0, the interpolation critic: decodes of latents
  blended between two crops of the batch (lerp or slerp, α drawn in
  ``[ALPHA_LOW, 1 − ALPHA_LOW]``) are fakes for the discriminator too
  (``critic="fake"``), or a second network learns to tell how far between the ends
  they lie and the decoder is pushed to make it answer 0 (``critic="alpha"``,
  ACAI's form), so the decoder learns to make what lies between two pieces look
  like music.

The adversarial part is weighed adaptively (the VQGAN / AudioLDM rule): the
decodes' adversarial and feature-matching gradient at the decoder's last layer
is scaled to ``adversarial_weight`` times the reconstruction's, so one weight
works whatever the loss scales; the interpolation critic's term gets its own
weight, scaled the same way to ``adversarial_weight × interpolation_weight``.
(Weighed together with the decodes' term, it shrank their push: on the default
model, band detail rose 0.40 → 0.42 in 100 adversarial steps against 0.47
without the critic. Riding on the decodes' weight instead, it was pushed 100×
harder whenever the decodes' gradient was small: the log-mel MAE rose 18 % in
200 steps.)

The encoder is never handed to an optimiser and runs without gradients, so its
weights stay bit-identical: latents, the prior and even steps keep working.
The discriminator learns alone for ``discriminator_warmup_steps`` first.
Checkpoints hold every network (the discriminator, the α critic when there is one), their
optimisers and every random generator, so
``--resume`` continues exactly. ``best.pt`` is the validation with the most
band-to-band detail whose log-mel MAE stays within ``MAE_GUARD`` of the start's and whose
spectral convergence is no worse than the start's (the start itself until a validation
beats it): sharper, but not at the cost of the partials Griffin-Lim must match.
One process (stage 2 is short; DDP is stage 1's).
"""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from musinterp_app.audio import mel
from musinterp_app.training.dataset.corpus import Corpus, open_corpus
from musinterp_app.training.evaluation import metrics
from musinterp_app.training.loop.batches import augmented_batch
from musinterp_app.training.loop.options import StageOptions
from musinterp_app.training.loop.run_folder import (
    append_log,
    read_saved,
    resume_options,
    save_atomically,
    start_log,
    write_config,
)
from musinterp_app.training.networks import critics, losses
from musinterp_app.training.networks.models import ModelConfig, build
from musinterp_app.training.networks.warm_start import model_from_folder

ALPHA_LOW = 0.2  # interpolants are drawn with α in [0.2, 0.8]: the ends are plain decodes
ANCHOR_SHARE = 0.2  # ACAI's γ: the α critic's anchors are 0.2 · real + 0.8 · decode
CRITICS = ("fake", "alpha")  # how the interpolation critic judges interpolants
MAE_GUARD = 1.05  # best.pt may not lose more than 5 % of the start's log-mel MAE
DECODER_PREFIXES = ("decoder", "from_latent")  # every architecture's decoder parameters
LOG_FIELDS = [
    "step",
    "minutes",
    "lr",
    "recon",
    "generator",
    "feature_matching",
    "interpolation",  # the critic's term: a hinge score ("fake"), a squared estimate ("alpha")
    "discriminator",
    "alpha_critic",
    "adaptive_weight",
    "interpolation_adaptive_weight",
    "val_mae_db",
    "val_detail_ratio",
    "val_frame_detail_ratio",
    "val_convergence_db",
    "val_interpolation_share",
]


@dataclass
class AdversarialOptions(StageOptions):
    batch: int = 8
    validate_every: int = 200
    steps: int = 4000
    lr: float = 1e-4  # the decoder's (AdamW, constant after a linear warm-up)
    lr_warmup_steps: int = 100
    discriminator_lr: float = 2e-4
    discriminator_channels: int = 8
    discriminator_warmup_steps: int = 200
    adversarial_weight: float = 0.5  # the adversarial gradient ÷ the reconstruction's
    feature_weight: float = 2.0
    interpolation_weight: float = 0.2  # of adversarial_weight; 0: no interpolation critic
    critic: str = "fake"  # one of CRITICS
    # The posterior draws' scale in the decodes trained on: 1, as stage 1 trained the decoder
    # (it learns to expect that noise, and to average over it); 0, the means the app decodes.
    posterior_noise: float = 1.0

    def __post_init__(self) -> None:
        if self.critic not in CRITICS:
            raise ValueError(f"critic {self.critic!r}: choose one of {', '.join(CRITICS)}")
        if self.critic == "alpha" and self.interpolation_weight == 0:
            raise ValueError("--critic alpha needs an --interpolation-weight above 0")


def start_model(start: Path) -> tuple[torch.nn.Module, ModelConfig, dict]:
    """The VAE stage 2 starts from: a model folder (``encoder.onnx`` …) or a stage-1 run
    folder (``best.pt``), with its config and a note of where it came from."""
    start = Path(start)
    if (start / "encoder.onnx").exists():
        model, config, metadata = model_from_folder(start)
        return model, config, {"model_folder": str(start), "model_id": metadata["model_id"]}
    if (start / "best.pt").exists():
        saved = json.loads((start / "config.json").read_text())
        config = ModelConfig(**saved["model"])
        model = build(config)
        state = torch.load(start / "best.pt", weights_only=True, map_location="cpu")
        model.load_state_dict(state["model"])
        return model, config, {"run": str(start), "step": state["step"]}
    raise ValueError(f"{start} is neither a model folder (encoder.onnx) nor a run (best.pt)")


def decoder_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The decoder's parameters, in registration order (the output layer's last)."""
    return [p for n, p in model.named_parameters() if n.startswith(DECODER_PREFIXES)]


def encoder_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every weight and buffer that is not the decoder's: what stage 2 keeps."""
    return {
        n: t.detach().clone()
        for n, t in model.state_dict().items()
        if not n.startswith(DECODER_PREFIXES)
    }


def validation_scores(
    model: torch.nn.Module, segments: np.ndarray, config: mel.MelConfig
) -> dict[str, float]:
    """Medians over ``segments`` ``[N, n_mels, frames]``: log-mel MAE (dB), band and frame
    detail ratios and the mel magnitudes' spectral convergence (dB) of the decodes, and the
    interpolation share at α = 0.5 (slerp) of neighbouring pairs."""
    with torch.no_grad():
        latents = [model.encode(torch.from_numpy(s[None]))[0] for s in segments]
        decoded = np.concatenate([model.decode(z).numpy() for z in latents])
        half = torch.tensor([0.5])
        spherical = torch.tensor([True])
        middles = np.concatenate(
            [
                model.decode(critics.blend_latents(a, b, half, spherical)).numpy()
                for a, b in zip(latents[0::2], latents[1::2], strict=False)
            ]
        )
    frames = segments.shape[-1]
    decoded, middles = decoded[..., :frames], middles[..., :frames]
    pairs = len(middles)
    shares = metrics.interpolation_share(
        middles, decoded[0 : 2 * pairs : 2], decoded[1 : 2 * pairs : 2],
        segments[0 : 2 * pairs : 2], segments[1 : 2 * pairs : 2], 0.5, config,
    )  # fmt: skip
    return {
        "val_mae_db": float(np.median(metrics.mae_db(decoded, segments, config))),
        "val_detail_ratio": float(
            np.median(metrics.detail_ratio(decoded, segments, config, axis="bands"))
        ),
        "val_frame_detail_ratio": float(
            np.median(metrics.detail_ratio(decoded, segments, config, axis="frames"))
        ),
        "val_convergence_db": float(np.median(metrics.convergence_db(decoded, segments, config))),
        "val_interpolation_share": float(np.median(shares)),
    }


class Stage2:
    """One adversarial update at a time of a VAE's decoder, its discriminator and, with
    ``critic="alpha"``, its α critic."""

    def __init__(
        self, model: torch.nn.Module, options: AdversarialOptions, config: mel.MelConfig
    ) -> None:
        self.model, self.options, self.config = model, options, config
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name.startswith(DECODER_PREFIXES))
        self.discriminator = critics.MultiScaleDiscriminator(options.discriminator_channels)
        betas = (0.5, 0.9)  # the usual GAN setting: less momentum than AdamW's default
        self.decoder_optimizer = torch.optim.AdamW(
            decoder_parameters(model), lr=options.lr, betas=betas, weight_decay=1e-4
        )
        self.discriminator_optimizer = torch.optim.AdamW(
            self.discriminator.parameters(), lr=options.discriminator_lr, betas=betas
        )
        self.alpha_critic = self.alpha_critic_optimizer = None
        if options.critic == "alpha":  # (the options refuse it without an interpolation weight)
            self.alpha_critic = critics.MultiScaleDiscriminator(options.discriminator_channels)
            self.alpha_critic_optimizer = torch.optim.AdamW(
                self.alpha_critic.parameters(), lr=options.discriminator_lr, betas=betas
            )
        self.last_layer = [p for p in decoder_parameters(model) if p.dim() > 1][-1]
        self.steps_done = 0
        self.weights = options.loss_weights()

    def _standard(self, normalised: torch.Tensor) -> torch.Tensor:
        """Log-mel ``[B, n_mels, frames]`` as the critics see it: floor-clamped and
        band-standardised, as the VAE's own input is."""
        return self.model.norm(normalised.clamp_min(self.config.floor_normalised))

    def judge(self, normalised: torch.Tensor) -> list:
        """The discriminator's outputs for log-mel ``[B, n_mels, frames]``."""
        return self.discriminator(self._standard(normalised))

    def estimate_alpha(self, normalised: torch.Tensor) -> torch.Tensor:
        """The α critic's estimate ``[B]`` of how far between two pieces each log-mel
        ``[B, n_mels, frames]`` lies (0: one piece; 0.5: halfway)."""
        return critics.alpha_estimates(self.alpha_critic(self._standard(normalised)))

    def step(
        self, batch: torch.Tensor, noise: torch.Tensor, alpha: torch.Tensor, spherical: torch.Tensor
    ) -> dict[str, float]:
        """One update on ``batch`` ``[B, n_mels, frames]``; ``noise`` (the posterior draws,
        shaped like the latent), ``alpha`` ``[B]`` and ``spherical`` ``[B]`` (bool) for
        the interpolants of each row with the next one. Returns the terms (floats)."""
        options, model = self.options, self.model
        with torch.no_grad():
            mu, logvar = model.encode(batch)
        decoded = model.decode(mu + options.posterior_noise * noise * torch.exp(0.5 * logvar))
        interpolating = options.interpolation_weight > 0
        if interpolating:
            partner = mu.roll(1, dims=0)
            between = model.decode(critics.blend_latents(mu, partner, alpha, spherical))
        fakes = [decoded, between] if interpolating and self.alpha_critic is None else [decoded]

        self.discriminator.requires_grad_(True)
        real_outputs = self.judge(batch)
        loss_d = critics.hinge_discriminator_loss(
            real_outputs, [self.judge(f.detach()) for f in fakes]
        )
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        loss_d.backward()
        self.discriminator_optimizer.step()

        report = {"discriminator": loss_d.item()}
        if self.alpha_critic is not None:
            report["alpha_critic"] = self._train_alpha_critic(batch, decoded, between, alpha)

        terms = losses.reconstruction_terms(decoded, batch, self.config)
        recon = losses.total(terms, self.weights)
        report["recon"] = recon.item()
        generator = feature = interpolation = torch.zeros(())
        adaptive = interpolation_adaptive = 0.0
        if self.steps_done >= options.discriminator_warmup_steps:
            self.discriminator.requires_grad_(False)
            with torch.no_grad():
                real_outputs = self.judge(batch)
            fake_outputs = self.judge(decoded)
            generator = critics.hinge_generator_loss(fake_outputs)
            feature = critics.feature_matching(real_outputs, fake_outputs)
            decodes = generator + options.feature_weight * feature
            adaptive = self._adaptive_weight(recon, decodes, options.adversarial_weight)
            total = recon + adaptive * decodes
            if interpolating:  # its own weight: it neither dilutes nor rides on the decodes'
                if self.alpha_critic is None:
                    interpolation = critics.hinge_generator_loss(self.judge(between))
                else:
                    self.alpha_critic.requires_grad_(False)
                    interpolation = self.estimate_alpha(between).pow(2).mean()
                scale = options.adversarial_weight * options.interpolation_weight
                interpolation_adaptive = self._adaptive_weight(recon, interpolation, scale)
                total = total + interpolation_adaptive * interpolation
        else:
            total = recon
        self.decoder_optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(decoder_parameters(model), 1.0)
        self.decoder_optimizer.step()
        self.steps_done += 1
        return report | {
            "generator": generator.item(),
            "feature_matching": feature.item(),
            "interpolation": interpolation.item(),
            "adaptive_weight": adaptive,
            "interpolation_adaptive_weight": interpolation_adaptive,
        }

    def _train_alpha_critic(
        self, batch: torch.Tensor, decoded: torch.Tensor, between: torch.Tensor,
        alpha: torch.Tensor,
    ) -> float:  # fmt: skip
        """One update of the α critic: the interpolants' mixedness min(α, 1 − α), and 0 for
        anchors that mix each real crop with its decode. Returns its loss."""
        self.alpha_critic.requires_grad_(True)
        anchors = ANCHOR_SHARE * batch + (1 - ANCHOR_SHARE) * decoded.detach()
        loss = critics.alpha_critic_loss(
            self.estimate_alpha(between.detach()),
            torch.minimum(alpha, 1 - alpha),
            self.estimate_alpha(anchors),
        )
        self.alpha_critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.alpha_critic_optimizer.step()
        return loss.item()

    def _adaptive_weight(self, recon: torch.Tensor, term: torch.Tensor, scale: float) -> float:
        """``scale`` × ‖∇ recon‖ ÷ ‖∇ term‖ at the decoder's last layer: the weight that
        gives ``term`` a push ``scale`` times the reconstruction's."""
        (recon_grad,) = torch.autograd.grad(recon, self.last_layer, retain_graph=True)
        (term_grad,) = torch.autograd.grad(term, self.last_layer, retain_graph=True)
        ratio = recon_grad.norm() / (term_grad.norm() + 1e-4)
        return scale * float(ratio.clamp(0.0, 1e4))

    def state(self) -> dict:
        state = {
            "model": self.model.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "decoder_optimizer": self.decoder_optimizer.state_dict(),
            "discriminator_optimizer": self.discriminator_optimizer.state_dict(),
            "step": self.steps_done,
        }
        if self.alpha_critic is not None:
            state["alpha_critic"] = self.alpha_critic.state_dict()
            state["alpha_critic_optimizer"] = self.alpha_critic_optimizer.state_dict()
        return state

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.decoder_optimizer.load_state_dict(state["decoder_optimizer"])
        self.discriminator_optimizer.load_state_dict(state["discriminator_optimizer"])
        if self.alpha_critic is not None:
            self.alpha_critic.load_state_dict(state["alpha_critic"])
            self.alpha_critic_optimizer.load_state_dict(state["alpha_critic_optimizer"])
        self.steps_done = state["step"]


def _set_up(
    cache: Path, run: Path, start: Path, options: AdversarialOptions, resume: bool
) -> tuple[Stage2, Corpus, np.ndarray, dict, dict | None, AdversarialOptions]:
    """Open the cache, build stage 2 from ``start`` (or the checkpoint when resuming) and
    write ``config.json`` and the start as the first ``best.pt`` on a new run. Returns the
    trainer, the corpus, the validation set, the start's scores, the checkpoint (or
    ``None``) and the options in force."""
    run.mkdir(parents=True, exist_ok=True)
    saved, state = read_saved(run, resume)
    if saved is not None:
        options = resume_options(saved["adversarial"], options)
    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)  # the discriminator's first weights
    corpus = open_corpus(cache)
    mel_config = corpus.mel_config
    model, model_config, origin = start_model(start)
    if model_config.arch == "conv2d":
        options.crop_frames = mel_config.segment_frames
    validation, data_summary = corpus.validation(options.validation_segments)
    trainer = Stage2(model, options, mel_config)
    if state is not None:
        trainer.load(state)
        return trainer, corpus, validation, saved["start_scores"], state, options
    start_scores = validation_scores(model, validation, mel_config)
    save_atomically({"model": model.state_dict(), "step": 0}, run / "best.pt")
    write_config(
        run,
        {
            "model": model_config.to_dict(),
            "mel": mel_config.to_dict(),
            "adversarial": asdict(options),
            "start": origin,
            "start_scores": start_scores,
            "data": data_summary,
            "processes": 1,
        },
    )
    return trainer, corpus, validation, start_scores, None, options


def _improved(scores: dict, start_scores: dict, best_score: float) -> bool:
    """Whether a validation beats ``best_score`` (band detail, capped at 1) without losing
    more than ``MAE_GUARD`` of the start's MAE or any of its spectral convergence."""
    guarded = scores["val_mae_db"] <= MAE_GUARD * start_scores["val_mae_db"]
    guarded &= scores["val_convergence_db"] <= start_scores.get("val_convergence_db", np.inf)
    return guarded and min(scores["val_detail_ratio"], 1.0) > best_score


def train_adversarial(
    cache: Path,
    run: Path,
    start: Path,
    options: AdversarialOptions,
    *,
    resume: bool = False,
    stop_after_steps: int | None = None,
    progress: bool = True,
) -> dict:
    """Stage 2 from ``start`` into ``run`` (checkpoint.pt, best.pt, log.csv, config.json),
    which ``export`` turns into a model folder; returns a summary."""
    cache, run = Path(cache), Path(run)
    trainer, corpus, validation, start_scores, state, options = _set_up(
        cache, run, start, options, resume
    )
    model, mel_config = trainer.model, corpus.mel_config
    rng = np.random.default_rng(options.seed)
    noise_rng = torch.Generator().manual_seed(options.seed)
    elapsed_s = 0.0
    best_score = min(start_scores["val_detail_ratio"], 1.0)  # the start is the first best
    if state is not None:
        elapsed_s, best_score = state["elapsed_s"], state["best_score"]
        noise_rng.set_state(state["noise_rng"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
    start_log(run / "log.csv", trainer.steps_done if state else None, LOG_FIELDS)
    last_step = min(options.steps, stop_after_steps or options.steps)
    started = time.monotonic() - elapsed_s
    first_step = trainer.steps_done
    bar = tqdm(total=options.steps, initial=first_step, unit="step", disable=not progress)
    with torch.no_grad():  # the posterior noise's shape, for every step's draw
        crop = torch.zeros(1, mel_config.n_mels, options.crop_frames)
        latent_shape = model.encode(crop)[0].shape[1:]
    while trainer.steps_done < last_step:
        batch = augmented_batch(corpus.store, options, mel_config, rng)
        noise = torch.randn((len(batch), *latent_shape), generator=noise_rng)
        alpha = ALPHA_LOW + (1 - 2 * ALPHA_LOW) * torch.rand(len(batch), generator=noise_rng)
        spherical = torch.rand(len(batch), generator=noise_rng) < 0.5
        warm = min(1.0, (trainer.steps_done + 1) / max(1, options.lr_warmup_steps))
        for group in trainer.decoder_optimizer.param_groups:
            group["lr"] = options.lr * warm
        terms = trainer.step(batch, noise, alpha, spherical)
        bar.update(1)
        step = trainer.steps_done
        if step % options.validate_every == 0 or step == last_step:
            scores = validation_scores(model, validation, mel_config)
            row = {"step": step, "minutes": round((time.monotonic() - started) / 60, 2)}
            row |= {"lr": f"{options.lr * warm:.3g}"}
            row |= {k: round(v, 4) for k, v in (terms | scores).items()}
            append_log(run / "log.csv", LOG_FIELDS, row)
            bar.set_postfix(mae=f"{scores['val_mae_db']:.2f}", detail=f"{row['val_detail_ratio']}")
            if _improved(scores, start_scores, best_score):
                best_score = min(scores["val_detail_ratio"], 1.0)
                save_atomically({"model": model.state_dict(), "step": step}, run / "best.pt")
            save_atomically(
                trainer.state()
                | {
                    "elapsed_s": time.monotonic() - started,
                    "best_score": best_score,
                    "noise_rng": noise_rng.get_state(),
                    "numpy_rng": json.dumps(rng.bit_generator.state),
                },
                run / "checkpoint.pt",
            )
    bar.close()
    return {
        "steps": trainer.steps_done,
        "start": start_scores,
        "best_detail_ratio": round(best_score, 3),
        "step_s": round(
            (time.monotonic() - started - elapsed_s) / max(1, trainer.steps_done - first_step), 3
        ),
    }
