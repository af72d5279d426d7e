"""A tiny end-to-end run on audio the test makes: prepare → train → export → OnnxVAE."""

import csv
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.train

from support.tiny_models import TINY, train_and_export  # noqa: E402

from musinterp_app.model.onnx_vae import ModelError, OnnxVAE  # noqa: E402
from musinterp_app.training.dataset import data  # noqa: E402
from musinterp_app.training.loop.train import TrainOptions, train  # noqa: E402


def test_prepare_cuts_segments_and_lists_skipped_files(cache):
    out, summary, _ = cache
    assert summary["files"] == 6
    assert summary["segments"] == 12  # two whole 5-s segments per 11-s file, remainder dropped
    assert summary["labels"] == ["busy", "calm"]
    with open(out / "skipped.csv") as handle:
        skipped = list(csv.DictReader(handle))
    assert sorted(os.path.basename(row["path"]) for row in skipped) == ["broken.mp3"] * 2
    rows = data.read_index(out)
    assert {float(row["offset_s"]) for row in rows} == {0.0, 5.0}
    segment = data.read_exr(out / rows[0]["segment"])
    assert segment.shape == (512, 640) and segment.dtype == np.float16


def test_prepare_resumes_without_redoing_files(cache):
    out, summary, folders = cache
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "segments").iterdir()}
    assert data.prepare(folders, out) == summary  # the same command again: nothing redone
    assert {p.name: p.stat().st_mtime_ns for p in (out / "segments").iterdir()} == stamps


def test_exr_round_trip_is_lossless_at_half_precision(tmp_path):
    image = np.random.default_rng(0).normal(size=(512, 640)).astype(np.float16)
    data.write_exr(tmp_path / "x.exr", image)
    np.testing.assert_array_equal(data.read_exr(tmp_path / "x.exr"), image)


def test_validation_split_is_by_file(cache):
    rows = data.read_index(cache[0])
    train_rows, validation_rows = data.split_by_file(rows)
    assert validation_rows and train_rows
    assert not {r["file_id"] for r in train_rows} & {r["file_id"] for r in validation_rows}


def test_train_logs_checkpoints_and_resumes(exported, cache, tmp_path):
    import shutil

    arch, original, _, summary = exported
    run = tmp_path / "run"
    shutil.copytree(original, run)  # resume a copy: the exported model stays as it was
    assert summary["steps"] == 4
    with open(run / "log.csv") as handle:
        log = list(csv.DictReader(handle))
    assert [row["step"] for row in log] == ["2", "4"]
    assert float(log[0]["baseline_db"]) > 0
    assert float(log[0]["val_convergence_db"]) < 0  # logged (at the best gain it is ≤ 0 dB)
    assert train(cache[0], run, TrainOptions(), resume=True, progress=False)["steps"] == 4
    assert json.loads((run / "config.json").read_text())["model"]["arch"] == arch


def six_steps() -> TrainOptions:
    """Fresh options each time (``train`` settles some of them in place)."""
    return TrainOptions(arch="hybrid", steps=6, validate_every=1, lr_warmup_steps=2, **TINY)


@pytest.fixture(scope="module")
def straight_run(cache, tmp_path_factory):
    """A 6-step run never stopped, for the stopped ones to repeat."""
    run = tmp_path_factory.mktemp("straight")
    train(cache[0], run, six_steps(), progress=False)
    return run


def test_a_resumed_run_repeats_the_uninterrupted_one(cache, straight_run, tmp_path):
    """Stopped at step 3 and resumed, a run has the same schedule, data and losses."""
    train(cache[0], tmp_path / "resumed", six_steps(), stop_after_steps=3, progress=False)
    train(cache[0], tmp_path / "resumed", TrainOptions(), resume=True, progress=False)
    assert_same_six_steps(straight_run, tmp_path / "resumed")


def assert_same_six_steps(straight_run, resumed_run):
    """The resumed run logged steps 1 … 6 with the straight run's rates and losses."""
    logs = []
    for run in (straight_run, resumed_run):
        with open(run / "log.csv") as handle:
            logs.append(list(csv.DictReader(handle)))
    assert [r["step"] for r in logs[1]] == [str(k) for k in range(1, 7)]
    for straight, resumed in zip(*logs, strict=True):
        assert straight["step"] == resumed["step"] and straight["lr"] == resumed["lr"]
        assert float(resumed["loss"]) == pytest.approx(float(straight["loss"]), rel=1e-4)
        assert float(resumed["val_mae_db"]) == pytest.approx(float(straight["val_mae_db"]), 1e-3)


def test_a_run_killed_mid_step_resumes_as_if_never_stopped(
    cache, straight_run, tmp_path, monkeypatch
):
    """Killed in step 5 (the next batch already drawn and read), resumed from step 4's
    checkpoint: the same data and losses as a run never stopped."""
    from musinterp_app.training.loop import train as training

    calls = []

    def killed_in_step_5(*arguments, **keywords):
        calls.append(None)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_step(*arguments, **keywords)

    real_step = training.training_step
    monkeypatch.setattr(training, "training_step", killed_in_step_5)
    with pytest.raises(KeyboardInterrupt):
        train(cache[0], tmp_path / "killed", six_steps(), progress=False)
    monkeypatch.undo()
    train(cache[0], tmp_path / "killed", TrainOptions(), resume=True, progress=False)
    assert_same_six_steps(straight_run, tmp_path / "killed")


def test_resuming_with_other_options_is_refused(exported, cache):
    _, run, _, _ = exported
    with pytest.raises(ValueError, match=r"--lr 0\.1 differs from the run being resumed"):
        train(cache[0], run, TrainOptions(lr=0.1), resume=True, progress=False)


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    from musinterp_app.training.loop.train import learning_rate

    options = TrainOptions(steps=1000, lr=1e-3, lr_warmup_steps=100)
    rates = [learning_rate(step, options) for step in range(1000)]
    assert rates[0] == pytest.approx(1e-5) and max(rates) == pytest.approx(1e-3)
    assert np.all(np.diff(rates[:100]) > 0) and np.all(np.diff(rates[100:]) <= 0)
    assert learning_rate(1000, options) == pytest.approx(1e-4)


def test_track_store_reads_each_file_as_one_track_from_the_shards(cache):
    rows = data.split_by_file(data.read_index(cache[0]))[0]
    store = data.TrackStore(cache[0], rows)
    assert {r["shard"] for r in rows} == {"shards/00000.npy"}
    assert len(store) == len({r["file_id"] for r in rows})
    for file_id in {r["file_id"] for r in rows}:  # each file's segments, joined, are one track
        segments = sorted(
            (r for r in rows if r["file_id"] == file_id), key=lambda r: float(r["offset_s"])
        )
        joined = np.concatenate([data.read_exr(cache[0] / r["segment"]) for r in segments], 1)
        np.testing.assert_array_equal(data.read_segments(cache[0], segments)[0], joined[:, :640])
        assert any(
            np.array_equal(store.crop(k, 0, joined.shape[1]), joined.astype(np.float32))
            for k in range(len(store))
            if store.lengths[k] == joined.shape[1]
        )
    assert store.crop(0, 100, 64).shape == (512, 64)


def test_augmented_batches_keep_silence_silent_and_stay_in_range(cache):
    from musinterp_app.audio import mel
    from musinterp_app.training.loop.batches import augmented_batch

    config = mel.MelConfig()
    store = data.TrackStore(cache[0], data.split_by_file(data.read_index(cache[0]))[0])
    options = TrainOptions(batch=8, crop_frames=64, mix_probability=1.0)
    batch = augmented_batch(store, options, config, np.random.default_rng(0)).numpy()
    assert batch.shape == (8, 512, 64) and batch.dtype == np.float32
    assert batch.min() >= config.floor_normalised - 1e-5 and np.isfinite(batch).all()
    plain = store.random_crops(8, 64, np.random.default_rng(0))
    assert not np.allclose(batch, plain)
    # no gain, tilt or mix: the crops as the app's mel code turns them to power and back
    still = TrainOptions(batch=8, crop_frames=64, gain_db=0, tilt_db=0, mix_probability=0)
    round_trip = mel.power_to_normalised(mel.normalised_to_power(plain, config), config)
    np.testing.assert_allclose(
        augmented_batch(store, still, config, np.random.default_rng(0)).numpy(),
        round_trip,
        atol=1e-5,
    )


def test_the_slices_of_processes_make_the_whole_global_batch(cache):
    """Each of 4 processes computes its quarter of the batch one process computes whole."""
    from musinterp_app.audio.mel import MelConfig
    from musinterp_app.training.loop.batches import augmented_batch

    store = data.TrackStore(cache[0], data.split_by_file(data.read_index(cache[0]))[0])
    options = TrainOptions(batch=8, crop_frames=64, mix_probability=0.5)
    whole = augmented_batch(store, options, MelConfig(), np.random.default_rng(3))
    quarters = [
        augmented_batch(store, options, MelConfig(), np.random.default_rng(3), slice(k, k + 2))
        for k in range(0, 8, 2)
    ]
    torch.testing.assert_close(torch.cat(quarters), whole)


def test_validation_set_is_balanced_over_labels_and_files():
    rows = [
        {"segment": f"{label}{f}_{k}", "label": label, "file_id": f"{label}{f}"}
        for label, files in (("a", 1), ("b", 4), ("c", 2))
        for f in range(files)
        for k in range(30)
    ]
    chosen = data.balanced_validation(rows, 12)
    assert [sum(r["label"] == x for r in chosen) for x in "abc"] == [4, 4, 4]
    assert len({r["file_id"] for r in chosen if r["label"] == "b"}) == 4
    assert data.balanced_validation(rows, 12) == chosen  # fixed


def test_exported_model_loads_and_matches_shapes(exported, cache):
    arch, _, model_dir, _ = exported
    model = OnnxVAE(model_dir)
    assert model.info.architecture == arch
    assert model.mel_config.n_mels == 512
    assert "pytest" in (model_dir / "MODEL.md").read_text()
    mel = data.read_exr(cache[0] / data.read_index(cache[0])[0]["segment"]).astype(np.float32)
    latent = model.encode(mel[:, :300])
    if arch != "conv2d":
        assert latent.shape == (64, 75)  # 300 frames / 4, any length
        assert model.decode(latent).shape == (512, 300)
    else:
        assert latent.shape == (64,)  # one global latent per 640-frame excerpt
        assert model.decode(latent).shape == (512, 640)


def test_onnx_matches_torch(exported, cache):
    from musinterp_app.training.networks.export import check_parity, load_run

    _, run, model_dir, _ = exported
    vae, _ = load_run(run)
    rows = data.read_index(cache[0])[:2]
    mels = torch.from_numpy(
        np.stack([data.read_exr(cache[0] / r["segment"]) for r in rows]).astype(np.float32)
    )
    assert check_parity(vae, model_dir, mels) <= 1e-4


def test_broken_model_folders_give_clear_errors(exported, tmp_path):
    import shutil

    _, _, model_dir, _ = exported
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "decoder.onnx").unlink()
    with pytest.raises(ModelError, match=r"has no decoder\.onnx"):
        OnnxVAE(broken)
    (broken / "decoder.onnx").write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelError, match=r"decoder\.onnx .* is damaged or not an ONNX model"):
        OnnxVAE(broken)
    with pytest.raises(ModelError, match="not a model folder"):
        OnnxVAE(tmp_path / "nowhere")


def test_evaluate_writes_report_plots_and_card(cache, tmp_path_factory):
    from musinterp_app.training.evaluation.evaluate import evaluate

    model_dir = train_and_export("hybrid", cache, tmp_path_factory)[2]
    baseline = train_and_export("conv2d", cache, tmp_path_factory)[2]
    report = evaluate(model_dir, cache[0], baselines=[baseline], clips=4, pairs=2, study_pairs=5)

    summary = report["summary"]
    scores = summary["reconstruction"]
    assert {"this model", "mean spectrum", "PCA, same size", "original mel (no model)"} <= set(
        scores
    )
    assert any(name.startswith("conv2d ") for name in scores)
    assert all(score["mae_db"] > 0 for name, score in scores.items() if "mae_db" in score)
    assert scores["original mel (no model)"]["sc_db"] < -10  # the sources are still there
    assert len(report["details"]["blends"]) == summary["pairs"] == 2
    for series in report["details"]["blends"]:
        assert series["keep_detail"]["model_share"][0] == 0.0  # α = 0 is A itself
        assert len(series["pure"]["to_a_db"]) == 11
    assert set(summary["targets"]) >= {"sc_db", "detail_frames", "size_mb", "blends_monotonic"}
    assert "interpolation_share_mid" not in summary["targets"]  # no blend study to judge
    assert 0.0 <= summary["label_check"]["originals"] <= 1.0
    assert "crossfade α=0.5 as A" in summary["label_check"]
    assert summary["blend_study"] is None  # one held-out file: no pairs of files to judge
    for name in [
        "eval_reconstruction.png",
        "eval_blends.png",
        "eval_latent_pca.png",
        "eval_example.png",
        "eval_blend_example.png",
        "eval_training.png",
        "evaluation.json",
        "EVALUATION.md",
    ]:
        assert (model_dir / name).stat().st_size > 0, name
    card = (model_dir / "MODEL.md").read_text()
    assert card.count("## Evaluation") == 1 and "PCA, same size" in card
    # evaluating again replaces the section: see test_the_study_tools_read_a_cache_…


def test_the_study_tools_read_a_cache_prepared_without_exr(
    cache, tmp_path, tmp_path_factory, monkeypatch
):
    """``prepare --no-exr`` writes only the shards: fit-prior, evaluate (with its label check,
    PCA baseline, classifiers and generation scores) and explore read the clips from them."""
    import shutil

    from sklearn.decomposition import PCA

    from musinterp_app.training.evaluation import explore, generation
    from musinterp_app.training.evaluation.evaluate import evaluate

    shards_only = tmp_path / "cache"
    data.prepare(cache[2], shards_only, exr=False)
    assert not (shards_only / "segments").exists()
    assert {row["segment"] for row in data.read_index(shards_only)} == {""}
    model_dir = tmp_path / "model"  # a copy: the fitted prior stays out of the shared model
    shutil.copytree(train_and_export("hybrid", cache, tmp_path_factory)[2], model_dir)
    card = model_dir / "MODEL.md"  # as if evaluated before: evaluating again replaces that
    card.write_text(card.read_text() + "\n## Evaluation\n\nAn earlier evaluation.\n")

    assert generation.fit_and_measure(model_dir, shards_only)["fitted_on_clips"] > 0
    summary = evaluate(model_dir, shards_only, clips=4, pairs=2, study_pairs=5)["summary"]
    assert "PCA, same size" in summary["reconstruction"]
    assert {"label_check", "classifiers", "generation"} <= set(summary)
    for name in ["evaluation.json", "EVALUATION.md", "classifiers.md", "eval_latent_pca.png"]:
        assert (model_dir / name).stat().st_size > 0, name
    text = card.read_text()
    assert text.count("## Evaluation") == 1 and "PCA, same size" in text
    assert "An earlier evaluation." not in text

    # the maps' methods are no concern here (UMAP compiles for minutes): PCA stands in for all
    monkeypatch.setattr(explore, "umap_warm_up_s", lambda: 0.0)
    monkeypatch.setattr(
        explore,
        "embed",
        lambda features, seed: {m: (PCA(2).fit_transform(features), 0.0) for m in explore.METHODS},
    )
    report = explore.explore(tmp_path / "explore", cache=shards_only)
    assert report["maps"]["mel"]["items"] == len(data.read_index(shards_only))
    assert (tmp_path / "explore" / "map_mel.png").stat().st_size > 0


def test_a_larger_global_batch_takes_a_larger_step_by_the_square_root_rule():
    from musinterp_app.training.loop.train import learning_rate

    base = TrainOptions(steps=1000, lr=1e-3, lr_warmup_steps=0)
    larger = TrainOptions(steps=1000, lr=1e-3, lr_warmup_steps=0, batch=64)
    assert learning_rate(0, base) == pytest.approx(1e-3)
    assert learning_rate(0, larger) == pytest.approx(2e-3)


def test_the_validation_set_is_chosen_among_a_bounded_number_of_rows(cache, monkeypatch):
    from musinterp_app.training.dataset import corpus as training

    corpus = training.open_corpus(cache[0])
    whole, _ = corpus.validation(4)
    monkeypatch.setattr(training, "VALIDATION_ROWS_PER_LABEL", 1)
    held = []
    real = training.data.balanced_validation
    monkeypatch.setattr(
        training.data,
        "balanced_validation",
        lambda rows, count: held.append(rows) or real(rows, count),
    )
    bounded, summary = corpus.validation(1)
    assert len(held[0]) <= len(corpus.labels) and summary["validation_segments"] == 1
    assert whole.shape[0] >= 1 and bounded.shape[1:] == whole.shape[1:]
