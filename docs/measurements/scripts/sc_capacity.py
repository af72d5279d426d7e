"""How much a latent must carry for spectral convergence after Griffin-Lim ≤ −12 dB
(issue Model v3).

    .venv/bin/python docs/measurements/scripts/sc_capacity.py CACHE CLIPS OUT.json [MODEL_DIR …]

On ``CLIPS`` held-out clips of a prepared cache (label-balanced, as ``evaluate`` picks them),
for the original log-mel blurred in frequency and time (no model), for a linear code of
the same layout as the hybrid latent (PCA of 4-frame patches, fitted on training clips,
with 64 to 1024 numbers per patch) and for each model folder given: the mel SC
(validation's quick measure), SC after 32 Griffin-Lim iterations from random phases against
the source's STFT (``evaluate``'s measure) and the log-mel MAE. The first two show how mel
SC maps to SC after Griffin-Lim, so which mel SC the −12 dB target asks for; the PCA rows
show how many numbers per 4 frames a linear code needs to get there. Writes JSON.
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from musinterp_app.audio import mel
from musinterp_app.model.onnx_vae import OnnxVAE
from musinterp_app.training.dataset import data
from musinterp_app.training.evaluation import evaluate, metrics

PCA_COMPONENTS = (64, 128, 256, 512, 1024)
PCA_TRAINING_CLIPS = 1200
PATCH_FRAMES = 4  # the hybrid latent's time reduction


def block_mean(segments: np.ndarray, frames: int) -> np.ndarray:
    usable = segments.shape[-1] // frames * frames
    blocks = segments[..., :usable].reshape(*segments.shape[:-1], -1, frames).mean(-1)
    out = segments.copy()
    out[..., :usable] = np.repeat(blocks, frames, axis=-1)
    return out


def scores(decoded: np.ndarray, segments: np.ndarray, truths: list, config) -> dict:
    mel_sc = np.median(metrics.convergence_db(decoded, segments, config))
    full = evaluate.reconstruction_scores(decoded, segments, truths, config)
    return {
        "mel_sc_db": round(float(mel_sc), 2),
        "gl_sc_db": full["sc_db"],
        "mae_db": full["mae_db"],
    }


def main(cache: str, clips: str, out_path: str, *models: str) -> None:
    cache_path = Path(cache)
    train_rows, validation_rows = data.split_by_file(data.read_index(cache_path))
    rows = data.balanced_validation(validation_rows, int(clips), seed=0)
    segments = data.read_segments(cache_path, rows)
    config = mel.MelConfig.from_dict(json.loads((cache_path / "mel_config.json").read_text()))
    truths = evaluate._true_magnitudes(rows, config)
    variants = {"original": segments}
    variants |= {
        f"frequency blur σ {s} bands": gaussian_filter1d(segments, s, axis=-2)
        for s in (0.5, 1.0, 1.5, 2.0)
    }
    variants |= {f"time block means of {n} frames": block_mean(segments, n) for n in (2, 4, 8)}
    out: dict = {"clips": len(rows), "no model": {}, "patch PCA": {}, "models": {}}
    for label, decoded in variants.items():
        out["no model"][label] = scores(decoded, segments, truths, config)
        print(label, out["no model"][label], flush=True)
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(train_rows), min(PCA_TRAINING_CLIPS, len(train_rows)), replace=False)
    training = data.read_segments(cache_path, [train_rows[i] for i in sorted(chosen)])
    for components in PCA_COMPONENTS:
        pca = evaluate.PatchPCA(training, PATCH_FRAMES, components)
        label = f"{components} per {PATCH_FRAMES} frames"
        out["patch PCA"][label] = scores(pca.reconstruct(segments), segments, truths, config)
        print(label, out["patch PCA"][label], flush=True)
    for folder in models:
        model = OnnxVAE(folder)
        decoded = evaluate.reconstruct(model, segments)
        out["models"][folder] = scores(decoded, segments, truths, config)
        print(folder, out["models"][folder], flush=True)
    Path(out_path).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
