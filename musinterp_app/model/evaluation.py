"""What a model's evaluation (``evaluation.json``, written by ``musinterp-train evaluate``) means,
in words a musician understands. Used by ``musinterp info`` and the window's About box."""

from pathlib import Path

from musinterp_app.base import json_input


def load_summary(folder: Path) -> dict | None:
    """The evaluation summary in a model folder, or None when it was never evaluated
    (or by an older ``evaluate`` that did not measure blends and sharpness)."""
    path = Path(folder) / "evaluation.json"
    try:
        summary = json_input.load(path)["summary"].entries()
        summary = {key: node.value for key, node in summary.items()}
        plain_words(summary)  # a summary the words cannot be made of counts as none
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return summary


def plain_words(summary: dict) -> list[str]:
    """A few sentences on sharpness and on how much of a blend the model makes."""
    model = summary["reconstruction"]["this model"]
    round_trip = summary["reconstruction"].get("original mel (no model)", {}).get("sc_db")
    pure, kept = summary["blends"]["pure"], summary["blends"]["keep_detail"]
    lines = [
        f"Measured on {summary['clips']} five-second clips from {summary['files']} files "
        "it never trained on:",
        f"- Detail: a clip sent through the model keeps {model['detail_bands']:.0%} of the "
        f"original's band-to-band detail (harmonics) and {model['detail_frames']:.0%} of its "
        "frame-to-frame detail (attacks).",
    ]
    if model.get("sc_db") is not None and round_trip is not None:
        lines.append(
            f"- Sound: after phase reconstruction, its spectrum's error against the real "
            f"recording is {model['sc_db']:.1f} dB (the recording's own spectrogram gets "
            f"{round_trip:.1f} dB; lower is closer)."
        )
    study = summary.get("blend_study")
    if study:
        lines += blend_study_words(study)
    else:  # an evaluation made before the blend study
        lines.append(
            f"- Blending: halfway between two clips, {pure['model_share_mid']:.0%} of the "
            "difference between A and B is reshaped by the model rather than crossfaded "
            f"({kept['model_share_mid']:.0%} with Keep detail on, which adds back what the "
            "model misses of each track)."
        )
    lines += [
        f"- Evenness: equal slider steps change the sound evenly within "
        f"{pure['max_step_ratio']:.2f}× (largest step ÷ average step, worst pair of "
        f"{summary['pairs']}); {pure['monotonic_pairs']} of {summary['pairs']} blends move "
        "steadily from A to B.",
    ]
    return lines


def blend_study_words(study: dict) -> list[str]:
    """The blend study (``evaluate``'s pairs of held-out files) in two sentences: how much
    of a halfway blend the latent path makes, and how well a classifier tells blends
    from real music."""
    share, sets = study["interpolation_share_mid"], study["sets"]
    return [
        f"- Blending: halfway between two clips, spherical interpolation (the default) "
        f"reshapes {share['slerp']:.0%} of the difference between A and B beyond a crossfade "
        f"of the model's own versions of them ({share['lerp']:.0%} with linear).",
        "- Like real music? A classifier that has heard real clips tells halfway blends "
        f"from them with a score of {sets['keep detail slerp 0.5']['auc']:.2f} with Keep "
        f"detail on (the default) and {sets['pure slerp 0.5']['auc']:.2f} without, against "
        f"{sets['time-domain mix']['auc']:.2f} for the two recordings simply mixed "
        f"(0.5: it cannot tell them apart; 1: it always can; {study['pairs']} pairs).",
    ]
