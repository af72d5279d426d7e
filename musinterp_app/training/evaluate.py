"""``evaluate``: how good an exported model is, as JSON, Markdown and plots.

Everything runs through the exported ONNX graphs (:class:`OnnxVAE`), i.e.
exactly what the app ships. On the validation split of the cache (held-out
source files):

- reconstruction log-mel MAE (dB) of the model, of an optional ``conv2d``
  baseline model, and of the trivial mean-spectrum baseline;
- spectral convergence after Griffin-Lim, against the true STFT of the
  original audio (when the source files are still readable), and the same
  for the original mel (the best Griffin-Lim alone can do);
- interpolation smoothness for pairs of clips from different labels, α =
  0, 0.1 … 1: distance (dB) to A must rise and to B fall, step sizes even;
- a 2-D PCA map of the clips' latents;
- the report's genre check: an SVM on mel statistics (per-band mean and
  spread) trained on the training split predicts the label of held-out
  originals, of their reconstructions, and of blends.

Writes ``evaluation.json``, ``EVALUATION.md`` and PNG plots, and records the
summary in the model card (``MODEL.md``).
"""

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from tqdm import tqdm

from musinterp_app.audio import io, mel, stft
from musinterp_app.audio.griffinlim import griffinlim
from musinterp_app.model import latent
from musinterp_app.model.onnx_vae import OnnxVAE
from musinterp_app.training import data, metrics

ALPHAS = np.round(np.linspace(0.0, 1.0, 11), 2)
MONOTONIC_TOLERANCE_DB = 0.1


def reconstruct(model: OnnxVAE, segments: np.ndarray, *, progress: bool = False) -> np.ndarray:
    """Decoded posterior means of ``[N, n_mels, frames]``, same shape."""
    frames = segments.shape[-1]
    chosen = tqdm(segments, desc="reconstruct", leave=False) if progress else segments
    return np.stack([model.decode(model.encode(segment))[:, :frames] for segment in chosen])


def mel_statistics(segments: np.ndarray) -> np.ndarray:
    """Features for the label check: per-band mean and standard deviation ``[N, 2 · n_mels]``."""
    return np.concatenate([segments.mean(axis=-1), segments.std(axis=-1)], axis=-1)


def interpolation_curves(
    model: OnnxVAE, a: np.ndarray, b: np.ndarray, config: mel.MelConfig, mode: str = "lerp"
) -> dict:
    """Distances (dB) of the decoded blends to A and B over ``ALPHAS``, and the step sizes."""
    frames = a.shape[-1]
    z_a, z_b = model.encode(a), model.encode(b)
    decoded = np.stack(
        [model.decode(latent.blend(z_a, z_b, alpha, mode))[:, :frames] for alpha in ALPHAS]
    )
    to_a = metrics.mae_db(decoded, a[None], config)
    to_b = metrics.mae_db(decoded, b[None], config)
    steps = metrics.mae_db(decoded[1:], decoded[:-1], config)
    return {
        "to_a_db": to_a.round(3).tolist(),
        "to_b_db": to_b.round(3).tolist(),
        "worst_fall_to_a_db": float(max(0.0, -np.diff(to_a).min())),
        "worst_rise_to_b_db": float(max(0.0, np.diff(to_b).max())),
        "step_ratio": float(steps.max() / max(steps.mean(), 1e-9)),
    }


def _pairs(labels: list[str], count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Pairs of validation clips with different labels (or any two, with one label)."""
    pairs = []
    for _ in range(50 * count):
        i, j = rng.choice(len(labels), size=2, replace=False)
        if labels[i] != labels[j] or len(set(labels)) == 1:
            pairs.append((int(i), int(j)))
        if len(pairs) == count:
            break
    return pairs


def _spectral_convergence(
    model: OnnxVAE, rows: list[dict], segments: np.ndarray, config: mel.MelConfig
) -> dict:
    """Griffin-Lim quality of reconstructions and of the original mel, vs the true audio."""
    ours, original = [], []
    for row, segment in zip(rows, segments, strict=True):
        try:
            audio = io.load(
                row["source"],
                sample_rate=config.sample_rate,
                offset_s=float(row["offset_s"]),
                duration_s=config.segment_seconds,
            )
        except io.AudioLoadError:
            continue
        truth = stft.magnitude(audio, n_fft=config.n_fft, hop_length=config.hop_length)
        for mel_input, results in [
            (reconstruct(model, segment[None])[0], ours),
            (segment, original),
        ]:
            sound = griffinlim(mel.to_magnitude(mel_input, config), hop_length=config.hop_length)
            results.append(
                stft.spectral_convergence_db(
                    sound, truth, n_fft=config.n_fft, hop_length=config.hop_length
                )
            )
    if not ours:
        return {}
    return {
        "model_sc_db": round(float(np.mean(ours)), 2),
        "original_mel_sc_db": round(float(np.mean(original)), 2),
        "clips": len(ours),
    }


def _plot_spectrograms(path: Path, original: np.ndarray, decoded: np.ndarray, config) -> None:
    figure, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    seconds = original.shape[1] * config.hop_length / config.sample_rate
    for axis, image, title in [(axes[0], original, "original"), (axes[1], decoded, "decoded")]:
        axis.imshow(
            image,
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0, seconds, 0, config.n_mels),
            vmin=config.floor_normalised,
            vmax=2.5,
        )
        axis.set_title(title)
        axis.set_ylabel("mel band")
    axes[1].set_xlabel("time (s)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _plot_bars(path: Path, values: dict[str, float]) -> None:
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.bar(
        list(values), list(values.values()), color=["#3b7dd8", "#999999", "#d8843b"][: len(values)]
    )
    axis.set_ylabel("validation log-mel MAE (dB)")
    for x, value in enumerate(values.values()):
        axis.text(x, value, f"{value:.2f}", ha="center", va="bottom")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _plot_interpolation(path: Path, curves: list[dict]) -> None:
    figure, axis = plt.subplots(figsize=(6, 4))
    for curve in curves:
        axis.plot(ALPHAS, curve["to_a_db"], color="#3b7dd8", alpha=0.6)
        axis.plot(ALPHAS, curve["to_b_db"], color="#d8843b", alpha=0.6)
    axis.plot([], [], color="#3b7dd8", label="distance to A")
    axis.plot([], [], color="#d8843b", label="distance to B")
    axis.set_xlabel("α")
    axis.set_ylabel("log-mel MAE (dB)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _plot_pca(path: Path, latents: np.ndarray, labels: list[str]) -> None:
    points = PCA(n_components=2).fit_transform(latents)
    figure, axis = plt.subplots(figsize=(7, 5))
    for label in sorted(set(labels)):
        chosen = [i for i, other in enumerate(labels) if other == label]
        axis.scatter(points[chosen, 0], points[chosen, 1], s=10, label=label)
    axis.set_xlabel("PC 1")
    axis.set_ylabel("PC 2")
    axis.legend(fontsize=7, markerscale=2)
    axis.set_title("latents of validation clips (mean over time)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def evaluate(
    model_dir: Path,
    cache: Path,
    *,
    baseline: Path | None = None,
    out: Path | None = None,
    max_segments: int = 400,
    pairs: int = 12,
    seed: int = 0,
) -> dict:
    """Run every check; returns ``{"summary": ..., "details": ...}`` and writes the report."""
    model_dir, cache = Path(model_dir), Path(cache)
    out = Path(out) if out else model_dir
    out.mkdir(parents=True, exist_ok=True)
    model = OnnxVAE(model_dir)
    config = model.mel_config
    rng = np.random.default_rng(seed)
    train_rows, validation_rows = data.split_by_file(data.read_index(cache))
    chosen = sorted(
        rng.choice(len(validation_rows), min(max_segments, len(validation_rows)), replace=False)
    )
    rows = [validation_rows[i] for i in chosen]
    labels = [row["label"] for row in rows]
    segments = np.stack([data.read_exr(cache / row["segment"]) for row in rows]).astype(np.float32)

    decoded = reconstruct(model, segments, progress=True)
    mae = {
        f"{model.info.architecture} (this model)": float(
            metrics.mae_db(decoded, segments, config).mean()
        ),
        "mean spectrum": float(
            metrics.mae_db(metrics.mean_spectrum(segments), segments, config).mean()
        ),
    }
    if baseline is not None:
        baseline_model = OnnxVAE(baseline)
        baseline_decoded = reconstruct(baseline_model, segments)
        mae[f"{baseline_model.info.architecture} baseline"] = float(
            metrics.mae_db(baseline_decoded, segments, config).mean()
        )
    model_mae = mae[f"{model.info.architecture} (this model)"]

    curves = [
        interpolation_curves(model, segments[i], segments[j], config)
        for i, j in _pairs(labels, pairs, rng)
    ]
    latents = np.stack([np.atleast_2d(model.encode(s).T).mean(axis=0) for s in segments])

    train_sample = [
        train_rows[i]
        for i in rng.choice(len(train_rows), min(2000, len(train_rows)), replace=False)
    ]
    train_segments = np.stack([data.read_exr(cache / r["segment"]) for r in train_sample])
    classifier = make_pipeline(StandardScaler(), SVC(C=10.0))
    classifier.fit(
        mel_statistics(train_segments.astype(np.float32)), [r["label"] for r in train_sample]
    )
    label_check = {
        "originals_accuracy": float(
            np.mean(classifier.predict(mel_statistics(segments)) == np.array(labels))
        ),
        "reconstructions_accuracy": float(
            np.mean(classifier.predict(mel_statistics(decoded)) == np.array(labels))
        ),
        "chance": float(max(labels.count(x) for x in set(labels)) / len(labels)),
    }
    blend_pairs = _pairs(labels, 60, rng)
    for alpha in (0.25, 0.5, 0.75):
        blends = np.stack(
            [
                model.decode(
                    latent.lerp(model.encode(segments[i]), model.encode(segments[j]), alpha)
                )[:, : segments.shape[-1]]
                for i, j in blend_pairs
            ]
        )
        predicted = classifier.predict(mel_statistics(blends))
        label_check[f"blend_{alpha}_as_a"] = float(
            np.mean([p == labels[i] for p, (i, _) in zip(predicted, blend_pairs, strict=True)])
        )
        label_check[f"blend_{alpha}_as_b"] = float(
            np.mean([p == labels[j] for p, (_, j) in zip(predicted, blend_pairs, strict=True)])
        )

    sc = _spectral_convergence(model, rows[:12], segments[:12], config)
    summary = {
        "model_id": model.info.model_id,
        "validation_segments": len(segments),
        "mae_db": {name: round(value, 3) for name, value in mae.items()},
        "ratio_to_mean_spectrum": round(model_mae / mae["mean spectrum"], 3),
        "interpolation_pairs": len(curves),
        "interpolation_worst_fall_to_a_db": round(max(c["worst_fall_to_a_db"] for c in curves), 3),
        "interpolation_worst_rise_to_b_db": round(max(c["worst_rise_to_b_db"] for c in curves), 3),
        "interpolation_monotonic": all(
            c["worst_fall_to_a_db"] <= MONOTONIC_TOLERANCE_DB
            and c["worst_rise_to_b_db"] <= MONOTONIC_TOLERANCE_DB
            for c in curves
        ),
        "interpolation_max_step_ratio": round(max(c["step_ratio"] for c in curves), 3),
        "griffin_lim": sc,
        "label_check": {key: round(value, 3) for key, value in label_check.items()},
    }
    if baseline is not None:
        summary["ratio_to_conv2d"] = round(
            model_mae / mae[next(k for k in mae if "baseline" in k)], 3
        )

    _plot_bars(out / "eval_mae.png", mae)
    _plot_interpolation(out / "eval_interpolation.png", curves)
    _plot_pca(out / "eval_latent_pca.png", latents, labels)
    _plot_spectrograms(out / "eval_example.png", segments[0], decoded[0], config)
    report = {"summary": summary, "details": {"interpolation": curves}}
    (out / "evaluation.json").write_text(json.dumps(report, indent=2))
    markdown = _markdown(summary)
    (out / "EVALUATION.md").write_text(markdown)
    card = model_dir / "MODEL.md"
    if card.exists():
        text = re.sub(r"\n## Evaluation\n.*", "", card.read_text(), flags=re.S)
        card.write_text(text.rstrip() + "\n\n" + markdown.replace("# Evaluation", "## Evaluation"))
    return report


def _markdown(summary: dict) -> str:
    lines = [
        "# Evaluation",
        "",
        f"Validation split (held-out source files), {summary['validation_segments']} "
        "five-second clips. Log-mel MAE in dB (lower is better):",
        "",
        "| model | MAE (dB) |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {value:.2f} |" for name, value in summary["mae_db"].items()]
    ratios = f"Ratio to the mean-spectrum baseline: **{summary['ratio_to_mean_spectrum']}**"
    if "ratio_to_conv2d" in summary:
        ratios += f"; to the conv2d baseline: **{summary['ratio_to_conv2d']}**"
    lines += ["", ratios + "."]
    sc = summary["griffin_lim"]
    if sc:
        lines += [
            "",
            f"Spectral convergence after Griffin-Lim (32 iterations, {sc['clips']} clips):"
            f" decoded {sc['model_sc_db']} dB; original mel {sc['original_mel_sc_db']} dB.",
        ]
    verdict = (
        "never falls and to B never rises"
        if summary["interpolation_monotonic"]
        else "does not always rise, or to B fall,"
    )
    lines += [
        "",
        f"Interpolation over α = 0, 0.1 … 1 for {summary['interpolation_pairs']} pairs "
        f"of clips with different labels: distance to A {verdict}"
        f" (worst fall {summary['interpolation_worst_fall_to_a_db']} dB, worst rise "
        f"{summary['interpolation_worst_rise_to_b_db']} dB; tolerance 0.1 dB); "
        f"largest step / mean step ≤ {summary['interpolation_max_step_ratio']}.",
        "",
        "Label check (SVM on per-band mel mean and spread, trained on the training split):",
        "",
        "| what | share |",
        "| --- | --- |",
    ]
    lines += [
        f"| {key.replace('_', ' ')} | {value:.2f} |"
        for key, value in summary["label_check"].items()
    ]
    lines += [
        "",
        "Plots: `eval_mae.png`, `eval_interpolation.png`, `eval_latent_pca.png`, "
        "`eval_example.png`.",
        "",
    ]
    return "\n".join(lines)
