"""The measured numbers behind issue 13's claims, written to a JSON file.

    .venv/bin/python tests/support/measure_beyond.py docs/measurements/beyond-two.json

Generated clips with known tempo and key (``support.music``): tempo and key
estimates; tempo sync on pairs whose tempi differ by 10–30 %; clicks at the
chunk joins of a 20-s pad path morph; largest / mean slider step with and
without even steps. Minutes of CPU: not part of the test suite.
"""

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from musinterp_app.audio import analysis
from musinterp_app.base import resources
from musinterp_app.base.files import write_atomically
from musinterp_app.engine import BlendSettings, Engine, PadSettings, load_track
from musinterp_app.model.onnx_vae import OnnxVAE
from support.music import known_clip, known_clips

RATE = 32768


def estimators(duration_s: float, count: int = 100) -> dict:
    exact = labelled = key_correct = 0
    for clip in known_clips(count, RATE, seed=11 + int(duration_s), duration_s=duration_s):
        ratio = analysis.estimate_tempo(clip.samples, RATE).bpm / clip.bpm
        key = analysis.estimate_key(clip.samples, RATE)
        within = abs(ratio - 1) <= 0.02
        exact += within
        labelled += not within and any(abs(ratio * f - 1) <= 0.02 for f in (0.5, 2.0))
        key_correct += (key.tonic, key.minor) == (clip.tonic, clip.minor)
    return {
        "clips": count,
        "tempo_within_2pct": exact,
        "tempo_double_or_half_within_2pct": labelled,
        "key_correct": key_correct,
    }


def _engine(model: OnnxVAE, folder: Path, clips: dict, **load) -> Engine:
    engine = Engine(model)
    for slot, clip in clips.items():
        sf.write(folder / f"{slot}.wav", clip.samples, RATE)
        engine.set_track(slot, load_track(folder / f"{slot}.wav", model, overview=False, **load))
    return engine


def sync_pairs(model: OnnxVAE, folder: Path, count: int = 8) -> dict:
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(count):
        tempo_a = float(rng.uniform(70, 150))
        tempo_b = tempo_a * (1 + float(rng.choice([-1, 1])) * float(rng.uniform(0.1, 0.3)))
        clips = {
            slot: known_clip(
                bpm,
                int(rng.integers(12)),
                bool(rng.integers(2)),
                RATE,
                duration_s=10,
                lead_in_s=float(rng.uniform(0, 0.5)),
            )
            for slot, bpm in (("A", tempo_a), ("B", tempo_b))
        }
        engine = _engine(model, folder, clips)
        target = engine.estimates("A")[0].bpm
        middle = BlendSettings(alpha=0.5)
        plain = analysis.estimate_tempo(engine.render(middle), RATE)
        synced = analysis.estimate_tempo(engine.synced(("tempo",)).render(middle), RATE)
        rows.append(
            {
                "tempo_a": round(tempo_a, 1),
                "tempo_b": round(tempo_b, 1),
                "target_bpm": round(target, 2),
                "blend_bpm_synced": round(synced.bpm, 2),
                "error_pct": round(abs(synced.bpm / target - 1) * 100, 2),
                "beat_confidence_without": round(plain.confidence, 3),
                "beat_confidence_with": round(synced.confidence, 3),
            }
        )
    return {
        "pairs": rows,
        "within_3pct": sum(row["error_pct"] <= 3 for row in rows),
        "confidence_higher": sum(
            row["beat_confidence_with"] > row["beat_confidence_without"] for row in rows
        ),
    }


def pad_path_joins(model: OnnxVAE, folder: Path) -> dict:
    corners = {"A": (100, 0, False), "B": (117, 2, True), "C": (90, 7, False), "D": (132, 9, True)}
    clips = {slot: known_clip(*spec, RATE, duration_s=21) for slot, spec in corners.items()}
    engine = _engine(model, folder, clips, excerpt_s=20)
    path = ((0, 0), (1, 0), (1, 1), (0, 1), (0.5, 0.5), (0, 0))
    chunks = list(engine.render_stream(PadSettings(path=path)))
    audio = np.concatenate(chunks)
    jumps = np.abs(np.diff(audio))
    joins = np.cumsum([len(chunk) for chunk in chunks])[:-1]
    return {
        "seconds": len(audio) / RATE,
        "joins": len(joins),
        "largest_jump_at_a_join": round(float(jumps[joins - 1].max()), 4),
        "jump_99_9th_percentile_everywhere": round(float(np.percentile(jumps, 99.9)), 4),
    }


def even_steps(model: OnnxVAE, folder: Path, pairs: int = 5) -> dict:
    rng = np.random.default_rng(5)
    ratios: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(pairs):
        clips = {
            slot: known_clip(
                float(rng.uniform(70, 150)), int(rng.integers(12)), False, RATE, duration_s=6
            )
            for slot in "AB"
        }
        engine = _engine(model, folder, clips)
        for mode in ("lerp", "slerp"):
            for keep_detail in (True, False):
                plain = BlendSettings(mode=mode, keep_detail=keep_detail)
                for name, settings in (("without", plain), ("with", engine.even_steps(plain))):
                    steps = engine.step_sizes(replace(settings))
                    ratios[name].append(float(steps.max() / steps.mean()))
    return {
        name: {
            "cases": len(values),
            "median": round(float(np.median(values)), 3),
            "worst": round(float(np.max(values)), 3),
        }
        for name, values in ratios.items()
    }


def main(out: Path) -> dict:
    model = OnnxVAE(resources.default_model_dir())
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        result = {
            "estimators_8s": estimators(8.0),
            "estimators_5s": estimators(5.0),
            "sync_tempo_alpha_0.5": sync_pairs(model, folder),
            "pad_path_morph": pad_path_joins(model, folder),
            "largest_over_mean_step": even_steps(model, folder),
        }
    write_atomically(out, json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), indent=1))
