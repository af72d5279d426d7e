"""How much of its latent a model uses (issue Model v3).

    .venv/bin/python docs/measurements/scripts/latent_usage.py MODEL_DIR|RUN [...]

On 48 held-out clips of the default cache: each latent channel's KL divergence to the
prior (nats per latent frame, averaged over clips and frames). A channel near 0 carries
nothing (posterior collapse); the sum is what the latent carries per frame.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from musinterp_app.training.dataset import data
from musinterp_app.training.networks.models import ModelConfig, build
from musinterp_app.training.networks.warm_start import model_from_folder

CACHE = Path("build/default-cache")


def load(source: Path) -> torch.nn.Module:
    """A model folder's ONNX graphs read back into torch, or a run's ``best.pt``."""
    if (source / "encoder.onnx").exists():
        return model_from_folder(source)[0]
    config = json.loads((source / "config.json").read_text())
    model = build(ModelConfig(**config["model"]))
    model.load_state_dict(torch.load(source / "best.pt", weights_only=True)["model"])
    return model


def channel_kl(model: torch.nn.Module, segments: torch.Tensor) -> np.ndarray:
    """Mean KL per latent channel ``[C]`` over ``segments`` ``[N, n_mels, frames]``."""
    per_clip = []
    with torch.no_grad():
        for segment in segments:
            mu, logvar = model.encode(segment[None])
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
            per_clip.append(kl.mean(dim=(0, 2)))
    return torch.stack(per_clip).mean(0).numpy()


def main(*sources: str) -> None:
    torch.set_num_threads(1)
    _, validation_rows = data.split_by_file(data.read_index(CACHE))
    rows = data.balanced_validation(validation_rows, 48, seed=0)
    segments = torch.from_numpy(data.read_segments(CACHE, rows))
    for source in sources:
        kl = channel_kl(load(Path(source)).eval(), segments)
        print(
            json.dumps(
                {
                    "model": source,
                    "channels": len(kl),
                    "channels_above_0.5_nats": int((kl > 0.5).sum()),
                    "nats_per_frame": round(float(kl.sum()), 1),
                    "nats_per_channel_min_median_max": [
                        round(float(v), 2) for v in (kl.min(), np.median(kl), kl.max())
                    ],
                }
            )
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
