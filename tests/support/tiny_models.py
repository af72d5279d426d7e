"""Tiny models of every architecture, trained a few steps on the training tests' cache and
exported (each made once per test run; needs torch)."""

from musinterp_app.training.loop.train import TrainOptions, train
from musinterp_app.training.networks.export import export

_MODELS: dict[str, tuple] = {}
TINY = {"width": 16, "planes": 4, "batch": 2, "crop_frames": 64, "validation_segments": 4}


def train_and_export(arch, cache, tmp_path_factory):
    """A tiny model of ``arch`` trained for 4 steps and exported (once per test run)."""
    if arch not in _MODELS:
        run = tmp_path_factory.mktemp(f"run-{arch}")
        options = TrainOptions(arch=arch, steps=4, validate_every=2, **TINY)
        summary = train(cache[0], run, options, progress=False)
        model_dir = run.parent / f"model-{arch}"
        export(run, model_dir, commands="pytest")
        _MODELS[arch] = (arch, run, model_dir, summary)
    return _MODELS[arch]
