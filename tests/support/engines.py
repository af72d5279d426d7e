"""An engine with clips loaded into its slots: the set-up most engine and window tests share."""

from pathlib import Path

import numpy as np
import soundfile as sf

from musinterp_app.engine import Engine, load_track
from musinterp_app.model.onnx_vae import OnnxVAE


def engine_with(
    model: OnnxVAE,
    clips: dict[str, Path | np.ndarray],
    *,
    folder: Path | None = None,
    rate: int = 32768,
    **load_options,
) -> Engine:
    """An engine on ``model`` with each slot's clip loaded (``load_options`` as
    ``load_track`` takes them): a path as it is, or samples ``[samples]`` written
    first to ``folder/SLOT.wav`` at ``rate``."""
    engine = Engine(model)
    for slot, clip in clips.items():
        path = clip
        if isinstance(clip, np.ndarray):
            path = folder / f"{slot}.wav"
            sf.write(path, clip, rate)
        engine.set_track(slot, load_track(path, model, **load_options))
    return engine
