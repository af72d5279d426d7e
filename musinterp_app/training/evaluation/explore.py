"""``explore``: a look at a data set before training on it (the report's EDA).

Writes ``REPORT.md``, ``explore.json`` and PNG figures into a folder:

- how many clips and files each label has (a bar chart), and with FMA's
  ``tracks.csv`` the genre counts of all its tracks and of its balanced
  subset (``small``);
- 2-D maps of per-clip features coloured by label, made with PCA, t-SNE
  (scikit-learn) and UMAP (umap-learn), each with its run time, for the mel
  statistics (per pooled band mean and spread, the classifiers' features) of a
  prepared cache or of the first clips of every file in folders of audio,
  FMA's precomputed low-level features (``features.csv``: chroma, MFCC,
  spectral contrast, tonnetz, …) and its
  high-level Echo Nest features (``echonest.csv``: acousticness, danceability,
  energy, …), each when given.

Every file is written under a temporary name and renamed, so a report folder
never holds half a figure.
"""

import functools
import json
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from musinterp_app.audio import io, mel
from musinterp_app.base.files import write_atomically
from musinterp_app.training.dataset import data, fma
from musinterp_app.training.dataset.fma_features import ECHONEST_GROUPS, read_feature_table
from musinterp_app.training.evaluation import classifiers
from musinterp_app.training.evaluation.figures import save_figure

METHODS = ("PCA", "t-SNE", "UMAP")
FEATURE_BATCH = 256  # clips read from the shards at once for their mel statistics


@functools.cache
def umap_warm_up_s() -> float:
    """Import umap-learn and compile its numba code once, on a tiny problem; seconds taken.

    Done before any map is timed, so the UMAP times are of the method, not the compiler.
    """
    started = time.perf_counter()
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        umap.UMAP(n_neighbors=5, n_epochs=5, n_jobs=1).fit_transform(
            np.random.default_rng(0).standard_normal((30, 4))
        )
    return time.perf_counter() - started


def embed(features: np.ndarray, *, seed: int = 0) -> dict[str, tuple[np.ndarray, float]]:
    """Each method's 2-D map of standardised ``[N, D]`` features and its run time (s)."""
    umap_warm_up_s()
    import umap

    x = StandardScaler().fit_transform(features)
    count = len(x)
    makers = {
        "PCA": lambda: PCA(2, random_state=seed).fit_transform(x),
        "t-SNE": lambda: TSNE(
            2, perplexity=min(30.0, (count - 1) / 3), init="pca", random_state=seed
        ).fit_transform(x),
        "UMAP": lambda: umap.UMAP(
            n_neighbors=min(15, count - 1), random_state=seed, n_jobs=1
        ).fit_transform(x),
    }
    maps = {}
    for method, make in makers.items():
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap's notes on seeds and parallelism
            points = make()
        maps[method] = (np.asarray(points), time.perf_counter() - started)
    return maps


def _plot_counts(path: Path, panels: list[tuple[str, dict[str, int]]]) -> None:
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(7 * columns, 4.2 * rows), squeeze=False)
    for axis, (title, counts) in zip(axes.flat, panels, strict=True):
        names = sorted(counts, key=lambda name: (-counts[name], name))
        axis.bar(range(len(names)), [counts[n] for n in names], color="#3b7dd8")
        axis.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
        axis.set_title(title, fontsize=10)
        for x, name in enumerate(names):
            axis.text(x, counts[name], str(counts[name]), ha="center", va="bottom", fontsize=7)
    figure.tight_layout()
    save_figure(figure, path)


def _plot_maps(path: Path, title: str, maps: dict, labels: list[str]) -> None:
    figure, axes = plt.subplots(1, len(maps), figsize=(5.2 * len(maps), 4.8))
    names = sorted(set(labels))
    colours = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    label_array = np.array(labels)
    for axis, (method, (points, seconds)) in zip(axes, maps.items(), strict=True):
        for k, name in enumerate(names):
            chosen = label_array == name
            axis.scatter(*points[chosen].T, s=9, color=colours(k % colours.N), label=name)
        axis.set_title(f"{method} ({seconds:.2f} s)", fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    axes[-1].legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    save_figure(figure, path)


def _cache_features(cache: Path, max_per_label: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Mel statistics of up to ``max_per_label`` clips per label of a cache ``[N, D]``."""
    rows = data.read_index(cache)
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[dict]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    chosen = []
    for label in sorted(by_label):
        group = by_label[label]
        picks = rng.choice(len(group), min(max_per_label, len(group)), replace=False)
        chosen += [group[i] for i in sorted(picks)]
    features = []  # a batch at a time: all the clips' log-mel may not fit in memory
    with tqdm(total=len(chosen), desc="mel statistics", unit="clip", leave=False) as progress:
        for start in range(0, len(chosen), FEATURE_BATCH):
            batch = chosen[start : start + FEATURE_BATCH]
            features.append(classifiers.mel_features(data.read_segments(cache, batch)))
            progress.update(len(batch))
    return np.concatenate(features), [row["label"] for row in chosen]


def _folder_features(
    folders: list[Path], clips_per_file: int
) -> tuple[np.ndarray, list[str], dict[str, int]]:
    """Mel statistics of the first ``clips_per_file`` 5-s clips of every audio file under
    ``folders`` (one folder per label, as ``prepare`` reads them): features ``[N, D]``,
    their labels, and files per label. Unreadable files are left out."""
    config = mel.MelConfig()
    sources, _ = data.find_sources(folders)
    features, labels, files = [], [], {}
    for source in tqdm(sources, desc="mel statistics", unit="file", leave=False):
        try:
            clips = data.whole_segments(source.path, config, max_segments=clips_per_file)
        except io.AudioLoadError:
            continue
        if not len(clips):
            continue
        features.append(classifiers.mel_features(clips))
        labels += [source.label] * len(clips)
        files[source.label] = files.get(source.label, 0) + 1
    if not features:
        raise ValueError("no audio file under the folders given is 5 s long or readable")
    return np.concatenate(features), labels, files


def _from_cache(cache: Path, max_per_label: int, seed: int) -> tuple[dict, list, list]:
    """A prepared cache's counts (clips and files per label), their panels, and its clips'
    mel statistics as a feature set."""
    clips, files = {}, {}
    for row in data.read_index(cache):
        clips[row["label"]] = clips.get(row["label"], 0) + 1
        files.setdefault(row["label"], set()).add(row["file_id"])
    counts = {
        "clips per label": clips,
        "files per label": {k: len(v) for k, v in files.items()},
    }
    panels = [("5-s clips per label", clips), ("files per label", counts["files per label"])]
    title = "mel statistics of the cache's clips"
    return counts, panels, [("mel", title, *_cache_features(cache, max_per_label, seed))]


def _from_fma(
    metadata: Path, features: Path | None, echonest: Path | None
) -> tuple[dict, list, list]:
    """FMA's genre counts (all tracks, the small subset), their panels, and its feature
    tables (those given) as feature sets of the tracks with a genre."""
    tracks = fma.read_tracks(metadata)
    genres = {tid: t.label for tid, t in tracks.items() if t.label != fma.NO_GENRE}
    every = _counts(genres.values())
    small = _counts(
        t.label for t in fma.select(tracks, "small").values() if t.label != fma.NO_GENRE
    )
    counts = {
        "FMA tracks per genre": every,
        "FMA small (balanced) tracks per genre": small,
    }
    panels = [("FMA: tracks per top genre", every), ("FMA small (balanced subset)", small)]
    sets = []
    for name, path, title, groups in (
        ("fma_features", features, "FMA low-level features (features.csv)", None),
        ("fma_echonest", echonest, "FMA Echo Nest features (echonest.csv)", ECHONEST_GROUPS),
    ):
        if path is None:
            continue
        ids, columns, values = read_feature_table(path, groups=groups)
        labelled = [i for i, tid in enumerate(ids) if tid in genres]
        if len(labelled) < 5:
            raise ValueError(f"{path}: fewer than 5 of its tracks have a genre in tracks.csv")
        sets.append(
            (
                name,
                f"{title}, {len(columns)} values per track",
                values[labelled],
                [genres[ids[i]] for i in labelled],
            )
        )
    return counts, panels, sets


def explore(
    out: Path,
    *,
    cache: Path | None = None,
    audio: list[Path] = (),
    clips_per_file: int = 3,
    fma_metadata: Path | None = None,
    fma_features: Path | None = None,
    fma_echonest: Path | None = None,
    max_per_label: int = 300,
    seed: int = 0,
) -> dict:
    """Write the report (see the module docstring) into ``out``; returns what it measured."""
    if cache is None and not audio and fma_metadata is None:
        raise ValueError(
            "give a prepared cache (--data), folders of audio (--audio) or FMA's tracks.csv "
            "(--fma-metadata)"
        )
    if (fma_features or fma_echonest) and fma_metadata is None:
        raise ValueError("FMA's feature tables need its tracks.csv (--fma-metadata) for genres")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"counts": {}, "maps": {}}
    count_panels, feature_sets = [], []
    if cache is not None:
        counts, panels, sets = _from_cache(cache, max_per_label, seed)
        summary["counts"] |= counts
        count_panels += panels
        feature_sets += sets
    if audio:
        features, labels, files = _folder_features([Path(f) for f in audio], clips_per_file)
        summary["counts"]["audio files per folder"] = files
        count_panels.append(("audio files per folder", files))
        title = f"mel statistics of the folders' first {clips_per_file} clips per file"
        feature_sets.append(("folders", title, features, labels))
    if fma_metadata is not None:
        counts, panels, sets = _from_fma(fma_metadata, fma_features, fma_echonest)
        summary["counts"] |= counts
        count_panels += panels
        feature_sets += sets

    _plot_counts(out / "labels.png", count_panels)
    if feature_sets:
        summary["umap_warm_up_s"] = round(umap_warm_up_s(), 2)
    for name, title, features, labels in tqdm(feature_sets, desc="maps", unit="feature set"):
        maps = embed(features, seed=seed)
        _plot_maps(out / f"map_{name}.png", f"{title}: {len(labels)} items", maps, labels)
        summary["maps"][name] = {
            "title": title,
            "items": len(labels),
            "dimensions": int(features.shape[1]),
            "labels": len(set(labels)),
            "seconds": {method: round(seconds, 3) for method, (_, seconds) in maps.items()},
            "figure": f"map_{name}.png",
        }
    write_atomically(out / "explore.json", json.dumps(summary, indent=2))
    write_atomically(out / "REPORT.md", _markdown(summary))
    return summary


def _counts(labels) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return counts


def _markdown(summary: dict) -> str:
    lines = ["# Data set", "", "![label counts](labels.png)", ""]
    for title, counts in summary["counts"].items():
        lines += [f"## {title}", "", "| label | count |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
        lines.append("")
    lines += [
        "## Maps",
        "",
        "Each item's features, standardised, placed in 2-D by PCA (linear), t-SNE and UMAP "
        "(neighbourhoods), coloured by label. Run times on this machine (UMAP's one-time "
        f"import and compilation, {summary.get('umap_warm_up_s', 0):.1f} s, not included):",
        "",
        "| features | items | values each | labels | "
        + " | ".join(f"{m} (s)" for m in METHODS)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in METHODS) + " |",
    ]
    for item in summary["maps"].values():
        times = " | ".join(f"{item['seconds'][m]:.2f}" for m in METHODS)
        size = f"{item['items']} | {item['dimensions']} | {item['labels']}"
        lines.append(f"| {item['title']} | {size} | {times} |")
    lines.append("")
    for item in summary["maps"].values():
        lines += [f"![{item['title']}]({item['figure']})", ""]
    return "\n".join(lines)
