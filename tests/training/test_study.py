"""The report's study on an FMA-shaped corpus the test makes: the explorer, the classifier
comparison, and the latent prior for generation."""

import json

import numpy as np
import pytest
from support.fma import make_fma

pytest.importorskip("sklearn")
pytestmark = pytest.mark.train

from musinterp_app.model import prior  # noqa: E402
from musinterp_app.training.cli import main as train_cli  # noqa: E402
from musinterp_app.training.dataset import data, fma_features  # noqa: E402
from musinterp_app.training.evaluation import classifiers, explore, generation  # noqa: E402


@pytest.fixture(scope="module")
def fma(tmp_path_factory):
    """FMA-shaped audio and metadata (8 balanced genres, extras in medium) and its cache."""
    root = tmp_path_factory.mktemp("fma")
    corpus = make_fma(root, tracks_per_genre=3, seconds=6.0)
    cache = root / "cache"
    data.prepare([corpus.audio], cache, fma_metadata=corpus.tracks_csv)
    return corpus, cache


@pytest.mark.slow  # UMAP's first call compiles (numba): minutes on a busy 2-core machine
def test_explore_writes_every_figure_and_table(fma, tmp_path):
    corpus, cache = fma
    out = tmp_path / "report"
    status = train_cli(
        [
            "explore", "--data", str(cache), "--fma-metadata", str(corpus.tracks_csv),
            "--fma-features", str(corpus.metadata / "features.csv"),
            "--fma-echonest", str(corpus.metadata / "echonest.csv"), "-o", str(out),
        ]
    )  # fmt: skip
    assert status == 0
    summary = json.loads((out / "explore.json").read_text())
    small = summary["counts"]["FMA small (balanced) tracks per genre"]
    assert small == {genre: 3 for genre in small} and len(small) == 8
    every = summary["counts"]["FMA tracks per genre"]
    assert every["Jazz"] == 1 and sum(every.values()) == len(corpus.tracks) - 2  # 2 untagged
    assert set(summary["maps"]) == {"mel", "fma_features", "fma_echonest"}
    assert summary["maps"]["fma_features"]["dimensions"] == 518
    assert summary["maps"]["fma_echonest"]["dimensions"] == 8  # the high-level descriptors
    assert summary["maps"]["fma_echonest"]["items"] == len(corpus.tracks[::2]) - 1  # 1 untagged
    for item in summary["maps"].values():
        assert set(item["seconds"]) == set(explore.METHODS)
        assert (out / item["figure"]).stat().st_size > 10_000
    report = (out / "REPORT.md").read_text()
    for needle in [
        "![label counts](labels.png)",
        "| Rock | 3 |",
        "map_fma_echonest.png",
        "UMAP (s)",
    ]:
        assert needle in report
    assert (out / "labels.png").stat().st_size > 10_000
    assert not list(out.glob(".*part"))


@pytest.mark.slow  # UMAP's first call compiles (numba)
def test_explore_maps_folders_of_audio_without_a_cache(fma, tmp_path):
    corpus, _ = fma
    summary = explore.explore(tmp_path, audio=[corpus.audio])  # one folder, one label
    assert summary["counts"]["audio files per folder"] == {"fma_audio": len(corpus.tracks)}
    assert summary["maps"]["folders"]["items"] == len(corpus.tracks)  # one 5-s clip in each 6 s
    assert (tmp_path / "map_folders.png").stat().st_size > 10_000


def test_explore_refuses_what_it_cannot_use(fma, tmp_path):
    corpus, _ = fma
    with pytest.raises(ValueError, match=r"tracks\.csv"):
        explore.explore(tmp_path, fma_features=corpus.metadata / "features.csv")
    with pytest.raises(ValueError, match="cache"):
        explore.explore(tmp_path)
    with pytest.raises(ValueError, match="track_id"):
        fma_features.read_feature_table(corpus.metadata / "genres.csv")


def test_feature_tables_read_fmas_layout(fma):
    corpus, _ = fma
    ids, names, values = fma_features.read_feature_table(corpus.metadata / "features.csv")
    assert len(ids) == len(corpus.tracks) and values.shape == (len(ids), 518)
    assert names[0] == "chroma_cens/kurtosis/01"
    ids, names, values = fma_features.read_feature_table(
        corpus.metadata / "echonest.csv", groups=fma_features.ECHONEST_GROUPS
    )
    assert names[0] == "echonest/audio_features/acousticness" and np.isfinite(values).all()


def test_balanced_split_keeps_files_apart_and_labels_even(fma):
    _, cache = fma
    train, test, left_out = classifiers.balanced_split(data.read_index(cache))
    assert left_out == ["(no genre)", "Classical", "Jazz"]  # too few files to test them on
    assert not {r["file_id"] for r in train} & {r["file_id"] for r in test}
    for side in (train, test):
        counts = {}
        for row in side:
            counts[row["label"]] = counts.get(row["label"], 0) + 1
        assert len(counts) == 8 and len(set(counts.values())) == 1


def test_the_classifier_comparison_with_a_model(fma, shipped_model, tmp_path):
    _, cache = fma
    comparison = classifiers.compare_on_cache(cache, model=shipped_model, pairs=8)
    assert list(comparison["classifiers"]) == list(classifiers.GRIDS)
    for name, item in comparison["classifiers"].items():
        for key, value in item["best_params"].items():
            assert value in classifiers.GRIDS[name][key]
        for what in ("originals", "reconstructions"):
            assert set(item[what]["per_class"]) == set(comparison["labels"])
        assert set(item["blends"]) == {
            f"{kind} α={alpha}"
            for alpha in classifiers.BLEND_ALPHAS
            for kind in ("model", "crossfade")
        }
    # the genres differ audibly: the originals are classified far above chance (1/8)
    assert max(c["originals"]["accuracy"] for c in comparison["classifiers"].values()) >= 0.75
    path = classifiers.write_report(comparison, tmp_path)
    text = path.read_text()
    assert "### GMM, reconstructions" in text
    assert "| classifier | model α=0.25 | crossfade α=0.25 |" in text
    assert (tmp_path / "classifiers.png").stat().st_size > 5_000
    assert json.loads((tmp_path / "classifiers.json").read_text())["labels_left_out"]


def test_the_gmm_classifier_separates_what_is_separable():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (40, 3)), rng.normal(6, 1, (40, 3))])
    y = np.array(["a"] * 40 + ["b"] * 40)
    model = classifiers.GMMClassifier(components=2).fit(x, y)
    assert (model.predict(x) == y).mean() > 0.97
    np.testing.assert_allclose(model.predict_proba(x).sum(axis=1), 1.0)


def test_a_fitted_prior_learns_how_latents_move_and_round_trips(tmp_path):
    """Latents made by a known AR(1) walk: the fitted AR weights, the spectral filters
    and the mean come back; the saved prior loads for its own model only."""
    rng = np.random.default_rng(0)
    channels, weight = 4, 0.9
    sequences = []
    for _ in range(30):
        z = np.zeros((channels, 120))
        for t in range(1, 120):
            z[:, t] = weight * z[:, t - 1] + rng.standard_normal(channels)
        sequences.append(z + 2.0)
    fitted = generation.fit_prior(sequences, "m1")
    assert np.diag(fitted.ar_weights[0]).mean() == pytest.approx(weight, abs=0.08)
    np.testing.assert_allclose(fitted.mean, 2.0, atol=0.5)
    drawn = fitted.sample(2000, kind="spectral", rng=rng)
    centred = drawn - drawn.mean(axis=1, keepdims=True)
    lag_one = (centred[:, 1:] * centred[:, :-1]).sum() / (centred * centred).sum()
    assert lag_one > 0.6  # the walk's smoothness, from its spectrum
    fitted.save(tmp_path)
    loaded = prior.load(tmp_path, model_id="m1", channels=channels)
    np.testing.assert_array_equal(loaded.ar_weights, fitted.ar_weights)
    with pytest.raises(prior.PriorError, match="fitted for model m1"):
        prior.load(tmp_path, model_id="m2", channels=channels)
    assert prior.load(tmp_path / "none", model_id="m1", channels=channels) is None
    global_prior = generation.fit_prior([s[:, 0] for s in sequences], "g")
    assert global_prior.sample(0, rng=rng).shape == (channels,)


def test_fit_prior_writes_the_prior_and_measures_generation(fma, shipped_model, tmp_path):
    import shutil

    _, cache = fma
    folder = tmp_path / "model"
    shutil.copytree(shipped_model.info.folder, folder)
    (folder / prior.PRIOR_FILE).unlink(missing_ok=True)
    report = generation.fit_and_measure(folder, cache, clips=40)
    assert (folder / prior.PRIOR_FILE).exists() and (folder / "GENERATION.md").exists()
    scores = report["scores"]
    assert {"held-out originals", "reconstructions", "ar, T = 0.8", "white, T = 1"} <= set(scores)
    for item in scores.values():
        assert item["frechet"] >= 0 and 0 < item["confidence"] <= 1


def test_the_classifier_comparison_on_fmas_own_features(tmp_path):
    corpus = make_fma(tmp_path, tracks_per_genre=5, audio=False)  # one test track per genre
    out = tmp_path / "report"
    status = train_cli(
        [
            "classify", "--fma-metadata", str(corpus.tracks_csv),
            "--fma-features", str(corpus.metadata / "features.csv"), "-o", str(out),
        ]
    )  # fmt: skip
    assert status == 0
    comparison = json.loads((out / "classifiers.json").read_text())
    assert comparison["train_clips"] == 8 * 4 and comparison["test_clips"] == 8
    assert len(comparison["labels"]) == 8 and list(comparison["classifiers"]) == list(
        classifiers.GRIDS
    )
    # each genre's features are centred apart: far above chance (1/8)
    assert comparison["classifiers"]["logistic regression"]["originals"]["accuracy"] >= 0.75
    assert "features.csv (518 values per track), FMA small" in (out / "classifiers.md").read_text()
    with pytest.raises(ValueError, match="no test tracks"):
        classifiers.compare_on_fma(
            make_fma(tmp_path / "few", tracks_per_genre=3, audio=False).tracks_csv,
            tmp_path / "few" / "fma_metadata" / "features.csv",
        )
