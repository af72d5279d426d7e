"""The report's classifier comparison: six classifiers, each over its grid, per-class tables.

Decision tree (leaf sizes 1–25), logistic regression and an RBF SVM
(C 0.001–200), KNN (k 5–40), Gaussian naive Bayes and a GMM per class
(1, 2 or 4 diagonal components) are tuned by cross-validation on a
label-balanced training split (folds grouped by source file, so no file
feeds both sides of a fold), then scored on a label-balanced test split of
other files: accuracy, macro F1 and per-class precision / recall / F1.

With a model the same fitted classifiers also label the test clips'
reconstructions and latent blends of pairs with different labels at
α = 0.25 / 0.5 / 0.75, beside a log-mel crossfade of the same pairs: is a blend
still classified as its endpoints' genre? Features are per pooled mel band
mean and spread (:func:`mel_features`), or any feature table (FMA's
``features.csv``).
"""

import hashlib
import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, f1_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from tqdm import tqdm

from musinterp_app.base.files import write_atomically
from musinterp_app.model import latent
from musinterp_app.model.onnx_vae import OnnxVAE
from musinterp_app.training.dataset import data, fma
from musinterp_app.training.dataset.fma_features import read_feature_table
from musinterp_app.training.evaluation.figures import save_figure

FEATURE_BANDS = 64  # mel bands pooled to this many for the features
BLEND_ALPHAS = (0.25, 0.5, 0.75)
C_GRID = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 200.0]
GRIDS = {  # the report's grids
    "decision tree": {"min_samples_leaf": [1, 2, 3, 5, 8, 12, 16, 20, 25]},
    "logistic regression": {"C": C_GRID},
    "SVM": {"C": C_GRID},
    "KNN": {"n_neighbors": [5, 10, 15, 20, 25, 30, 35, 40]},
    "Gaussian naive Bayes": {"var_smoothing": [1e-9, 1e-6, 1e-3]},
    "GMM": {"components": [1, 2, 4]},
}


class GMMClassifier(ClassifierMixin, BaseEstimator):
    """One Gaussian mixture per label (diagonal covariances); a clip gets the label whose
    mixture gives it the highest likelihood times the label's share."""

    def __init__(self, components: int = 2, seed: int = 0) -> None:
        self.components = components
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> "GMMClassifier":
        self.classes_ = np.unique(y)
        self.mixtures_, self.log_priors_ = [], []
        for label in self.classes_:
            members = x[y == label]
            if len(members) == 1:  # a fold with one clip of a label: its spread is reg_covar
                members = np.repeat(members, 2, axis=0)
            mixture = GaussianMixture(
                min(self.components, len(members)),
                covariance_type="diag",
                reg_covar=1e-3,
                random_state=self.seed,
            )
            self.mixtures_.append(mixture.fit(members))
            self.log_priors_.append(np.log(len(members) / len(x)))
        return self

    def _log_posterior(self, x: np.ndarray) -> np.ndarray:
        return np.stack(
            [m.score_samples(x) + p for m, p in zip(self.mixtures_, self.log_priors_, strict=True)],
            axis=1,
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self._log_posterior(x).argmax(axis=1)]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        scores = self._log_posterior(x)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)


def _estimator(name: str, seed: int) -> BaseEstimator:
    return {
        "decision tree": lambda: DecisionTreeClassifier(random_state=seed),
        "logistic regression": lambda: LogisticRegression(max_iter=2000),
        "SVM": lambda: SVC(kernel="rbf"),
        "KNN": lambda: KNeighborsClassifier(),
        "Gaussian naive Bayes": lambda: GaussianNB(),
        "GMM": lambda: GMMClassifier(seed=seed),
    }[name]()


def mel_features(segments: np.ndarray) -> np.ndarray:
    """Per pooled band mean and spread over time ``[N, 2 · FEATURE_BANDS]`` of
    log-mel ``[N, n_mels, frames]``."""
    count, n_mels, frames = segments.shape
    group = max(1, n_mels // FEATURE_BANDS)
    pooled = segments[:, : n_mels // group * group].reshape(count, -1, group, frames).mean(axis=2)
    return np.concatenate([pooled.mean(axis=-1), pooled.std(axis=-1)], axis=-1)


def fit_all(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, *, seed: int = 0, progress: bool = True
) -> dict:
    """Each classifier tuned over its grid: ``{name: {"model", "best_params", "cv_accuracy"}}``.

    Folds are grouped by ``groups`` (the source file), as many as the label with
    the fewest files allows (2 … 3); grid values a fold is too small for (k above
    the fold's size) are left out (k = the fold's size when all are).
    """
    files_per_label = min(len(set(groups[y == label])) for label in np.unique(y))
    folds = max(2, min(3, files_per_label))
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    fold_size = len(x) - -(-len(x) // folds)
    fitted = {}
    names = tqdm(GRIDS, desc="classifiers", leave=False) if progress else GRIDS
    for name in names:
        grid = {
            f"classify__{key}": (
                [v for v in values if v <= fold_size] or [fold_size]
                if key == "n_neighbors"
                else values
            )
            for key, values in GRIDS[name].items()
        }
        pipeline = Pipeline([("scale", StandardScaler()), ("classify", _estimator(name, seed))])
        search = GridSearchCV(pipeline, grid, cv=cv, scoring="accuracy", error_score=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)  # a fold short of one label's files
            search.fit(x, y, groups=groups)
        fitted[name] = {
            "model": search.best_estimator_,
            "best_params": {k.split("__", 1)[1]: v for k, v in search.best_params_.items()},
            "cv_accuracy": round(float(search.best_score_), 3),
        }
    return fitted


def scores(model, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy, macro F1 and per-class precision / recall / F1 / support of ``model`` on ``x``."""
    predicted = model.predict(x)
    report = classification_report(y, predicted, output_dict=True, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(y, predicted)), 3),
        "macro_f1": round(float(f1_score(y, predicted, average="macro", zero_division=0)), 3),
        "per_class": {
            label: {
                "precision": round(report[label]["precision"], 3),
                "recall": round(report[label]["recall"], 3),
                "f1": round(report[label]["f1-score"], 3),
                "support": int(report[label]["support"]),
            }
            for label in sorted(set(y))
        },
    }


def balanced_split(
    rows: list[dict],
    *,
    test_share: float = 0.2,
    min_files: int = 3,
    max_per_label: int = 240,
    seed: int = 0,
) -> tuple[list[dict], list[dict], list[str]]:
    """Training rows, test rows and the labels left out, from a cache's index.

    Each label's files are split apart (a ``test_share`` of them, at least one,
    chosen by a hash of the file id: the same split every time), so no file is
    on both sides and every label is on both; then each side is cut to the same
    number of clips per label. Labels with fewer than ``min_files`` files are
    left out (a classifier cannot be tuned and tested on them).
    """
    rng = np.random.default_rng(seed)
    files: dict[str, dict[str, list[dict]]] = {}
    for row in sorted(rows, key=lambda row: row["segment"]):
        files.setdefault(row["label"], {}).setdefault(row["file_id"], []).append(row)
    left_out = sorted(label for label, by_file in files.items() if len(by_file) < min_files)
    kept = {label: by_file for label, by_file in files.items() if label not in left_out}
    if len(kept) < 2:
        raise ValueError(
            f"the classifier comparison needs two labels with at least {min_files} files each"
        )
    sides: tuple[dict, dict] = ({}, {})
    for label, by_file in kept.items():
        order = sorted(by_file, key=lambda f: hashlib.sha1(f.encode()).hexdigest())
        held = max(1, round(test_share * len(order)))
        sides[1][label] = [r for f in order[:held] for r in by_file[f]]
        sides[0][label] = [r for f in order[held:] for r in by_file[f]]

    def balanced(side: dict[str, list[dict]], cap: int) -> list[dict]:
        count = min(cap, *(len(group) for group in side.values()))
        return [
            side[label][i]
            for label in sorted(side)
            for i in sorted(rng.choice(len(side[label]), count, replace=False))
        ]

    return balanced(sides[0], max_per_label), balanced(sides[1], max_per_label), left_out


def blend_pairs(labels: list[str], count: int, seed: int = 0) -> list[tuple[int, int]]:
    """Up to ``count`` pairs of clips with different labels, each label pair in turn."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    names = sorted(by_label)
    pairs = []
    for _ in range(count):
        a, b = rng.choice(len(names), 2, replace=False)
        pairs.append((int(rng.choice(by_label[names[a]])), int(rng.choice(by_label[names[b]]))))
    return pairs


def model_sets(
    model: OnnxVAE, segments: np.ndarray, labels: list[str], *, pairs: int = 48, seed: int = 0
) -> dict:
    """What the model makes of test clips ``[N, n_mels, frames]``: ``{"reconstructions":
    log-mel, "blends": {"model α=…": (log-mel, pairs), "crossfade α=…": …}}``."""
    frames = segments.shape[-1]
    latents = [model.encode(s) for s in tqdm(segments, desc="encode", leave=False)]
    reconstructions = np.stack([model.decode(z)[:, :frames] for z in latents])
    chosen = blend_pairs(labels, pairs, seed)
    blends = {}
    for alpha in BLEND_ALPHAS:
        blends[f"model α={alpha}"] = np.stack(
            [
                model.decode(latent.lerp(latents[i], latents[j], alpha))[:, :frames]
                for i, j in chosen
            ]
        )
        blends[f"crossfade α={alpha}"] = np.stack(
            [(1 - alpha) * segments[i] + alpha * segments[j] for i, j in chosen]
        )
    return {"reconstructions": reconstructions, "blends": blends, "pairs": chosen}


def compare(
    train_x: np.ndarray,
    train_y: list[str],
    train_groups: list[str],
    test_x: np.ndarray,
    test_y: list[str],
    *,
    extra: dict | None = None,
    seed: int = 0,
) -> dict:
    """Fit every classifier on the training features and score it on the test features.

    ``extra`` (from :func:`model_sets`, as features): ``{"reconstructions": [N, D],
    "blends": {name: [P, D]}, "pairs": [(i, j), …]}`` indexing the test clips.
    Returns ``{name: {"best_params", "cv_accuracy", "originals": scores, …}}``.
    """
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    fitted = fit_all(train_x, train_y, np.asarray(train_groups), seed=seed)
    result = {}
    for name, item in fitted.items():
        entry = {
            "best_params": item["best_params"],
            "cv_accuracy": item["cv_accuracy"],
            "originals": scores(item["model"], test_x, test_y),
        }
        if extra is not None:
            entry["reconstructions"] = scores(item["model"], extra["reconstructions"], test_y)
            entry["blends"] = {}
            for blend_name, features in extra["blends"].items():
                predicted = item["model"].predict(features)
                ends = np.asarray(extra["pairs"])  # [pairs, 2]: the clips blended
                entry["blends"][blend_name] = {
                    "as_a": round(float(np.mean(predicted == test_y[ends[:, 0]])), 3),
                    "as_b": round(float(np.mean(predicted == test_y[ends[:, 1]])), 3),
                }
        result[name] = entry
    return result


def compare_on_cache(
    cache,
    *,
    model: OnnxVAE | None = None,
    max_per_label: int = 240,
    pairs: int = 48,
    seed: int = 0,
) -> dict:
    """The comparison on a prepared cache's clips (with a model: also on what it makes, and
    on its blends of ``pairs`` pairs of test clips)."""
    train_rows, test_rows, left_out = balanced_split(
        data.read_index(cache), max_per_label=max_per_label, seed=seed
    )

    train_segments = data.read_segments(cache, train_rows, progress="read")
    test_segments = data.read_segments(cache, test_rows, progress="read")
    test_labels = [row["label"] for row in test_rows]
    extra = None
    if model is not None:
        made = model_sets(model, test_segments, test_labels, pairs=pairs, seed=seed)
        extra = {
            "reconstructions": mel_features(made["reconstructions"]),
            "blends": {name: mel_features(values) for name, values in made["blends"].items()},
            "pairs": made["pairs"],
        }
    train_files = [row["file_id"] for row in train_rows]
    result = compare(
        mel_features(train_segments),
        [row["label"] for row in train_rows],
        train_files,
        mel_features(test_segments),
        test_labels,
        extra=extra,
        seed=seed,
    )
    return _comparison(
        f"mean and spread over time of {FEATURE_BANDS} pooled mel bands",
        train_files,
        [row["file_id"] for row in test_rows],
        test_labels,
        left_out,
        result,
    )


def _comparison(
    features: str,
    train_files: list[str],
    test_files: list[str],
    test_labels: list[str],
    left_out: list[str],
    classifiers: dict,
) -> dict:
    """What a comparison reports, its counts derived from the file (and label) of each
    training and test clip."""
    return {
        "features": features,
        "train_clips": len(train_files),
        "test_clips": len(test_files),
        "train_files": len(set(train_files)),
        "test_files": len(set(test_files)),
        "labels": sorted(set(test_labels)),
        "labels_left_out": left_out,
        "classifiers": classifiers,
    }


def compare_on_fma(
    tracks_csv: Path, features_csv: Path, *, subset: str = "small", seed: int = 0
) -> dict:
    """The comparison on FMA's own features of a subset's balanced genres (:func:`fma.select`),
    with FMA's split: training and validation tracks fit, test tracks score."""
    tracks = fma.select(fma.read_tracks(tracks_csv), subset, balanced=True)
    ids, columns, values = read_feature_table(features_csv)
    sides: tuple[list[int], list[int]] = ([], [])
    for row, track_id in enumerate(ids):
        if track_id in tracks:
            sides[tracks[track_id].split == "test"].append(row)
    train, test = sides
    labels = [tracks[t].label if t in tracks else "" for t in ids]
    for name, side in (("training", train), ("test", test)):
        missing = set(fma.BALANCED_GENRES) - {labels[row] for row in side}
        if missing:
            raise ValueError(
                f"FMA {subset} has no {name} tracks of {', '.join(sorted(missing))} in "
                f"{features_csv}: the comparison needs every genre on both sides"
            )
    train_files, test_labels = [str(ids[row]) for row in train], [labels[row] for row in test]
    result = compare(
        values[train],
        [labels[row] for row in train],
        train_files,
        values[test],
        test_labels,
        seed=seed,
    )
    return _comparison(  # one clip (FMA's feature row) per track; every genre on both sides
        f"{Path(features_csv).name} ({len(columns)} values per track), FMA {subset}",
        train_files,
        [str(ids[row]) for row in test],
        test_labels,
        [],
        result,
    )


def markdown(comparison: dict, *, per_class: bool = True) -> list[str]:
    """The comparison as Markdown: a summary table, blends, then (``per_class``) a
    precision / recall / F1 table per classifier and set."""
    classifiers = comparison["classifiers"]
    with_model = "reconstructions" in next(iter(classifiers.values()))
    lines = [
        "## Classifier comparison",
        "",
        f"Features: {comparison['features']}. Training: {comparison['train_clips']} clips "
        f"from {comparison['train_files']} files; test: {comparison['test_clips']} clips from "
        f"{comparison['test_files']} other files; both balanced over "
        f"{len(comparison['labels'])} labels (chance {1 / len(comparison['labels']):.2f}).",
        "",
    ]
    if comparison.get("labels_left_out"):
        lines += [f"Left out (too few files): {', '.join(comparison['labels_left_out'])}.", ""]
    header = "| classifier | best setting | CV accuracy | test accuracy | macro F1 |"
    rule = "| --- | --- | --- | --- | --- |"
    if with_model:
        header += " reconstructions: accuracy | macro F1 |"
        rule += " --- | --- |"
    lines += [header, rule]
    for name, item in classifiers.items():
        setting = ", ".join(f"{k} = {v:g}" for k, v in item["best_params"].items()) or "–"
        row = (
            f"| {name} | {setting} | {item['cv_accuracy']} | {item['originals']['accuracy']} | "
            f"{item['originals']['macro_f1']} |"
        )
        if with_model:
            row += (
                f" {item['reconstructions']['accuracy']} | {item['reconstructions']['macro_f1']} |"
            )
        lines.append(row)
    lines.append("")
    if with_model:
        lines += [
            "### Blends: still classified as their endpoints' labels?",
            "",
            "Share of pairs (clips with different labels) whose blend is given A's / B's label; "
            "the model's latent blend beside a log-mel crossfade of the same pair.",
            "",
            "| classifier | "
            + " | ".join(f"model α={a} | crossfade α={a}" for a in BLEND_ALPHAS)
            + " |",
            "| --- | " + " | ".join("--- | ---" for _ in BLEND_ALPHAS) + " |",
        ]
        for name, item in classifiers.items():
            shares = [
                item["blends"][f"{k} α={a}"] for a in BLEND_ALPHAS for k in ("model", "crossfade")
            ]
            cells = [f"{share['as_a']} / {share['as_b']}" for share in shares]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    for name, item in classifiers.items() if per_class else ():
        sets = [("originals", item["originals"])]
        if with_model:
            sets.append(("reconstructions", item["reconstructions"]))
        for what, values in sets:
            accuracy, f1 = values["accuracy"], values["macro_f1"]
            lines += [
                f"### {name}, {what} (accuracy {accuracy}, macro F1 {f1})",
                "",
                "| label | precision | recall | F1 | clips |",
                "| --- | --- | --- | --- | --- |",
            ]
            lines += [
                f"| {label} | {c['precision']} | {c['recall']} | {c['f1']} | {c['support']} |"
                for label, c in values["per_class"].items()
            ]
            lines.append("")
    return lines


def _plot(path: Path, comparison: dict) -> None:
    """Test accuracy of each classifier on originals (and reconstructions), a bar chart."""
    classifiers = comparison["classifiers"]
    names = list(classifiers)
    sets = ["originals"] + (
        ["reconstructions"] if "reconstructions" in classifiers[names[0]] else []
    )
    figure, axis = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(sets)
    for k, what in enumerate(sets):
        values = [classifiers[n][what]["accuracy"] for n in names]
        axis.bar(np.arange(len(names)) + k * width, values, width, label=what)
    axis.axhline(1 / len(comparison["labels"]), color="k", ls="--", lw=0.8, label="chance")
    axis.set_xticks(np.arange(len(names)) + width * (len(sets) - 1) / 2, names, rotation=20)
    axis.set_ylabel("test accuracy (balanced labels)")
    axis.set_ylim(0, 1)
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


def write_report(comparison: dict, out: Path) -> Path:
    """``classifiers.md``, ``classifiers.json`` and ``classifiers.png`` in ``out``; the
    Markdown's path. Each written under a temporary name, then renamed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(out / "classifiers.png", comparison)
    texts = {
        "classifiers.json": json.dumps(comparison, indent=2),
        "classifiers.md": "\n".join(
            ["# Classifiers", "", "![test accuracy](classifiers.png)", "", *markdown(comparison)]
        ),
    }
    for name, text in texts.items():
        write_atomically(out / name, text)
    return out / "classifiers.md"
