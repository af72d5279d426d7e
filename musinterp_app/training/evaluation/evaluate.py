"""``evaluate``: how good an exported model is, in measures a listener would agree with.

Everything runs through the exported ONNX graphs (:class:`OnnxVAE`), i.e.
exactly what the app ships, on a fixed, label-balanced set of 5-s clips
drawn from all held-out source files. Medians over clips throughout.

- **Reconstruction**, for this model and every baseline (a mean spectrum per
  clip, a PCA with the same number of latent values per second fitted on the
  training split, and any ``--baseline`` model folders): log-mel MAE;
  spectral convergence (SC) against the true audio's STFT after 32
  Griffin-Lim iterations, at the best gain, with the no-model round trip
  (the original mel) beside it; detail ratios (band-to-band and
  frame-to-frame variation ÷ the original's: below 1 is blur).
- **Blends** over α = 0, 0.1 … 1 for pairs of clips with different labels,
  pure-model and "keep detail": monotonicity (distance to A never falls, to B
  never rises), largest / mean step, detail ratio at α = 0.5 ÷ the endpoints',
  and the **model share** C(α) = MAE(blend, log-mel crossfade) ÷ MAE(A, B):
  how much of what is heard comes from the model rather than a crossfade.
- **Label check**: an SVM on mel statistics, trained on the training split,
  labels originals, reconstructions and blends, beside a crossfade and a
  power mix of the same pair.
- **Speed and size**: encode and decode of one 5-s clip, the folder's size.
- **Classifiers** (:mod:`.classifiers`): the report's six, tuned over its grids on
  a label-balanced split of the cache, on originals, reconstructions and blends
  beside a crossfade (``classifiers.md``).
- **Generation**, when the model has a fitted prior (``prior.npz``): generated
  clips against training and held-out ones (:mod:`.generation`).

Writes ``evaluation.json``, ``EVALUATION.md`` and PNG plots, and records the
summary in the model card (``MODEL.md``).
"""

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from tqdm import tqdm

from musinterp_app.audio import io, mel, stft
from musinterp_app.audio.griffinlim import griffinlim
from musinterp_app.base.files import write_atomically
from musinterp_app.model import latent, prior
from musinterp_app.model.onnx_vae import OnnxVAE
from musinterp_app.training.dataset import data
from musinterp_app.training.evaluation import blends, classifiers, generation, metrics, report
from musinterp_app.training.evaluation.blends import power_mix

ALPHAS = np.round(np.linspace(0.0, 1.0, 11), 2)
MONOTONIC_TOLERANCE_DB = 0.1
GRIFFIN_LIM_ITERATIONS = 32
TARGETS = {  # issue "Model v3": what a sharp model whose latent path really blends reaches
    "sc_db": ("≤", -12.0),
    "detail_bands": ("≥", 0.75),
    "detail_frames": ("≥", 0.85),
    "blend_detail_ratio": ("≥", 0.8),
    "blend_max_step_ratio": ("≤", 1.3),
    "interpolation_share_mid": ("≥", 0.3),  # slerp, the default interpolation
    "intermediateness_mid": ("≤", 0.1),
    "size_mb": ("≤", 20.0),
}


def reconstruct(model: OnnxVAE, segments: np.ndarray, *, progress: bool = False) -> np.ndarray:
    """Decoded posterior means of ``[N, n_mels, frames]``, same shape."""
    frames = segments.shape[-1]
    chosen = tqdm(segments, desc="reconstruct", leave=False) if progress else segments
    return np.stack([model.decode(model.encode(segment))[:, :frames] for segment in chosen])


class PatchPCA:
    """The linear baseline: PCA of ``patch``-frame log-mel patches, ``components`` per patch.

    With ``patch`` = the model's time reduction and ``components`` = its latent
    channels it keeps exactly as many numbers per second as the model's latent.
    """

    def __init__(self, segments: np.ndarray, patch: int, components: int, seed: int = 0) -> None:
        self.patch = patch
        patches = self._patches(segments)
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(patches), min(len(patches), 40_000), replace=False)
        components = min(components, len(chosen), patches.shape[1])  # tiny data sets
        self.pca = PCA(components, svd_solver="randomized", random_state=seed)
        self.pca.fit(patches[chosen])

    def _patches(self, segments: np.ndarray) -> np.ndarray:
        count, n_mels, frames = segments.shape
        usable = frames // self.patch * self.patch
        blocks = segments[..., :usable].reshape(count, n_mels, -1, self.patch)
        return blocks.transpose(0, 2, 1, 3).reshape(-1, n_mels * self.patch)

    def reconstruct(self, segments: np.ndarray) -> np.ndarray:
        """Projection onto the components, same shape as ``segments`` (tail frames kept)."""
        count, n_mels, frames = segments.shape
        usable = frames // self.patch * self.patch
        projected = self.pca.inverse_transform(self.pca.transform(self._patches(segments)))
        out = segments.copy()
        out[..., :usable] = (
            projected.reshape(count, -1, n_mels, self.patch)
            .transpose(0, 2, 1, 3)
            .reshape(count, n_mels, usable)
        )
        return out


def best_gain_convergence_db(estimate: np.ndarray, truth: np.ndarray) -> float:
    """SC in dB of a magnitude ``[bins, frames]`` against the truth, at the best scalar gain."""
    frames = min(estimate.shape[1], truth.shape[1])
    estimate = np.asarray(estimate[:, :frames], np.float64)
    truth = np.asarray(truth[:, :frames], np.float64)
    gain = float((estimate * truth).sum() / max((estimate * estimate).sum(), 1e-20))
    error = np.linalg.norm(gain * estimate - truth) / max(np.linalg.norm(truth), 1e-12)
    return float(20 * np.log10(error + 1e-12))


def griffin_lim_convergence_db(
    normalised: np.ndarray, truth: np.ndarray, config: mel.MelConfig
) -> float:
    """Log-mel ``[n_mels, frames]`` → 32 Griffin-Lim iterations → SC against ``truth``."""
    sound = griffinlim(
        mel.to_magnitude(normalised, config),
        hop_length=config.hop_length,
        n_iter=GRIFFIN_LIM_ITERATIONS,
        rng=np.random.default_rng(0),
    )
    estimate = stft.magnitude(sound, n_fft=config.n_fft, hop_length=config.hop_length)
    return best_gain_convergence_db(estimate, truth)


def _true_magnitudes(rows: list[dict], config: mel.MelConfig) -> list[np.ndarray | None]:
    """STFT magnitude of each clip's source audio (None where the file is gone)."""
    magnitudes = []
    for row in tqdm(rows, desc="source audio", leave=False):
        try:
            audio = io.load(
                row["source"],
                sample_rate=config.sample_rate,
                offset_s=float(row["offset_s"]),
                duration_s=config.segment_seconds,
            )
        except io.AudioLoadError:
            magnitudes.append(None)
            continue
        magnitudes.append(stft.magnitude(audio, n_fft=config.n_fft, hop_length=config.hop_length))
    return magnitudes


def reconstruction_scores(
    decoded: np.ndarray,
    segments: np.ndarray,
    truths: list[np.ndarray | None],
    config: mel.MelConfig,
) -> dict:
    """Median MAE, SC after Griffin-Lim, and detail ratios of ``decoded`` against ``segments``."""
    convergence = [
        griffin_lim_convergence_db(d, truth, config)
        for d, truth in zip(decoded, truths, strict=True)
        if truth is not None
    ]
    return {
        "mae_db": round(float(np.median(metrics.mae_db(decoded, segments, config))), 3),
        "sc_db": round(float(np.median(convergence)), 2) if convergence else None,
        "detail_bands": round(
            float(np.median(metrics.detail_ratio(decoded, segments, config, axis="bands"))), 3
        ),
        "detail_frames": round(
            float(np.median(metrics.detail_ratio(decoded, segments, config, axis="frames"))), 3
        ),
    }


def blend_series(
    model: OnnxVAE, a: np.ndarray, b: np.ndarray, config: mel.MelConfig, mode: str = "lerp"
) -> dict:
    """Pure-model and keep-detail blends of two clips over ``ALPHAS``, and their measures."""
    frames = a.shape[-1]
    z_a, z_b = model.encode(a), model.encode(b)
    pure = np.stack(
        [model.decode(latent.blend(z_a, z_b, alpha, mode))[:, :frames] for alpha in ALPHAS]
    )
    residual_a, residual_b = a - pure[0], b - pure[-1]
    kept = np.stack(
        [
            latent.restore_detail(blend, residual_a, residual_b, alpha)
            for blend, alpha in zip(pure, ALPHAS, strict=True)
        ]
    )
    distance_ab = float(metrics.mae_db(a[None], b[None], config)[0])
    result = {"distance_ab_db": round(distance_ab, 3)}
    for name, blended in (("pure", pure), ("keep_detail", kept)):
        to_a = metrics.mae_db(blended, a[None], config)
        to_b = metrics.mae_db(blended, b[None], config)
        steps = metrics.mae_db(blended[1:], blended[:-1], config)
        share = metrics.model_share(blended, a, b, ALPHAS, config)
        detail = metrics.detail_ratio(blended, np.stack([a] * len(ALPHAS)), config, axis="bands")
        middle = len(ALPHAS) // 2
        result[name] = {
            "to_a_db": to_a.round(3).tolist(),
            "to_b_db": to_b.round(3).tolist(),
            "worst_fall_to_a_db": round(float(max(0.0, -np.diff(to_a).min())), 3),
            "worst_rise_to_b_db": round(float(max(0.0, np.diff(to_b).max())), 3),
            "step_ratio": round(float(steps.max() / max(steps.mean(), 1e-9)), 3),
            "model_share": share.round(3).tolist(),
            # the middle blend's detail against the mean of the two endpoints' (same yardstick)
            "detail_ratio_mid": round(float(detail[middle] / ((detail[0] + detail[-1]) / 2)), 3),
        }
    return result


def _pairs(labels: list[str], count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Pairs of clips with different labels (or any two, with one label), no pair twice."""
    pairs: list[tuple[int, int]] = []
    for _ in range(200 * count):
        i, j = (int(k) for k in rng.choice(len(labels), size=2, replace=False))
        if (labels[i] != labels[j] or len(set(labels)) == 1) and (i, j) not in pairs:
            pairs.append((i, j))
        if len(pairs) == count:
            break
    return pairs


def mel_statistics(segments: np.ndarray) -> np.ndarray:
    """Features for the label check: per-band mean and standard deviation ``[N, 2 · n_mels]``."""
    return np.concatenate([segments.mean(axis=-1), segments.std(axis=-1)], axis=-1)


def label_check(
    model: OnnxVAE,
    cache: Path,
    train_rows: list[dict],
    segments: np.ndarray,
    decoded: np.ndarray,
    labels: list[str],
    pairs: list[tuple[int, int]],
    rng: np.random.Generator,
) -> dict:
    """Which label an SVM on mel statistics gives originals, reconstructions and blends."""
    config = model.mel_config
    sample = [train_rows[i] for i in rng.choice(len(train_rows), min(3000, len(train_rows)), False)]
    train_segments = data.read_segments(cache, sample)
    classifier = make_pipeline(StandardScaler(), SVC(C=10.0, class_weight="balanced"))
    classifier.fit(mel_statistics(train_segments), [r["label"] for r in sample])
    truth = np.array(labels)
    result = {
        "originals": float(np.mean(classifier.predict(mel_statistics(segments)) == truth)),
        "reconstructions": float(np.mean(classifier.predict(mel_statistics(decoded)) == truth)),
        "chance": float(max(labels.count(x) for x in set(labels)) / len(labels)),
    }
    latents = {i: model.encode(segments[i]) for pair in pairs for i in pair}
    frames = segments.shape[-1]
    for alpha in (0.25, 0.5, 0.75):
        kinds = {
            "model": [
                model.decode(latent.lerp(latents[i], latents[j], alpha))[:, :frames]
                for i, j in pairs
            ],
            "crossfade": [(1 - alpha) * segments[i] + alpha * segments[j] for i, j in pairs],
            "power mix": [power_mix(segments[i], segments[j], alpha, config) for i, j in pairs],
        }
        for kind, blended in kinds.items():
            predicted = classifier.predict(mel_statistics(np.stack(blended)))
            result[f"{kind} α={alpha} as A"] = float(
                np.mean([p == labels[i] for p, (i, _) in zip(predicted, pairs, strict=True)])
            )
            result[f"{kind} α={alpha} as B"] = float(
                np.mean([p == labels[j] for p, (_, j) in zip(predicted, pairs, strict=True)])
            )
    return {key: round(value, 3) for key, value in result.items()}


def speed_ms(model: OnnxVAE, segment: np.ndarray, repeats: int = 10) -> tuple[float, float]:
    """Best-of-``repeats`` encode and decode time of one clip, in milliseconds."""
    code = model.encode(segment)
    model.decode(code)
    encode, decode = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        code = model.encode(segment)
        middle = time.perf_counter()
        model.decode(code)
        encode.append(middle - started)
        decode.append(time.perf_counter() - middle)
    return round(min(encode) * 1000, 1), round(min(decode) * 1000, 1)


def _summarise_blends(series: list[dict]) -> dict:
    """Medians and worst cases of :func:`blend_series` over pairs."""
    summary = {}
    for name in ("pure", "keep_detail"):
        items = [s[name] for s in series]
        shares = np.array([item["model_share"] for item in items])
        summary[name] = {
            "monotonic_pairs": sum(
                item["worst_fall_to_a_db"] <= MONOTONIC_TOLERANCE_DB
                and item["worst_rise_to_b_db"] <= MONOTONIC_TOLERANCE_DB
                for item in items
            ),
            "worst_fall_to_a_db": max(item["worst_fall_to_a_db"] for item in items),
            "worst_rise_to_b_db": max(item["worst_rise_to_b_db"] for item in items),
            "max_step_ratio": max(item["step_ratio"] for item in items),
            "median_step_ratio": round(float(np.median([i["step_ratio"] for i in items])), 3),
            "detail_ratio_mid": round(float(np.median([i["detail_ratio_mid"] for i in items])), 3),
            "model_share_mid": round(float(np.median(shares[:, len(ALPHAS) // 2])), 3),
            "model_share_curve": np.median(shares, axis=0).round(3).tolist(),
        }
    return summary


def judge_targets(summary: dict) -> dict:
    """Every target of ``TARGETS`` and the blend study's comparisons: {measure: {"value",
    "target", "met"}}; the study's entries are left out when it was not run."""
    model = summary["reconstruction"]["this model"]
    values = {
        "sc_db": model["sc_db"],
        "detail_bands": model["detail_bands"],
        "detail_frames": model["detail_frames"],
        "blend_detail_ratio": summary["blends"]["pure"]["detail_ratio_mid"],
        "blend_max_step_ratio": summary["blends"]["pure"]["max_step_ratio"],
        "size_mb": summary["speed"]["size_mb"],
    }
    comparisons = {}
    if study := summary["blend_study"]:
        blend, crossfade = study["sets"]["pure slerp 0.5"], study["sets"]["log-mel crossfade"]
        detour = study["sets"]["random detour"]["correspondence"]
        values["interpolation_share_mid"] = study["interpolation_share_mid"]["slerp"]
        values["intermediateness_mid"] = blend["intermediateness"]
        comparisons["blend_auc_vs_crossfade"] = {
            "value": f"{blend['auc']} ({blend['low']}–{blend['high']}) vs {crossfade['auc']}",
            "target": "below the crossfade's, intervals apart",
            "met": blend["high"] < crossfade["low"],
        }
        comparisons["correspondence_mid"] = {
            "value": f"{blend['correspondence']} vs {detour}",
            "target": "below a random detour's",
            "met": blend["correspondence"] < detour,
        }
    result = {}
    for key, (sense, limit) in TARGETS.items():
        if key in values:
            value = values[key]
            met = value <= limit if sense == "≤" else value >= limit
            result[key] = {"value": value, "target": f"{sense} {limit:g}", "met": bool(met)}
    monotonic = summary["blends"]["pure"]["monotonic_pairs"]
    result["blends_monotonic"] = {
        "value": f"{monotonic}/{summary['pairs']}",
        "target": "every pair",
        "met": monotonic == summary["pairs"],
    }
    return result | comparisons


def _candidates(
    model: OnnxVAE,
    cache: Path,
    train_rows: list[dict],
    segments: np.ndarray,
    baselines: Sequence[Path],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Every reconstruction of ``segments`` ``[clips, n_mels, frames]`` judged side by
    side: this model's, the mean spectrum, a same-size PCA (temporal models) and the
    ``baselines`` models'."""
    candidates = {
        "this model": reconstruct(model, segments, progress=True),
        "mean spectrum": metrics.mean_spectrum(segments),
    }
    if model.info.temporal:
        train_sample = rng.choice(len(train_rows), min(1500, len(train_rows)), replace=False)
        pca = PatchPCA(
            data.read_segments(cache, [train_rows[i] for i in train_sample]),
            patch=model.info.time_reduction,
            components=model.info.latent_channels,
        )
        candidates["PCA, same size"] = pca.reconstruct(segments)
    for folder in baselines:
        other = OnnxVAE(folder)
        name = f"{other.info.architecture} {other.info.model_id}"
        candidates[name] = reconstruct(other, segments)
    return candidates


def _reconstruction_scores(
    candidates: dict[str, np.ndarray], segments: np.ndarray, truths: list, config
) -> dict[str, dict]:
    """Each candidate's scores, and the original mel's own Griffin-Lim round trip."""
    scores = {
        name: reconstruction_scores(values, segments, truths, config)
        for name, values in tqdm(candidates.items(), desc="Griffin-Lim", leave=False)
    }
    round_trip = [
        griffin_lim_convergence_db(s, t, config)
        for s, t in zip(segments, truths, strict=True)
        if t is not None
    ]
    scores["original mel (no model)"] = {
        "sc_db": round(float(np.median(round_trip)), 2) if round_trip else None
    }
    return scores


def _generation(
    model: OnnxVAE,
    model_dir: Path,
    cache: Path,
    train_rows: list[dict],
    segments: np.ndarray,
    rng: np.random.Generator,
    seed: int,
) -> dict | None:
    """Generated clips against training and held-out ones, when the model has a prior."""
    fitted_prior = prior.load(
        model_dir, model_id=model.info.model_id, channels=model.info.latent_channels
    )
    if fitted_prior is None:
        return None
    sample = [train_rows[i] for i in rng.choice(len(train_rows), min(500, len(train_rows)), False)]
    return generation.generation_scores(
        model,
        fitted_prior,
        data.read_segments(cache, sample),
        [row["label"] for row in sample],
        segments,
        seed=seed,
    )


def _write_report(
    out: Path,
    model_dir: Path,
    evaluation: dict,
    model: OnnxVAE,
    segments: np.ndarray,
    labels: list[str],
    candidates: dict[str, np.ndarray],
    scores: dict[str, dict],
) -> None:
    """The plots, ``evaluation.json``, ``EVALUATION.md`` and the model card's section."""
    summary, series = evaluation["summary"], evaluation["details"]["blends"]
    config = model.mel_config
    latents = np.stack([np.atleast_2d(model.encode(s).T).mean(axis=0) for s in segments])
    report.plot_reconstruction(out / "eval_reconstruction.png", scores)
    report.plot_blends(out / "eval_blends.png", series, summary["blends"], ALPHAS)
    report.plot_latent_map(out / "eval_latent_pca.png", latents, labels)
    report.plot_example(out / "eval_example.png", segments[0], candidates, config)
    first, second = evaluation["details"]["example_pair"]
    example_sets, _ = blends.pair_sets(model, segments, [(first, second)])
    report.plot_blend_example(
        out / "eval_blend_example.png", segments[first], segments[second], example_sets, config
    )
    training_log = model_dir / "training_log.csv"
    if training_log.exists():
        report.plot_training(out / "eval_training.png", training_log)
    write_atomically(out / "evaluation.json", json.dumps(evaluation, indent=2))
    markdown = report.markdown(summary, GRIFFIN_LIM_ITERATIONS)
    write_atomically(out / "EVALUATION.md", markdown)
    card = model_dir / "MODEL.md"
    if card.exists():
        text = re.sub(r"\n## Evaluation\n.*", "", card.read_text(), flags=re.S)
        card_text = text.rstrip() + "\n\n" + markdown.replace("# Evaluation", "## Evaluation")
        write_atomically(card, card_text)


def evaluate(
    model_dir: Path,
    cache: Path,
    *,
    baselines: list[Path] = (),
    out: Path | None = None,
    clips: int = 96,
    pairs: int = 24,
    study_pairs: int = 200,
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
    rows = data.balanced_validation(validation_rows, clips, seed=seed)
    labels = [row["label"] for row in rows]
    segments = data.read_segments(cache, rows)
    truths = _true_magnitudes(rows, config)

    candidates = _candidates(model, cache, train_rows, segments, baselines, rng)
    decoded = candidates["this model"]
    scores = _reconstruction_scores(candidates, segments, truths, config)

    chosen_pairs = _pairs(labels, pairs, rng)
    series = [blend_series(model, segments[i], segments[j], config) for i, j in chosen_pairs]
    encode_ms, decode_ms = speed_ms(model, segments[0])
    size_mb = sum(p.stat().st_size for p in model_dir.glob("*.onnx")) / 1e6
    mean_mae = scores["mean spectrum"]["mae_db"]
    summary = {
        "model_id": model.info.model_id,
        "architecture": model.info.architecture,
        "clips": len(segments),
        "files": len({row["file_id"] for row in rows}),
        "labels": sorted(set(labels)),
        "reconstruction": scores,
        "mae_vs_mean_spectrum": round(scores["this model"]["mae_db"] / mean_mae, 3),
        "mae_vs_pca": (
            round(scores["this model"]["mae_db"] / scores["PCA, same size"]["mae_db"], 3)
            if "PCA, same size" in scores
            else None
        ),
        "pairs": len(series),
        "blends": _summarise_blends(series),
        "label_check": label_check(
            model, cache, train_rows, segments, decoded, labels, chosen_pairs, rng
        ),
        "speed": {"encode_ms": encode_ms, "decode_ms": decode_ms, "size_mb": round(size_mb, 1)},
    }
    study_rows = blends.pair_rows(validation_rows, study_pairs, seed)
    summary["blend_study"] = (  # None: too few held-out files to pair
        blends.study(model, study_rows, data.read_segments(cache, study_rows), seed=seed)
        if len(study_rows) >= 2 * blends.MIN_PAIRS
        else None
    )
    summary["targets"] = judge_targets(summary)
    summary["classifiers"] = classifiers.compare_on_cache(cache, model=model, seed=seed)
    classifiers.write_report(summary["classifiers"], out)
    generated = _generation(model, model_dir, cache, train_rows, segments, rng, seed)
    if generated is not None:
        summary["generation"] = generated
    evaluation = {
        "summary": summary,
        "details": {"blends": series, "clips": rows, "example_pair": list(chosen_pairs[0])},
    }
    _write_report(out, model_dir, evaluation, model, segments, labels, candidates, scores)
    return evaluation
