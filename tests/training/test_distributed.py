"""Training as N real processes (``torchrun``, gloo on 127.0.0.1) against one process:
the same loss curve on the same global batch, one checkpoint, and resume across
any number of processes; and training memory that does not grow with the corpus."""

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musinterp_app.audio import synth

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.train

from musinterp_app.model.onnx_vae import OnnxVAE  # noqa: E402
from musinterp_app.training.dataset import data  # noqa: E402
from musinterp_app.training.evaluation import scaling  # noqa: E402
from musinterp_app.training.networks.export import export  # noqa: E402

TINY = [
    "--arch", "hybrid", "--width", "16", "--planes", "4", "--batch", "4",
    "--crop-frames", "64", "--validation-segments", "2", "--validate-every", "1",
    "--lr-warmup-steps", "2", "--threads", "1",
]  # fmt: skip


def log(run: Path) -> list[dict]:
    with open(run / "log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_curve(one: list[dict], other: list[dict]) -> None:
    """The same steps, rates and values, to the last digit logged (give or take one)."""
    assert [row["step"] for row in one] == [row["step"] for row in other]
    for a, b in zip(one, other, strict=True):
        assert a["lr"] == b["lr"], a["step"]
        for column, decimals in (("loss", 5), ("recon_db", 3), ("kl", 4), ("val_mae_db", 3)):
            assert float(b[column]) == pytest.approx(
                float(a[column]), rel=0, abs=1.5 * 10**-decimals
            ), (
                column,
                a["step"],
            )


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Two labels of generated music, prepared into shards only (no EXR)."""
    root = tmp_path_factory.mktemp("music")
    for label, root_midi in [("low", 45), ("high", 69)]:
        (root / label).mkdir()
        for k in range(2):
            clip = synth.music_like(11.0, 22050, rng=np.random.default_rng(k), root_midi=root_midi)
            sf.write(root / label / f"{label}{k}.wav", clip, 22050)
    out = tmp_path_factory.mktemp("cache")
    data.prepare([root / "low", root / "high"], out, workers=1, exr=False)
    return out


@pytest.fixture(scope="module")
def runs(cache, tmp_path_factory):
    """The same 6-step run as one process and as two."""
    folder = tmp_path_factory.mktemp("runs")
    for processes in (1, 2):
        run = folder / f"x{processes}"
        scaling.run_training(
            processes, "--data", str(cache), "--out", str(run), "--steps", "6", *TINY
        )
    return folder


def test_two_processes_follow_the_loss_curve_of_one_on_the_same_global_batch(runs):
    assert len(log(runs / "x1")) == 6
    assert_same_curve(log(runs / "x1"), log(runs / "x2"))
    # rank 0 alone wrote the run: one checkpoint, one best model, one log, one config
    assert sorted(p.name for p in (runs / "x2").iterdir()) == [
        "best.pt",
        "checkpoint.pt",
        "config.json",
        "log.csv",
    ]
    one = torch.load(runs / "x1" / "checkpoint.pt", weights_only=True)
    two = torch.load(runs / "x2" / "checkpoint.pt", weights_only=True)
    assert one["step"] == two["step"] == 6
    assert one["numpy_rng"] == two["numpy_rng"]  # the same data drawn, whatever the processes
    for name, weight in one["model"].items():
        torch.testing.assert_close(two["model"][name], weight, rtol=1e-3, atol=2e-5)
    export(runs / "x2", runs / "model")  # from a cache of shards only (no OpenEXR segments)
    assert OnnxVAE(runs / "model").info.architecture == "hybrid"


def test_a_run_resumes_on_another_number_of_processes(runs, cache, tmp_path):
    """Steps 1–2 on one process, 3–4 resumed on two, 5–6 resumed on one again: the curve
    of the run never stopped."""
    run = str(tmp_path / "run")
    scaling.run_training(
        1, "--data", str(cache), "--out", run, "--steps", "6", "--stop-after-steps", "2", *TINY
    )
    assert [row["step"] for row in log(Path(run))] == ["1", "2"]
    resume = ["--data", str(cache), "--out", run, "--resume", "--threads", "1"]
    scaling.run_training(2, *resume, "--stop-after-steps", "4")  # from one process to two
    assert [row["step"] for row in log(Path(run))] == ["1", "2", "3", "4"]
    scaling.run_training(1, *resume)  # and from two to one
    assert_same_curve(log(runs / "x1"), log(Path(run)))


def test_a_global_batch_that_does_not_split_over_the_processes_is_refused(cache, tmp_path):
    from musinterp_app.training.loop.distributed import Context

    with pytest.raises(ValueError, match=r"--batch 6 .* does not split evenly over 4 processes"):
        Context(rank=0, world_size=4, device=torch.device("cpu")).part(6)
    assert Context(rank=1, world_size=2, device=torch.device("cpu")).part(8) == slice(4, 8)


def test_training_memory_does_not_grow_with_the_corpus(tmp_path):
    """A corpus 10 times larger (its shards alone exceed the difference allowed) costs
    a training process less than 10 % more peak memory."""
    options = [*TINY, "--steps", "4", "--validate-every", "2", "--validation-segments", "4"]
    peaks, caches = {}, {}
    for files in (3, 30):
        caches[files] = scaling.generated_cache(tmp_path / f"corpus{files}", files)
        assert len(data.read_index(caches[files])) == 6 * files
        peaks[files] = scaling.peak_memory_kb(caches[files], tmp_path / f"run{files}", *options)
    corpus_kb = scaling.corpus_bytes(caches[30]) // 1024
    assert corpus_kb > 0.1 * peaks[3]  # holding the corpus in memory would break the bound
    assert peaks[30] <= 1.1 * peaks[3], peaks
