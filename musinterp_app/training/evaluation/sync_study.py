"""``musinterp-train sync-study``: how far the window's tempo and key can be trusted.

Two measures, each for every estimator compared (the app's own, :mod:`musinterp_app.audio.
analysis`, and librosa's beat tracker with a chroma-CQT key):

- **accuracy** against known truth: generated clips of known tempo and key
  (:func:`synth.music_like`), and tracker modules, whose files state their tempo
  (rendered with ``openmpt123``). A tempo is right within 4 %; one off by a factor
  of 2 or 3 is an *octave error*, counted apart. A key is right, its relative, a
  fifth away, or wrong.
- **steadiness** on real music: in each track, the 32-s stretch whose four 8-s windows
  sound most alike (their mean log-mel spectra, which no estimator reads) is one
  steady section; its windows are estimated one by one, and the track is steady
  when every window's tempo is within 3 % of their median once folded by octaves,
  and every window's key is the most common one or its relative.

Audio is mono float32 at ``RATE``; every window is estimated alone.
"""

import json
import shutil
import struct
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from musinterp_app.audio import analysis, io, mel, synth

RATE = 32768
WINDOW_S = 8.0
WINDOWS_PER_SECTION = 4
SECTION_STEP_S = 4.0
TEMPO_TOLERANCE = 0.04  # accuracy: within 4 %
STEADY_TOLERANCE = 0.03  # steadiness: within 3 % of the median, octave-folded
MODULE_SUFFIXES = (".mod", ".xm")

Estimator = Callable[[np.ndarray, int], tuple[float, analysis.Key]]


def app_estimate(samples: np.ndarray, rate: int) -> tuple[float, analysis.Key]:
    """The window's own estimators (what ``Engine.estimates`` runs)."""
    return analysis.estimate_tempo(samples, rate).bpm, analysis.estimate_key(samples, rate)


def librosa_estimate(samples: np.ndarray, rate: int) -> tuple[float, analysis.Key]:
    """librosa's beat tracker (its tempo) and a constant-Q chroma matched to the same
    Krumhansl–Kessler profiles the app uses."""
    import librosa

    tempo, _beats = librosa.beat.beat_track(y=samples, sr=rate)
    energy = librosa.feature.chroma_cqt(y=samples, sr=rate).sum(axis=1)
    return float(np.atleast_1d(tempo)[0]), analysis.best_key(energy / max(energy.sum(), 1e-12))


ESTIMATORS: dict[str, Estimator] = {"app": app_estimate, "librosa": librosa_estimate}


def octave_folded_ratio(bpm: float, reference: float) -> float:
    """``bpm ÷ reference`` folded by octaves into [1/√2, √2)."""
    ratio = bpm / reference
    return float(ratio * 2.0 ** -np.round(np.log2(ratio)))


def tempo_verdict(bpm: float, truth: float) -> str:
    """``"right"`` (within 4 %), ``"octave"`` (within 4 % of 2×, ½×, 3× or ⅓× the truth) or
    ``"wrong"``."""
    for factor, verdict in ((1, "right"), (2, "octave"), (0.5, "octave"), (3, "octave")):
        if abs(bpm / (truth * factor) - 1) <= TEMPO_TOLERANCE:
            return verdict
    return "octave" if abs(3 * bpm / truth - 1) <= TEMPO_TOLERANCE else "wrong"


def key_verdict(key: analysis.Key, truth: analysis.Key) -> str:
    """``"right"``, ``"relative"``, ``"fifth"`` (a fifth up or down, same mode) or ``"wrong"``."""
    if (key.tonic, key.minor) == (truth.tonic, truth.minor):
        return "right"
    relative = truth.relative()
    if (key.tonic, key.minor) == (relative.tonic, relative.minor):
        return "relative"
    if key.minor == truth.minor and (key.tonic - truth.tonic) % 12 in (5, 7):
        return "fifth"
    return "wrong"


# ----- truth: generated clips and tracker modules ---------------------------------------------
def generated_clips(count: int, seed: int = 0) -> list[dict]:
    """``count`` 8-s clips of known tempo (60–180 BPM, log-uniform) and key (either mode)."""
    rng = np.random.default_rng(seed)
    clips = []
    for index in range(count):
        tempo = float(np.exp(rng.uniform(np.log(60), np.log(180))))
        minor = bool(rng.integers(2))
        root = int(rng.integers(45, 57))
        samples = synth.music_like(
            WINDOW_S, RATE, rng=np.random.default_rng(seed + index), tempo_bpm=tempo,
            root_midi=root, minor=minor, cadences=True,
        )  # fmt: skip
        clips.append(
            {
                "name": f"generated {index}",
                "samples": samples,
                "tempo_bpm": tempo,
                "key": analysis.Key(root % 12, minor),
            }
        )
    return clips


def module_tempo_bpm(path: Path) -> float | None:
    """The tempo a MOD or XM file states for its start, in beats (of 4 rows) per minute:
    6 × BPM ÷ speed, from the XM header or the MOD's first pattern's Fxx commands
    (default speed 6, BPM 125). None for a file this cannot read."""
    data = path.read_bytes()
    if data.startswith(b"Extended Module: ") and len(data) >= 80:
        speed, bpm = struct.unpack_from("<HH", data, 76)
        return 6.0 * bpm / speed if speed else None
    if len(data) < 1084 or data[1080:1084] not in (b"M.K.", b"M!K!", b"4CHN", b"FLT4"):
        return None
    speed, bpm = 6, 125
    first_pattern = data[952]
    start = 1084 + first_pattern * 64 * 4 * 4
    for row in range(4):  # the tempo set on the first rows
        for channel in range(4):
            cell = data[start + (row * 4 + channel) * 4 : start + (row * 4 + channel + 1) * 4]
            if len(cell) == 4 and cell[2] & 0x0F == 0x0F and cell[3]:
                speed, bpm = (cell[3], bpm) if cell[3] < 0x20 else (speed, cell[3])
    return 6.0 * bpm / speed


def module_clips(folders: list[Path]) -> list[dict]:
    """The first ``WINDOWS_PER_SECTION`` 8-s windows after the first 2 s of each tracker
    module in ``folders`` (rendered by ``openmpt123``), with the tempo the file states."""
    if shutil.which("openmpt123") is None:
        raise RuntimeError(
            "openmpt123 renders tracker modules: install it (apt install openmpt123)"
        )
    clips = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in sorted(p for f in folders for p in f.rglob("*") if p.suffix in MODULE_SUFFIXES):
            tempo = module_tempo_bpm(path)
            if tempo is None:
                continue
            copy = Path(scratch) / path.name  # rendered beside itself, as NAME.wav
            shutil.copyfile(path, copy)
            subprocess.run(
                ["openmpt123", "--render", "--samplerate", str(RATE), "--no-float", "--repeat",
                 "0", "-q", str(copy)],
                check=True, capture_output=True,
            )  # fmt: skip
            wav = Path(f"{copy}.wav")
            audio = io.load(wav, sample_rate=RATE)
            for window in range(WINDOWS_PER_SECTION):
                first = round((2.0 + window * WINDOW_S) * RATE)
                piece = audio[first : first + round(WINDOW_S * RATE)]
                if len(piece) == round(WINDOW_S * RATE):
                    clips.append(
                        {"name": f"{path.name} @{first / RATE:.0f}s", "samples": piece,
                         "tempo_bpm": tempo, "file": path.name}
                    )  # fmt: skip
    return clips


def accuracy(clips: list[dict], estimate: Estimator) -> dict:
    """Counts of each verdict for tempo (and key, where the clips know it)."""
    tempo, key = Counter(), Counter()
    for clip in clips:
        bpm, found = estimate(clip["samples"], RATE)
        tempo[tempo_verdict(bpm, clip["tempo_bpm"])] += 1
        if "key" in clip:
            key[key_verdict(found, clip["key"])] += 1
    result = {"clips": len(clips), "tempo": dict(tempo)}
    return result | ({"key": dict(key)} if key else {})


# ----- steadiness on real music -----------------------------------------------------------------
def steady_section(samples: np.ndarray) -> list[np.ndarray] | None:
    """The four consecutive 8-s windows of a track whose mean log-mel spectra lie closest
    together (the largest distance between any two, searched at 4-s steps), or None for a
    track shorter than 32 s."""
    config = mel.MelConfig(sample_rate=RATE, n_fft=2048, hop_length=1024, n_mels=64)
    window = round(WINDOW_S * RATE)
    span = WINDOWS_PER_SECTION * window
    if len(samples) < span:
        return None
    features = mel.log_mel_long(samples, config)
    frames_per_window = window // config.hop_length
    best, best_spread = 0, np.inf
    for first in range(0, len(samples) - span + 1, round(SECTION_STEP_S * RATE)):
        frame = first // config.hop_length
        means = [
            features[:, frame + k * frames_per_window : frame + (k + 1) * frames_per_window].mean(1)
            for k in range(WINDOWS_PER_SECTION)
        ]
        spread = max(np.abs(a - b).mean() for a in means for b in means)
        if spread < best_spread:
            best, best_spread = first, spread
    return [
        samples[best + k * window : best + (k + 1) * window] for k in range(WINDOWS_PER_SECTION)
    ]


def steadiness(sections: dict[str, list[np.ndarray]], estimate: Estimator) -> dict:
    """The share of tracks whose steady section's windows agree on tempo (within 3 %,
    octave-folded) and on key (the most common or its relative), and each track's values."""
    tracks = {}
    for name, windows in sections.items():
        estimates = [estimate(w, RATE) for w in windows]
        tempos = np.array([bpm for bpm, _ in estimates])
        reference = float(np.median(tempos))
        folded = [octave_folded_ratio(t, reference) for t in tempos]
        keys = [(k.tonic, k.minor) for _, k in estimates]
        common = analysis.Key(*Counter(keys).most_common(1)[0][0])
        agreeing = {(common.tonic, common.minor), (common.relative().tonic, not common.minor)}
        tracks[name] = {
            "tempo_bpm": [round(float(t), 1) for t in tempos],
            "keys": [k.name for _, k in estimates],
            "tempo_steady": bool(max(abs(f - 1) for f in folded) <= STEADY_TOLERANCE),
            "key_steady": all(k in agreeing for k in keys),
        }
    count = max(1, len(tracks))
    return {
        "tracks": len(tracks),
        "tempo_steady": round(sum(t["tempo_steady"] for t in tracks.values()) / count, 3),
        "key_steady": round(sum(t["key_steady"] for t in tracks.values()) / count, 3),
        "per_track": tracks,
    }


def real_sections(folders: list[Path], limit: int) -> dict[str, list[np.ndarray]]:
    """The steady section of up to ``limit`` tracks (every file of the folders, in order)."""
    sections = {}
    for path in sorted(p for f in folders for p in f.rglob("*") if p.suffix in io.AUDIO_SUFFIXES):
        if len(sections) >= limit:
            break
        try:
            samples = io.load(path, sample_rate=RATE, duration_s=600.0)
        except io.AudioLoadError:
            continue
        section = steady_section(samples)
        if section is not None and not analysis.too_quiet(np.concatenate(section)):
            sections[f"{path.parent.name}/{path.name}"] = section
    return sections


def study(
    audio: list[Path], modules: list[Path], *, generated: int = 48, tracks: int = 120
) -> dict:
    """Accuracy and steadiness of every estimator (see the module docstring)."""
    truth = {"generated": generated_clips(generated)}
    if modules:
        truth["modules"] = module_clips(modules)
    sections = real_sections(audio, tracks)
    result = {"window_s": WINDOW_S, "estimators": {}}
    for name, estimate in ESTIMATORS.items():
        result["estimators"][name] = {
            "accuracy": {kind: accuracy(clips, estimate) for kind, clips in truth.items()},
            "steadiness": steadiness(sections, estimate),
        }
    return result


def write(result: dict, out: Path) -> None:
    """``out``/sync-study.json and a Markdown summary beside it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "sync-study.json").write_text(json.dumps(result, indent=1))
    (out / "sync-study.md").write_text(markdown(result))


def markdown(result: dict) -> str:
    """The study's tables with what they measure (``docs/measurements/sync-study.md``)."""
    lines = [
        "# Tempo and key: accuracy and steadiness",
        "",
        "Made by `musinterp-train sync-study` (see its module docstring); every 8-s window "
        "is estimated alone. *Accuracy*: a tempo is right within 4 %, an octave error is "
        "off by ×2, ×½ or ×3; a key is right, its relative, a fifth away or wrong. "
        "*Steadiness*: the share of real tracks whose four 8-s windows from one steady "
        "section agree on the tempo within 3 % (octave-folded) and on the key or its "
        "relative.",
        "",
        "| estimator | truth | clips | tempo right | octave errors | tempo wrong | key right "
        "| relative | fifth | key wrong |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, scores in result["estimators"].items():
        for kind, counts in scores["accuracy"].items():
            tempo, key = counts["tempo"], counts.get("key", {})
            cells = [tempo.get(v, 0) for v in ("right", "octave", "wrong")]
            keys = [key.get(v, 0) for v in ("right", "relative", "fifth", "wrong")] if key else []
            lines.append(
                f"| {name} | {kind} | {counts['clips']} | "
                + " | ".join(str(c) for c in cells)
                + " | "
                + (" | ".join(str(c) for c in keys) if keys else "– | – | – | –")
                + " |"
            )
    lines += ["", "| estimator | tracks | steady tempo | steady key |", "| --- | --- | --- | --- |"]
    for name, scores in result["estimators"].items():
        steady = scores["steadiness"]
        lines.append(
            f"| {name} | {steady['tracks']} | {steady['tempo_steady']:.0%} "
            f"| {steady['key_steady']:.0%} |"
        )
    return "\n".join(lines) + "\n"
