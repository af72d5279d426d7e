"""How fast one training step runs on this machine: segments per second, no data set needed.

The step is the real one (encode, reparameterise, decode, every loss term,
backward, clipped AdamW update) on random normalised log-mel batches of the
training crop size, so the figure is the model's compute alone, not the
data loading. It feeds the scaling plan in docs/training-at-scale.md.
"""

import time
from dataclasses import dataclass

import torch

from musinterp_app.audio.mel import MelConfig
from musinterp_app.training.loop.train import ReparameterisedVAE, training_step
from musinterp_app.training.networks import losses
from musinterp_app.training.networks.models import ModelConfig, build


@dataclass(frozen=True)
class Throughput:
    arch: str
    device: str
    batch: int
    crop_frames: int
    step_ms: float  # median over the timed steps
    segments_per_s: float  # crops of crop_frames per second
    audio_seconds_per_s: float  # seconds of training audio per second of training

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def measure(
    *,
    arch: str = "hybrid",
    batch: int = 16,
    crop_frames: int = 160,
    steps: int = 20,
    warmup_steps: int = 3,
    device: str = "cpu",
    mixed_precision: bool = False,
) -> Throughput:
    """Time ``steps`` training steps after ``warmup_steps`` untimed ones."""
    mel_config = MelConfig()
    if arch == "conv2d":
        crop_frames = mel_config.segment_frames
    model = build(ModelConfig(arch=arch, n_mels=mel_config.n_mels)).to(device)
    vae = ReparameterisedVAE(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    weights = losses.LossWeights()
    generator = torch.Generator(device="cpu").manual_seed(0)
    batches = [
        (torch.rand(batch, mel_config.n_mels, crop_frames, generator=generator) * 2 - 1.5).to(
            device
        )
        for _ in range(4)
    ]
    durations_s = []
    for step in range(warmup_steps + steps):
        target = batches[step % len(batches)]
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        training_step(
            vae,
            optimizer,
            target,
            lambda shape: torch.randn(shape, device=device),
            weights=weights,
            beta=1e-3,
            config=mel_config,
            mixed_precision=mixed_precision,
        )
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if step >= warmup_steps:
            durations_s.append(time.perf_counter() - started)
    step_s = sorted(durations_s)[len(durations_s) // 2]
    segments_per_s = batch / step_s
    return Throughput(
        arch=arch,
        device=torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        batch=batch,
        crop_frames=crop_frames,
        step_ms=round(step_s * 1000, 2),
        segments_per_s=round(segments_per_s, 1),
        audio_seconds_per_s=round(segments_per_s * mel_config.frames_to_seconds(crop_frames), 1),
    )
