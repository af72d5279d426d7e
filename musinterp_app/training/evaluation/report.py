"""What ``evaluate`` writes besides numbers: its plots (PNG) and its Markdown report."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from musinterp_app.training.evaluation import blends, classifiers, generation
from musinterp_app.training.evaluation.figures import save_figure


# ----- plots ----------------------------------------------------------------------------------
def plot_reconstruction(path: Path, scores: dict) -> None:
    names = [name for name in scores if "mae_db" in scores[name]]
    figure, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = [
        ("mae_db", "log-mel MAE (dB, lower is better)"),
        ("sc_db", "SC after Griffin-Lim (dB, lower is better)"),
        ("detail_bands", "band-to-band detail ratio (1 = as sharp)"),
    ]
    for axis, (key, title) in zip(axes, panels, strict=True):
        values = [scores[name][key] or 0.0 for name in names]
        axis.barh(names, values, color="#3b7dd8")
        if key == "sc_db" and scores["original mel (no model)"]["sc_db"] is not None:
            axis.axvline(scores["original mel (no model)"]["sc_db"], color="k", ls="--")
            axis.text(scores["original mel (no model)"]["sc_db"], -0.6, " no model", fontsize=8)
        if key == "detail_bands":
            axis.axvline(1.0, color="k", ls="--")
        axis.set_title(title, fontsize=9)
        for y, value in enumerate(values):
            axis.text(value, y, f" {value:.2f}", va="center", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


def plot_blends(path: Path, series: list[dict], summary: dict, alphas: np.ndarray) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for item in series:
        axes[0].plot(alphas, item["pure"]["to_a_db"], color="#3b7dd8", alpha=0.4)
        axes[0].plot(alphas, item["pure"]["to_b_db"], color="#d8843b", alpha=0.4)
    axes[0].plot([], [], color="#3b7dd8", label="distance to A")
    axes[0].plot([], [], color="#d8843b", label="distance to B")
    axes[0].set_xlabel("α")
    axes[0].set_ylabel("log-mel MAE (dB)")
    axes[0].set_title("pure-model blends")
    axes[0].legend()
    for name, colour in (("pure", "#3b7dd8"), ("keep_detail", "#888888")):
        axes[1].plot(
            alphas,
            summary[name]["model_share_curve"],
            marker="o",
            color=colour,
            label=name.replace("_", " "),
        )
    axes[1].set_xlabel("α")
    axes[1].set_ylabel("model share C(α) (median)")
    axes[1].set_title("how far the blend is from a log-mel crossfade, ÷ |A − B|")
    axes[1].legend()
    figure.tight_layout()
    save_figure(figure, path)


def plot_latent_map(path: Path, latents: np.ndarray, labels: list[str]) -> None:
    points = PCA(n_components=2).fit_transform(latents)
    figure, axis = plt.subplots(figsize=(7, 5))
    for label in sorted(set(labels)):
        chosen = [i for i, other in enumerate(labels) if other == label]
        axis.scatter(points[chosen, 0], points[chosen, 1], s=10, label=label)
    axis.set_xlabel("PC 1")
    axis.set_ylabel("PC 2")
    axis.legend(fontsize=6, markerscale=2, ncol=2)
    axis.set_title("latents of validation clips (mean over time)")
    figure.tight_layout()
    save_figure(figure, path)


def plot_example(path: Path, original: np.ndarray, candidates: dict, config) -> None:
    shown = {"original": original} | {
        name: values[0] for name, values in candidates.items() if name != "mean spectrum"
    }
    figure, axes = plt.subplots(len(shown), 1, figsize=(9, 2.2 * len(shown)), sharex=True)
    seconds = original.shape[1] * config.hop_length / config.sample_rate
    for axis, (title, image) in zip(axes, shown.items(), strict=True):
        axis.imshow(
            image,
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0, seconds, 0, config.n_mels),
            vmin=config.floor_normalised,
            vmax=max(1.0, float(np.percentile(original, 99.5))),
        )
        axis.set_title(title, fontsize=9)
        axis.set_ylabel("mel band")
    axes[-1].set_xlabel("time (s)")
    figure.tight_layout()
    save_figure(figure, path)


ZOOM_S = 1.5  # the close-up's length, from the clip's start
ZOOM_BANDS = 256  # the close-up's mel bands, from the lowest (up to about 3.9 kHz at 512)


def plot_blend_example(
    path: Path, a: np.ndarray, b: np.ndarray, sets: dict[str, np.ndarray], config
) -> None:
    """One pair of held-out clips ``[n_mels, frames]`` and what each way of blending them
    makes at α = 0.5 (``sets`` as :func:`blends.pair_sets` gives them for this pair alone),
    each whole and in a close-up of its first ``ZOOM_S`` seconds and ``ZOOM_BANDS`` bands,
    where smeared partials, ghost harmonics and grid artefacts show."""
    shown = {"original A": a, "decode of A": sets["decodes"][0], "original B": b}
    shown |= {
        name: sets[name][0]
        for name in (
            "log-mel crossfade",
            "time-domain mix",
            "pure slerp 0.5",
            "keep detail slerp 0.5",
        )
    }
    figure, axes = plt.subplots(
        len(shown), 2, figsize=(8.5, 1.55 * len(shown)), gridspec_kw={"width_ratios": (3, 2)}
    )
    frame_s = config.hop_length / config.sample_rate
    zoom_frames = min(round(ZOOM_S / frame_s), a.shape[1])
    zoom_bands = min(ZOOM_BANDS, config.n_mels)
    top = max(1.0, float(np.percentile(np.stack([a, b]), 99.5)))
    style = {"origin": "lower", "aspect": "auto", "cmap": "magma"}
    style |= {"vmin": config.floor_normalised, "vmax": top}
    for (whole, close), (title, image) in zip(axes, shown.items(), strict=True):
        whole.imshow(image, extent=(0, image.shape[1] * frame_s, 0, config.n_mels), **style)
        close.imshow(
            image[:zoom_bands, :zoom_frames],
            extent=(0, zoom_frames * frame_s, 0, zoom_bands),
            **style,
        )
        whole.set_title(title, fontsize=9)
        close.set_title(f"{title}: close-up", fontsize=9)
        whole.set_ylabel("mel band")
    axes[-1][0].set_xlabel("time (s)")
    axes[-1][1].set_xlabel("time (s)")
    figure.tight_layout()
    save_figure(figure, path)


def plot_training(path: Path, log_csv: Path) -> None:
    import csv

    with open(log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(row["step"]) for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].plot(steps, [float(r["val_mae_db"]) for r in rows], label="validation MAE (dB)")
    axes[0].plot(steps, [float(r["recon_db"]) for r in rows], alpha=0.6, label="training L1 (dB)")
    axes[0].set_xlabel("step")
    axes[0].legend()
    axes[1].plot(steps, [float(r["val_detail_ratio"]) for r in rows], color="#d8843b")
    axes[1].axhline(0.75, color="k", ls="--", lw=0.8)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("validation band-to-band detail ratio")
    figure.tight_layout()
    save_figure(figure, path)


# ----- report ---------------------------------------------------------------------------------
def _blend_sections(summary: dict, iterations: int) -> list[str]:
    """The lines after the reconstruction table: its note, the blends and the label check."""
    lines: list[str] = []
    lines += [
        "",
        f"MAE ÷ mean spectrum: **{summary['mae_vs_mean_spectrum']}**; "
        f"÷ same-size PCA: **{summary['mae_vs_pca']}**. SC is at the best gain after "
        f"{iterations} Griffin-Lim iterations, against the STFT of the source audio; "
        "a detail ratio below 1 means a smoother spectrogram than the original.",
        "",
        f"## Blends ({summary['pairs']} pairs of clips with different labels, α = 0, 0.1 … 1)",
        "",
        "| | monotone pairs | largest / mean step (worst pair) | detail at α = 0.5 ÷ ends | "
        "model share at α = 0.5 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, blend in summary["blends"].items():
        lines.append(
            f"| {name.replace('_', ' ')} | {blend['monotonic_pairs']}/{summary['pairs']} | "
            f"{blend['max_step_ratio']} (median {blend['median_step_ratio']}) | "
            f"{blend['detail_ratio_mid']} | {blend['model_share_mid']} |"
        )
    lines += [
        "",
        "Model share C(α) = MAE(blend, log-mel crossfade of A and B) ÷ MAE(A, B): 0 means the "
        "blend is a plain crossfade; the larger, the more of what is heard comes from the model.",
        "",
        "## Label check",
        "",
        "An SVM on per-band mel mean and spread (trained on the training split) labels each clip:",
        "",
        "| what | share labelled so |",
        "| --- | --- |",
    ]
    lines += [f"| {key} | {value:.2f} |" for key, value in summary["label_check"].items()]
    return lines


def markdown(summary: dict, iterations: int) -> str:
    """``summary`` as ``EVALUATION.md``; ``iterations``: the Griffin-Lim iterations of its SC."""
    scores = summary["reconstruction"]
    lines = [
        "# Evaluation",
        "",
        f"{summary['clips']} five-second clips from {summary['files']} held-out files "
        f"({len(summary['labels'])} labels, balanced); medians over clips.",
        "",
        "## Reconstruction",
        "",
        "| | log-mel MAE (dB) | SC after Griffin-Lim (dB) | detail, band-to-band | "
        "detail, frame-to-frame |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, score in scores.items():
        cells = [score.get(key) for key in ("mae_db", "sc_db", "detail_bands", "detail_frames")]
        lines.append(
            f"| {name} | " + " | ".join("–" if c is None else f"{c:g}" for c in cells) + " |"
        )
    lines += _blend_sections(summary, iterations)
    speed = summary["speed"]
    lines += [
        "",
        f"## Speed and size\n\nEncode {speed['encode_ms']} ms, decode {speed['decode_ms']} ms for "
        f"a 5-s clip (onnxruntime, best of 10); both graphs {speed['size_mb']} MB.",
        "",
        "## Targets",
        "",
        "| measure | value | target | met |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {key} | {item['value']} | {item['target']} | {'yes' if item['met'] else '**no**'} |"
        for key, item in summary["targets"].items()
    ]
    if summary["blend_study"]:
        lines += ["", *blends.markdown(summary["blend_study"])]
    lines += ["", *classifiers.markdown(summary["classifiers"], per_class=False)]
    lines.append("Per-label precision, recall and F1 of each: `classifiers.md`.")
    if "generation" in summary:
        lines += [
            "",
            "## Generation",
            "",
            "Clips generated from the fitted prior (`prior.npz`) beside held-out originals and "
            "their reconstructions, measured against training clips on per-band mel mean and "
            "spread:",
            "",
            *generation.markdown_table(summary["generation"]),
        ]
    lines += [
        "",
        "Plots: `eval_reconstruction.png`, `eval_blends.png`, `eval_example.png` (a decode "
        "beside its original and the baselines), `eval_blend_example.png` (one pair blended "
        "each way at α = 0.5, whole and close up), `eval_latent_pca.png` and, when the "
        "training log is in the folder, `eval_training.png`.",
        "",
    ]
    return "\n".join(lines)
