"""Does the latent path blend, and do its blends sound like music? (Model v3's measures.)

For pairs of held-out clips from different files:

- the **interpolation share** I(α) (:func:`metrics.interpolation_share`) for lerp
  and slerp: what decoding the blended latent adds beyond crossfading the two
  decodes;
- a **random detour** as its baseline: the lerp midpoint moved along a random
  direction as far as each latent frame's half-way distance, so that a large
  share that only comes from wandering off is seen for what it is;
- sets at α = 0.5 (pure-model blends, keep-detail blends, the log-mel
  crossfade, a time-domain mix's mel, the detour) beside plain decodes, judged
  in :mod:`audio_features`' space: the two-sample AUC against real clips,
  intermediateness and correspondence; and the Fréchet distance of each set's mel
  statistics to the real clips' (:mod:`generation`'s measure).
"""

import numpy as np
from tqdm import tqdm

from musinterp_app.audio import mel
from musinterp_app.model import latent
from musinterp_app.model.onnx_vae import OnnxVAE
from musinterp_app.training.evaluation import audio_features, generation, metrics
from musinterp_app.training.evaluation.classifiers import mel_features

MIN_PAIRS = 4  # fewer pairs of held-out files make no two-sample test
CURVE_ALPHAS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0)


def power_mix(a: np.ndarray, b: np.ndarray, alpha: float, config: mel.MelConfig) -> np.ndarray:
    """What mixing the two recordings at α would give: mel powers added, as log-mel."""
    power = (1 - alpha) * mel.normalised_to_power(a, config)
    return mel.power_to_normalised(power + alpha * mel.normalised_to_power(b, config), config)


def random_detour(z_a: np.ndarray, z_b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The lerp midpoint of latents ``[C, frames]`` (or ``[C]``) moved, frame by frame, along
    a random unit direction by half the A–B distance of that frame."""
    middle = latent.lerp(z_a, z_b, 0.5)
    direction = rng.normal(size=middle.shape)
    direction /= np.linalg.norm(direction, axis=0, keepdims=True)
    return (middle + direction * np.linalg.norm(z_b - z_a, axis=0) / 2).astype(np.float32)


def pair_sets(
    model: OnnxVAE,
    segments: np.ndarray,
    pairs: list[tuple[int, int]],
    *,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """Log-mel sets ``[len(pairs), n_mels, frames]`` at α = 0.5 for every pair (A, B) of
    ``segments``, and the median interpolation share over :data:`CURVE_ALPHAS` per mode."""
    config, frames = model.mel_config, segments.shape[-1]
    rng = np.random.default_rng(seed)
    sets: dict[str, list[np.ndarray]] = {}
    shares: dict[str, list[np.ndarray]] = {mode: [] for mode in latent.MODES}
    for i, j in tqdm(pairs, desc="blend sets", leave=False):
        a, b = segments[i], segments[j]
        z_a, z_b = model.encode(a), model.encode(b)
        decoded_a, decoded_b = model.decode(z_a)[:, :frames], model.decode(z_b)[:, :frames]
        made = {
            "decodes": decoded_a,
            "log-mel crossfade": 0.5 * a + 0.5 * b,
            "time-domain mix": power_mix(a, b, 0.5, config),
            "random detour": model.decode(random_detour(z_a, z_b, rng))[:, :frames],
        }
        for mode in latent.MODES:
            curve = np.stack(
                [model.decode(latent.blend(z_a, z_b, w, mode))[:, :frames] for w in CURVE_ALPHAS]
            )
            shares[mode].append(
                [
                    metrics.interpolation_share(
                        c[None], decoded_a[None], decoded_b[None], a[None], b[None], w, config
                    )[0]
                    for c, w in zip(curve, CURVE_ALPHAS, strict=True)
                ]
            )
            at = dict(zip(CURVE_ALPHAS, curve, strict=True))
            made[f"pure {mode} 0.5"] = at[0.5]
            made[f"keep detail {mode} 0.5"] = latent.restore_detail(
                at[0.5], a - decoded_a, b - decoded_b, 0.5
            )
            if mode == "slerp":  # the quarter points, for the default candidate
                made["pure slerp 0.25"], made["pure slerp 0.75"] = at[0.25], at[0.75]
        for name, value in made.items():
            sets.setdefault(name, []).append(value)
    curves = {
        mode: np.median(np.array(values, dtype=np.float64), axis=0).round(3).tolist()
        for mode, values in shares.items()
    }
    return {name: np.stack(values) for name, values in sets.items()}, curves


def judge_sets(
    sets: dict[str, np.ndarray],
    originals_a: np.ndarray,
    originals_b: np.ndarray,
    groups: np.ndarray,
    config: mel.MelConfig,
) -> dict[str, dict]:
    """Every set's two-sample AUC against the real clips A (``originals_a``), its Fréchet
    distance to the real clips A and B in mel statistics (``frechet``), and the blends'
    intermediateness and correspondence between A and B ``[N, n_mels, frames]``."""
    real = audio_features.feature_table(originals_a, config)
    real_b = audio_features.feature_table(originals_b, config)
    scale = np.maximum(np.concatenate([real, real_b]).std(axis=0), 1e-6)
    project, real_points = generation.mel_statistics_space(
        np.concatenate([originals_a, originals_b])
    )
    results = {}
    for name, values in tqdm(sets.items(), desc="judge", leave=False):
        table = audio_features.feature_table(values, config)
        results[name] = audio_features.two_sample_auc(real, table, groups)
        points = project(mel_features(values))
        results[name]["frechet"] = round(generation.frechet_distance(points, real_points), 2)
        if name != "decodes":
            results[name] |= audio_features.blend_geometry(table, real, real_b, scale)
    return results


def study(model: OnnxVAE, cache_rows: list[dict], segments: np.ndarray, *, seed: int = 0) -> dict:
    """The whole blend study on ``segments`` ``[2N, n_mels, frames]`` taken as N pairs (row
    2k with row 2k + 1, from different files; ``cache_rows`` their index rows): the
    interpolation-share curves and every set's judgement (JSON-ready)."""
    pairs = [(2 * k, 2 * k + 1) for k in range(len(segments) // 2)]
    sets, curves = pair_sets(model, segments, pairs, seed=seed)
    groups = np.array([cache_rows[i]["file_id"] for i, _ in pairs])
    judged = judge_sets(
        sets, segments[0::2][: len(pairs)], segments[1::2][: len(pairs)], groups, model.mel_config
    )
    middle = CURVE_ALPHAS.index(0.5)
    return {
        "pairs": len(pairs),
        "alphas": list(CURVE_ALPHAS),
        "interpolation_share": curves,
        "interpolation_share_mid": {mode: curve[middle] for mode, curve in curves.items()},
        "sets": judged,
    }


def pair_rows(rows: list[dict], count: int, seed: int = 0) -> list[dict]:
    """Up to ``count`` pairs of index rows from different files, flattened (A, B, A, B …)."""
    rng = np.random.default_rng(seed)
    order = [rows[i] for i in rng.permutation(len(rows))]
    chosen: list[dict] = []
    for first, second in zip(order[0::2], order[1::2], strict=False):
        if first["file_id"] != second["file_id"]:
            chosen += [first, second]
        if len(chosen) == 2 * count:
            break
    return chosen


def markdown(result: dict) -> list[str]:
    """The study as Markdown lines: the share curves and every set's judgement."""
    lines = [
        "## Blending through the latent space",
        "",
        f"{result['pairs']} pairs of held-out clips from different files. Interpolation share "
        "I(α) = MAE(decode of the blended latent, log-mel crossfade of the two decodes) ÷ "
        "MAE(A, B): what the latent path adds beyond crossfading the model's own decodes.",
        "",
        "| α | " + " | ".join(str(a) for a in result["alphas"]) + " |",
        "| --- |" + " --- |" * len(result["alphas"]),
        *(
            f"| {mode} | " + " | ".join(str(v) for v in curve) + " |"
            for mode, curve in result["interpolation_share"].items()
        ),
        "",
        "Each set judged on features of its Griffin-Lim audio that the model never trained "
        "on: a classifier's ROC AUC against the real clips (0.5: indistinguishable; 95 % "
        "interval over folds grouped by file), and where blends lie between A and B "
        "(intermediateness 0: halfway; correspondence 1: on the way from A to B); and the "
        "Fréchet distance of its mel statistics (per-band mean and spread) to the real "
        "clips' (A and B; lower is closer).",
        "",
        "| set | two-sample AUC | interval | Fréchet distance | intermediateness | "
        "correspondence |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, judged in result["sets"].items():
        lines.append(
            f"| {name} | {judged['auc']} | {judged['low']} – {judged['high']} | "
            f"{judged.get('frechet', '–')} | {judged.get('intermediateness', '–')} | "
            f"{judged.get('correspondence', '–')} |"
        )
    return lines
