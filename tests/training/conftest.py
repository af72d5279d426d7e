"""Fixtures of the training tests: a small prepared cache of generated music, and tiny
models of every architecture trained on it and exported (made once per test run)."""

import numpy as np
import pytest
import soundfile as sf

from musinterp_app.audio import synth

torch = pytest.importorskip("torch")

from support.tiny_models import train_and_export  # noqa: E402

from musinterp_app.training.dataset import data  # noqa: E402


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session", params=["hybrid", "conv1d", "conv2d"])
def exported(request, cache, tmp_path_factory):
    return train_and_export(request.param, cache, tmp_path_factory)
