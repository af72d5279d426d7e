"""The VAEs: ``conv1d`` (temporal latent, the default) and ``conv2d`` (the report's baseline).

Both take normalised log-mel ``[batch, n_mels, frames]`` (the app's
features) and standardise each mel band internally with statistics of the
training data, so the exported model needs nothing but the app's features.

- ``conv1d``: mel bands are channels (spectrograms are not translation
  invariant in frequency); strided convolutions reduce time by
  ``time_reduction``; the latent is ``[batch, latent_channels, frames / r]``,
  so any length can be encoded and blended frame by frame.
- ``conv2d``: 2-D convolutions over the spectrogram image and one global
  ``latent_channels`` vector per ``segment_frames`` excerpt, as in the report.
"""

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass
class ModelConfig:
    arch: str = "conv1d"
    n_mels: int = 512
    latent_channels: int = 64
    width: int = 256
    time_reduction: int = 8
    segment_frames: int = 640
    floor: float = -5 / 3  # normalised value of silence (MelConfig.floor_normalised)
    band_mean: list[float] = field(default_factory=list)
    band_std: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class _BandNorm(nn.Module):
    """Per-band standardisation with fixed training statistics, ``[B, n_mels, T]``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        mean = torch.tensor(config.band_mean or [0.0] * config.n_mels, dtype=torch.float32)
        std = torch.tensor(config.band_std or [1.0] * config.n_mels, dtype=torch.float32)
        self.register_buffer("mean", mean.view(1, -1, 1))
        self.register_buffer("std", std.clamp_min(1e-3).view(1, -1, 1))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.mean) / self.std

    def inverse(self, standard: torch.Tensor) -> torch.Tensor:
        return standard * self.std + self.mean


class _Residual1d(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.GELU(),
            nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation),
            nn.GELU(),
            nn.Conv1d(width, width, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Conv1dVAE(nn.Module):
    temporal = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        steps = int(math.log2(config.time_reduction))
        if 2**steps != config.time_reduction:
            raise ValueError("time_reduction must be a power of two")
        self.config = config
        width = config.width
        self.norm = _BandNorm(config)
        encoder: list[nn.Module] = [nn.Conv1d(config.n_mels, width, 1)]
        for step in range(steps):
            encoder += [
                nn.GELU(),
                nn.Conv1d(width, width, 4, stride=2, padding=1),
                _Residual1d(width, dilation=2 if step % 2 else 1),
            ]
        encoder += [nn.GELU(), nn.Conv1d(width, 2 * config.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*encoder)
        decoder: list[nn.Module] = [nn.Conv1d(config.latent_channels, width, 3, padding=1)]
        for step in range(steps):
            decoder += [
                _Residual1d(width, dilation=2 if step % 2 else 1),
                nn.GELU(),
                nn.ConvTranspose1d(width, width, 4, stride=2, padding=1),
            ]
        decoder += [_Residual1d(width, dilation=1), nn.GELU(), nn.Conv1d(width, config.n_mels, 1)]
        self.decoder = nn.Sequential(*decoder)

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, n_mels, T]`` (T a multiple of r) → μ, log σ² ``[B, C, T / r]``."""
        mu, logvar = self.encoder(self.norm(mel)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, C, T']`` → normalised log-mel ``[B, n_mels, T' · r]``."""
        return self.norm.inverse(self.decoder(latent))


class Conv2dVAE(nn.Module):
    """The report's baseline: one global latent vector per fixed-length excerpt."""

    temporal = False
    channels = (16, 32, 64, 96, 128, 128)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.norm = _BandNorm(config)
        layers: list[nn.Module] = []
        previous = 1
        for channels in self.channels:
            layers += [nn.Conv2d(previous, channels, 4, stride=2, padding=1), nn.GELU()]
            previous = channels
        self.encoder = nn.Sequential(*layers)
        scale = 2 ** len(self.channels)
        self.grid = (config.n_mels // scale, config.segment_frames // scale)
        flat = previous * self.grid[0] * self.grid[1]
        self.to_latent = nn.Linear(flat, 2 * config.latent_channels)
        self.from_latent = nn.Linear(config.latent_channels, flat)
        layers = []
        for channels in reversed((1, *self.channels[:-1])):
            layers += [nn.GELU(), nn.ConvTranspose2d(previous, channels, 4, stride=2, padding=1)]
            previous = channels
        self.decoder = nn.Sequential(*layers)

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, n_mels, segment_frames]`` → μ, log σ² ``[B, C]``."""
        features = self.encoder(self.norm(mel).unsqueeze(1)).flatten(1)
        mu, logvar = self.to_latent(features).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` → normalised log-mel ``[B, n_mels, segment_frames]``."""
        grid = self.from_latent(latent).view(-1, self.channels[-1], *self.grid)
        return self.norm.inverse(self.decoder(grid).squeeze(1))


ARCHITECTURES = {"conv1d": Conv1dVAE, "conv2d": Conv2dVAE}


def build(config: ModelConfig) -> nn.Module:
    if config.arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {config.arch!r}; choose {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[config.arch](config)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
