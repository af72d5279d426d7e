"""Where a model's decodes lose spectral convergence (issue Model v3).

    .venv/bin/python docs/measurements/scripts/sc_where.py CACHE CLIPS MODEL_DIR [MODEL_DIR …]

On ``CLIPS`` held-out clips of a prepared cache (label-balanced, as ``evaluate`` picks them):
each model's mel SC (linear mel magnitudes at the best gain, as validation logs it), the
share of its squared error in each frequency range beside the share of the energy there,
and what blurring the original mel itself costs, in time (block means, what a latent that
kept only a mean per 2 or 4 frames could give back) and in frequency (Gaussian, σ in
bands): the floor a decoder with that resolution would start from. Prints JSON.
"""

import itertools
import json
import sys
from pathlib import Path

import librosa
import numpy as np
from scipy.ndimage import gaussian_filter1d

from musinterp_app.model.onnx_vae import OnnxVAE
from musinterp_app.training.dataset import data
from musinterp_app.training.evaluation import evaluate, metrics

EDGES = [0, 32, 64, 128, 192, 256, 320, 384, 448, 512]  # mel bands


def magnitude(normalised: np.ndarray, config) -> np.ndarray:
    decibels = np.maximum(normalised, config.floor_normalised) * config.norm_scale_db
    return np.power(10.0, np.minimum(decibels + config.norm_offset_db, 40.0) / 20.0)


def error_by_range(decoded: np.ndarray, segments: np.ndarray, config) -> list[dict]:
    estimate, truth = magnitude(decoded, config), magnitude(segments, config)
    gain = (estimate * truth).sum(axis=(1, 2), keepdims=True) / (estimate**2).sum(
        axis=(1, 2), keepdims=True
    )
    error = ((gain * estimate - truth) ** 2).sum(axis=2)  # [clips, n_mels]
    energy = (truth**2).sum(axis=2)
    hz = librosa.mel_frequencies(config.n_mels + 2, fmin=config.fmin_hz, fmax=config.fmax_hz)
    rows = []
    for lo, hi in itertools.pairwise(EDGES):
        rows.append(
            {
                "hz": f"{hz[lo + 1]:.0f}–{hz[hi]:.0f}",
                "error_share": round(float(np.median(error[:, lo:hi].sum(1) / error.sum(1))), 3),
                "energy_share": round(float(np.median(energy[:, lo:hi].sum(1) / energy.sum(1))), 3),
            }
        )
    return rows


def block_mean(segments: np.ndarray, frames: int) -> np.ndarray:
    usable = segments.shape[-1] // frames * frames
    blocks = segments[..., :usable].reshape(*segments.shape[:-1], -1, frames).mean(-1)
    return np.repeat(blocks, frames, axis=-1)


def main(cache: str, clips: str, *models: str) -> None:
    _, validation_rows = data.split_by_file(data.read_index(Path(cache)))
    rows = data.balanced_validation(validation_rows, int(clips), seed=0)
    segments = data.read_segments(Path(cache), rows)  # [clips, n_mels, frames]
    out: dict = {"clips": len(rows), "models": {}, "original blurred": {}}
    for folder in models:
        model = OnnxVAE(folder)
        config = model.mel_config
        decoded = evaluate.reconstruct(model, segments)[..., : segments.shape[-1]]
        sc = float(np.median(metrics.convergence_db(decoded, segments, config)))
        out["models"][folder] = {
            "mel_sc_db": round(sc, 2),
            "by_range": error_by_range(decoded, segments, config),
        }
    blurs = {f"time: block means of {n} frames": lambda m, n=n: block_mean(m, n) for n in (2, 4)}
    blurs |= {
        f"frequency: Gaussian, σ {s} bands": lambda m, s=s: gaussian_filter1d(m, s, axis=-2)
        for s in (0.5, 1.0, 2.0)
    }
    for label, blur in blurs.items():
        usable = blur(segments)
        sc = metrics.convergence_db(usable, segments[..., : usable.shape[-1]], config)
        out["original blurred"][label] = round(float(np.median(sc)), 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
