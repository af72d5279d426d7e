"""``musinterp info``'s plain words, from a model folder's ``evaluation.json``."""

import json

from musinterp_app.base.resources import default_model_dir
from musinterp_app.model import evaluation


def test_the_blend_study_is_said_in_plain_words_when_the_evaluation_has_it():
    """An evaluation with the blend study speaks of the interpolation share and the
    two-sample test; an older one of the model share it measured."""
    summary = json.loads((default_model_dir() / "evaluation.json").read_text())["summary"]
    summary.pop("blend_study", None)
    older = "\n".join(evaluation.plain_words(summary))
    assert "reshaped by the model rather than crossfaded" in older
    sets = {
        name: {"auc": auc}
        for name, auc in [
            ("keep detail slerp 0.5", 0.87),
            ("pure slerp 0.5", 0.94),
            ("time-domain mix", 0.76),
        ]
    }
    summary["blend_study"] = {
        "pairs": 200,
        "interpolation_share_mid": {"lerp": 0.051, "slerp": 0.262},
        "sets": sets,
    }
    words = "\n".join(evaluation.plain_words(summary))
    assert "spherical interpolation (the default) reshapes 26% of the difference" in words
    assert "(5% with linear)" in words
    assert "score of 0.87 with Keep detail on (the default) and 0.94 without" in words
    assert "0.76 for the two recordings simply mixed" in words and "200 pairs" in words
    assert "reshaped by the model rather than crossfaded" not in words
