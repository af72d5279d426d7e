"""Stage-1 models side by side on the same held-out clips of the default cache: SC after
Griffin-Lim, MAE and detail (``evaluate``'s own functions) and the blend study.

    stage1_beside_v2.py CLIPS PAIRS MODEL_DIR[,MODEL_DIR …] OUT.json
"""

import json
import sys
from pathlib import Path

from musinterp_app.model.onnx_vae import OnnxVAE
from musinterp_app.training.dataset import data
from musinterp_app.training.evaluation import blends
from musinterp_app.training.evaluation import evaluate as ev

CACHE = Path("build/default-cache")


def main(clips: str, pairs: str, folders: str, out_path: str) -> None:
    _, validation_rows = data.split_by_file(data.read_index(CACHE))
    rows = data.balanced_validation(validation_rows, int(clips), seed=0)
    segments = data.read_segments(CACHE, rows)
    out: dict = {"clips": len(rows), "pairs": int(pairs)}
    for folder in folders.split(","):
        model = OnnxVAE(folder)
        config = model.mel_config
        truths = ev._true_magnitudes(rows, config)
        scores = ev.reconstruction_scores(ev.reconstruct(model, segments), segments, truths, config)
        study_rows = blends.pair_rows(validation_rows, int(pairs), 0)
        study = blends.study(model, study_rows, data.read_segments(CACHE, study_rows), seed=0)
        out[Path(folder).name] = {
            "reconstruction": scores,
            "interpolation_share_mid": study["interpolation_share_mid"],
            "sets": study["sets"],
        }
        print(folder, json.dumps(scores), study["interpolation_share_mid"], flush=True)
    Path(out_path).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
