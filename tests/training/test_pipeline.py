"""A tiny end-to-end run on audio the test makes: prepare → train → export → OnnxVAE."""

import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf

from musinterp_app.audio import synth

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.train

from musinterp_app.model.onnx_vae import ModelError, OnnxVAE  # noqa: E402
from musinterp_app.training import data  # noqa: E402
from musinterp_app.training.export import export  # noqa: E402
from musinterp_app.training.train import TrainOptions, train  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Two labelled folders of generated music, a broken file, and their prepared cache."""
    root = tmp_path_factory.mktemp("music")
    for label, root_midi, tempo in [("calm", 52, 80.0), ("busy", 64, 150.0)]:
        folder = root / label
        (folder / "sub").mkdir(parents=True)
        for k in range(3):
            clip = synth.music_like(
                11.0, 22050, rng=np.random.default_rng(k), root_midi=root_midi + k, tempo_bpm=tempo
            )
            sf.write(folder / ("sub" if k == 2 else ".") / f"{label}{k}.ogg", clip, 22050)
        (folder / "broken.mp3").write_bytes(b"ID3" + bytes(300))
        (folder / "readme.txt").write_text("not scanned")
    out = tmp_path_factory.mktemp("cache")
    folders = [root / "calm", root / "busy"]
    return out, data.prepare(folders, out), folders


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


_MODELS: dict[str, tuple] = {}


def train_and_export(arch, cache, tmp_path_factory):
    """A tiny model of ``arch`` trained for 4 steps and exported (once per test module)."""
    if arch not in _MODELS:
        run = tmp_path_factory.mktemp(f"run-{arch}")
        options = TrainOptions(
            arch=arch,
            width=16,
            time_reduction=4,
            batch=2,
            crop_frames=64,
            max_steps=4,
            validate_every=2,
            minutes=5,
        )
        summary = train(cache[0], run, options)
        model_dir = run.parent / f"model-{arch}"
        export(run, model_dir, commands="pytest")
        _MODELS[arch] = (arch, run, model_dir, summary)
    return _MODELS[arch]


@pytest.fixture(scope="module", params=["conv1d", "conv2d"])
def exported(request, cache, tmp_path_factory):
    return train_and_export(request.param, cache, tmp_path_factory)


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
    resumed = train(cache[0], run, TrainOptions(max_steps=6, minutes=5), resume=True)
    assert resumed["steps"] == 6
    assert json.loads((run / "config.json").read_text())["model"]["arch"] == arch


def test_exported_model_loads_and_matches_shapes(exported, cache):
    arch, _, model_dir, _ = exported
    model = OnnxVAE(model_dir)
    assert model.info.architecture == arch
    assert model.mel_config.n_mels == 512
    assert "pytest" in (model_dir / "MODEL.md").read_text()
    mel = data.read_exr(cache[0] / data.read_index(cache[0])[0]["segment"]).astype(np.float32)
    latent = model.encode(mel[:, :300])
    if arch == "conv1d":
        assert latent.shape == (64, 75)  # 300 frames / 4, any length
        assert model.decode(latent).shape == (512, 300)
    else:
        assert latent.shape == (64,)  # one global latent per 640-frame excerpt
        assert model.decode(latent).shape == (512, 640)


def test_onnx_matches_torch(exported, cache):
    from musinterp_app.training.export import check_parity, load_run

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
    from musinterp_app.training.evaluate import evaluate

    model_dir = train_and_export("conv1d", cache, tmp_path_factory)[2]
    baseline = train_and_export("conv2d", cache, tmp_path_factory)[2]
    report = evaluate(model_dir, cache[0], baseline=baseline, pairs=2)

    summary = report["summary"]
    assert set(summary["mae_db"]) == {"conv1d (this model)", "mean spectrum", "conv2d baseline"}
    assert all(value > 0 for value in summary["mae_db"].values())
    assert len(report["details"]["interpolation"]) == summary["interpolation_pairs"] == 2
    for curve in report["details"]["interpolation"]:
        assert len(curve["to_a_db"]) == len(curve["to_b_db"]) == 11
    assert summary["griffin_lim"]["clips"] >= 1  # the generated sources are still there
    assert 0.0 <= summary["label_check"]["originals_accuracy"] <= 1.0
    for name in [
        "eval_mae.png",
        "eval_interpolation.png",
        "eval_latent_pca.png",
        "eval_example.png",
        "evaluation.json",
        "EVALUATION.md",
    ]:
        assert (model_dir / name).stat().st_size > 0, name
    card = (model_dir / "MODEL.md").read_text()
    assert card.count("## Evaluation") == 1 and "mean spectrum" in card
    evaluate(model_dir, cache[0], pairs=2)  # again: the card's section is replaced, not added
    assert (model_dir / "MODEL.md").read_text().count("## Evaluation") == 1
