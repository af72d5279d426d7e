"""The VAEs: ``hybrid`` (the default), ``conv1d`` (v1) and ``conv2d`` (the report's).

All take normalised log-mel ``[batch, n_mels, frames]`` (the app's
features) and standardise each mel band internally with statistics of the
training data, so the exported model needs nothing but the app's features.

- ``hybrid``: 2-D convolutions over (frequency, time) at the input and the
  output, so a harmonic pattern learnt at one pitch is reused at every other;
  frequency is folded into channels only in the middle, where a 1-D temporal
  latent ``[batch, latent_channels, frames / r]`` lives (Music2Latent's
  layout). The output is a 2-D convolution at full frequency resolution, so no
  frame is confined to a fixed subspace of spectra.
- ``conv1d``: mel bands are channels; strided 1-D convolutions reduce time by
  ``time_reduction``. The v1 default, kept as a baseline.
- ``conv2d``: 2-D convolutions over the spectrogram image and one global
  ``latent_channels`` vector per ``segment_frames`` excerpt, as in the report.
"""

import itertools
import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass
class ModelConfig:
    arch: str = "hybrid"
    n_mels: int = 512
    latent_channels: int = 64
    width: int = 256  # channels of the 1-D (temporal) layers
    time_reduction: int = 4
    segment_frames: int = 640
    planes: int = 16  # channels of the full-resolution 2-D layers (hybrid)
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


class _SubPixel(nn.Module):
    """Upsampling: a 3×3 convolution, then ``[B, c, F, T] → [B, c', F·bands, T·frames]``.

    Same job as a transposed convolution; each output band and frame gets its
    own weights. In one side-by-side export of the same decoder it ran a little
    faster in onnxruntime (77 vs 83 ms for 5 s, both measured on a busy machine).
    """

    def __init__(self, before: int, after: int, *, bands: int, frames: int) -> None:
        super().__init__()
        self.after, self.bands, self.frames = after, bands, frames
        self.conv = nn.Conv2d(before, after * bands * frames, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        y = self.conv(x).view(batch, self.after, self.bands, self.frames, height, width)
        y = y.permute(0, 1, 4, 2, 5, 3)  # [B, c', F, bands, T, frames]
        return y.reshape(batch, self.after, height * self.bands, width * self.frames)


class HybridVAE(nn.Module):
    """2-D convolutions at both ends, a 1-D temporal latent in the middle.

    Encoder: the log-mel image ``[B, 1, n_mels, T]`` is cut into patches of
    ``r`` frames (one strided convolution), then four stride-2 convolutions
    halve the frequency axis while widening the channels; the result
    ``[B, c, n_mels / 16, T / r]`` is folded to ``[B, c · n_mels / 16, T / r]``
    and 1-D residual layers give μ and log σ². The decoder mirrors it with
    transposed convolutions and ends with a 2-D convolution at full frequency
    resolution that unfolds each latent frame into ``r`` mel frames.
    Work happens at ``T / r`` time steps throughout, which keeps a 5-s clip
    within a few tens of milliseconds on a laptop CPU.
    """

    temporal = True
    levels = 4  # frequency halvings

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.n_mels % 2**self.levels:
            raise ValueError(f"n_mels must be a multiple of {2**self.levels} for hybrid")
        self.config = config
        r, planes, width = config.time_reduction, config.planes, config.width
        self.channels = [planes, planes, 2 * planes, 3 * planes, 4 * planes]  # fine → coarse
        self.folded_bands = config.n_mels // 2**self.levels
        folded = self.channels[-1] * self.folded_bands
        self.norm = _BandNorm(config)
        encoder_2d: list[nn.Module] = [nn.Conv2d(1, planes, (3, r), stride=(1, r), padding=(1, 0))]
        for before, after in itertools.pairwise(self.channels):
            encoder_2d += [nn.GELU(), nn.Conv2d(before, after, 3, stride=(2, 1), padding=1)]
        self.encoder_2d = nn.Sequential(*encoder_2d)
        self.encoder_1d = nn.Sequential(
            nn.Conv1d(folded, width, 1),
            _Residual1d(width, dilation=1),
            _Residual1d(width, dilation=2),
            _Residual1d(width, dilation=4),
            nn.GELU(),
            nn.Conv1d(width, 2 * config.latent_channels, 3, padding=1),
        )
        self.decoder_1d = nn.Sequential(
            nn.Conv1d(config.latent_channels, width, 3, padding=1),
            _Residual1d(width, dilation=1),
            _Residual1d(width, dilation=2),
            _Residual1d(width, dilation=4),
            nn.GELU(),
            nn.Conv1d(width, folded, 1),
        )
        decoder_2d: list[nn.Module] = []
        narrowing = list(reversed(self.channels))
        for before, after in itertools.pairwise(narrowing):
            decoder_2d += [nn.GELU(), _SubPixel(before, after, bands=2, frames=1)]
        decoder_2d += [
            nn.GELU(),
            nn.Conv2d(planes, planes, 3, padding=1),
            nn.GELU(),
            _SubPixel(planes, 1, bands=1, frames=r),
        ]
        self.decoder_2d = nn.Sequential(*decoder_2d)

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, n_mels, T]`` (T a multiple of r) → μ, log σ² ``[B, C, T / r]``."""
        image = self.encoder_2d(self.norm(mel).unsqueeze(1))  # [B, c, n_mels / 16, T / r]
        mu, logvar = self.encoder_1d(image.flatten(1, 2)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, C, T']`` → normalised log-mel ``[B, n_mels, T' · r]``."""
        folded = self.decoder_1d(latent)  # [B, c · n_mels / 16, T']
        image = folded.unflatten(1, (self.channels[-1], self.folded_bands))
        return self.norm.inverse(self.decoder_2d(image).squeeze(1))


ARCHITECTURES = {"hybrid": HybridVAE, "conv1d": Conv1dVAE, "conv2d": Conv2dVAE}


def build(config: ModelConfig) -> nn.Module:
    if config.arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {config.arch!r}; choose {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[config.arch](config)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
