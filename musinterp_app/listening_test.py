"""A blind listening test on the user's own tracks (the report's survey, under one name:
the listening test). No Qt here.

Trials are built from pairs of the user's tracks: for each pair, the
original (A's excerpt), the model's reconstruction of A, the latent blend at
α = 0.5 (pure model), the keep-detail blend, and a plain crossfade (the two
excerpts mixed at α = 0.5), all in one random order. The listener hears each
without knowing which it is and answers the report's six questions on a 1–5
scale. Every answer is appended to ``answers.csv`` the moment it is given,
in one ``write`` and fsync'd, so closing or killing the window loses nothing
already answered. Several listeners share a folder: each row names its
listener and run (the ``session`` column). :func:`summarise` gives, per condition and question,
the mean, its 95 % interval and n (the last answer of each listener, run,
trial and question counts).

Shapes: audio float32 ``[samples]`` at the model's rate.
"""

import csv
import io
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.stats

from musinterp_app.audio.cancel import CancelToken, Progress
from musinterp_app.base import files
from musinterp_app.base.files import write_atomically
from musinterp_app.engine import BlendSettings, Engine, load_track
from musinterp_app.model.onnx_vae import OnnxVAE

QUESTIONS = (
    ("fluent", "Are the transitions fluent?"),
    ("like_before", "Does it sound like the music before it was reconstructed?"),
    ("sounds_good", "Does it sound good?"),
    ("combination", "Does it sound like a combination of the two inputs?"),
    ("features", "Are the inputs' features (instruments, rhythm, melody) preserved?"),
    ("genre", "Is the genre preserved?"),
)
SCORES = (1, 2, 3, 4, 5)  # 1 = not at all … 5 = completely
CONDITIONS = ("original", "reconstruction", "latent blend", "keep-detail blend", "crossfade")
ANSWERS_FILE = "answers.csv"
FIELDS = ("time", "listener", "session", "trial", "condition", "question", "score", "sources")
BLEND_ALPHA = 0.5
EXCERPT_S = 8.0


@dataclass(frozen=True)
class Trial:
    """One stimulus. ``number`` is its place in the run (1-based); ``condition`` and
    ``sources`` are hidden from the listener until the run is over."""

    number: int
    condition: str
    sources: tuple[str, ...]  # the file names it was made from
    audio: np.ndarray  # float32 [samples] at the model rate


def _pairs(tracks: list[Path], rng: np.random.Generator) -> list[tuple[Path, Path]]:
    """Tracks paired in a random order; with an odd count the last pairs with the first."""
    order = [tracks[i] for i in rng.permutation(len(tracks))]
    if len(order) % 2:
        order.append(order[0])
    return list(zip(order[::2], order[1::2], strict=True))


def _padded(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` cut or silence-padded to ``length``."""
    out = np.zeros(length, np.float32)
    out[: min(length, len(samples))] = samples[:length]
    return out


def build_trials(
    tracks: list[str | Path],
    model: OnnxVAE,
    *,
    rng: np.random.Generator,
    seconds: float = EXCERPT_S,
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
) -> list[Trial]:
    """Every condition for every pair of ``tracks`` (at least two files), shuffled.

    Raises ``AudioLoadError`` for a file that cannot be read and ``ValueError``
    for fewer than two tracks.
    """
    tracks = [Path(t) for t in tracks]
    if len(tracks) < 2:
        raise ValueError("a listening test needs at least two tracks (blends take two)")
    pairs = _pairs(tracks, rng)
    stimuli: list[tuple[str, tuple[str, ...], np.ndarray]] = []
    total = len(pairs) * len(CONDITIONS)
    for a_path, b_path in pairs:
        engine = Engine(model)
        for slot, path in (("A", a_path), ("B", b_path)):
            engine.set_track(slot, load_track(path, model, excerpt_s=seconds, overview=False))
        a, b = engine.tracks["A"], engine.tracks["B"]
        length = engine.blend_frames * engine.config.hop_length
        samples_a, samples_b = (_padded(t.samples, length) for t in (a, b))
        alone = Engine(model)  # A with itself: α = 0 without detail is A's decode
        alone.set_track("A", a)
        alone.set_track("B", a)
        renders = {
            "original": samples_a,
            "reconstruction": alone.render(
                BlendSettings(alpha=0.0, keep_detail=False), cancel=cancel
            ),
            "latent blend": engine.render(
                BlendSettings(alpha=BLEND_ALPHA, keep_detail=False), cancel=cancel
            ),
            "keep-detail blend": engine.render(
                BlendSettings(alpha=BLEND_ALPHA, keep_detail=True), cancel=cancel
            ),
            "crossfade": (1 - BLEND_ALPHA) * samples_a + BLEND_ALPHA * samples_b,
        }
        for condition in CONDITIONS:
            sources = (a.name,) if condition in ("original", "reconstruction") else (a.name, b.name)
            stimuli.append((condition, sources, np.asarray(renders[condition], np.float32)))
            if progress is not None:
                progress(len(stimuli), total)
    order = rng.permutation(len(stimuli))
    return [Trial(number + 1, *stimuli[index]) for number, index in enumerate(order.tolist())]


class AnswerLog:
    """``answers.csv`` in a listening test's folder, appended one answer at a time.

    Each answer is one ``os.write`` of a whole line to a file opened with
    ``O_APPEND``, then ``fsync``: a killed process leaves every answer it
    reported as saved, and never half a row among them.
    """

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / ANSWERS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if os.fstat(self._descriptor).st_size == 0:
            self._write(FIELDS)

    def _write(self, values) -> None:
        line = io.StringIO()
        csv.writer(line).writerow(values)
        os.write(self._descriptor, line.getvalue().encode("utf-8"))
        os.fsync(self._descriptor)

    def record(self, listener: str, session: str, trial: Trial, question: str, score: int) -> None:
        """Append one answer (a question key of :data:`QUESTIONS`, a score in :data:`SCORES`)."""
        if question not in dict(QUESTIONS):
            raise ValueError(f"unknown question {question!r}")
        if score not in SCORES:
            raise ValueError(f"a score is 1 … 5, not {score!r}")
        self._write(
            (
                time.strftime("%Y-%m-%dT%H:%M:%S"),
                listener,
                session,
                trial.number,
                trial.condition,
                question,
                score,
                " + ".join(trial.sources),
            )
        )

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


class ListeningRun:
    """One listener going through the trials in order; answers are logged as given."""

    def __init__(self, trials: list[Trial], log: AnswerLog, listener: str) -> None:
        listener = listener.strip()
        if not listener:
            raise ValueError("give the listener's name (several people can share a test)")
        if not trials:
            raise ValueError("there are no trials to play")
        self.trials = trials
        self.log = log
        self.listener = listener
        self.session = uuid.uuid4().hex[:8]
        self.index = 0
        self.answers: dict[str, int] = {}  # the current trial's answers so far

    @property
    def trial(self) -> Trial:
        return self.trials[self.index]

    @property
    def finished(self) -> bool:
        return self.index >= len(self.trials)

    @property
    def complete(self) -> bool:
        """Every question of the current trial is answered."""
        return len(self.answers) == len(QUESTIONS)

    def answer(self, question: str, score: int) -> None:
        """Record an answer to the current trial at once (a changed answer is a new row)."""
        self.log.record(self.listener, self.session, self.trial, question, score)
        self.answers[question] = score

    def next(self) -> None:
        """On to the next trial; only once every question is answered."""
        if not self.complete:
            raise ValueError("answer every question before going on")
        self.index += 1
        self.answers = {}


def read_answers(folder: str | Path) -> list[dict]:
    """The answers in a listening test folder's ``answers.csv`` (rows that do not parse are
    skipped)."""
    path = Path(folder) / ANSWERS_FILE
    if not path.exists():
        raise ValueError(f"{folder} has no {ANSWERS_FILE}: no listening test was saved there")
    rows = []
    with files.open_text(path) as handle, files.table_errors(path, "the test's answers.csv"):
        for row in csv.DictReader(handle):
            try:
                row["score"] = int(row.get("score"))
            except (TypeError, ValueError):
                continue
            if row["score"] in SCORES and row.get("question") in dict(QUESTIONS):
                rows.append(row)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per condition and question: ``mean``, 95 % t-interval ``low`` … ``high`` and ``n``.

    Only the last answer of each listener, session, trial and question counts.
    """
    last = {(r["listener"], r["session"], r["trial"], r["question"]): r for r in rows}
    groups: dict[tuple[str, str], list[int]] = {}
    for row in last.values():
        groups.setdefault((row["condition"], row["question"]), []).append(row["score"])
    table = []
    for condition in CONDITIONS:
        for question, _ in QUESTIONS:
            scores = np.array(groups.get((condition, question), []), np.float64)
            if not len(scores):
                continue
            mean = float(scores.mean())
            half = (
                float(scipy.stats.t.ppf(0.975, len(scores) - 1) * scores.std(ddof=1))
                / math.sqrt(len(scores))
                if len(scores) > 1
                else math.nan
            )
            table.append(
                {
                    "condition": condition,
                    "question": question,
                    "mean": round(mean, 3),
                    "low": round(mean - half, 3),
                    "high": round(mean + half, 3),
                    "n": len(scores),
                }
            )
    return table


def summary_markdown(table: list[dict]) -> str:
    """The summary as a Markdown table (an interval needs at least two answers)."""
    lines = [
        "| condition | question | mean (1–5) | 95 % interval | n |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in table:
        interval = "–" if math.isnan(row["low"]) else f"{row['low']:.2f} … {row['high']:.2f}"
        lines.append(
            f"| {row['condition']} | {row['question']} | {row['mean']:.2f} | {interval} | "
            f"{row['n']} |"
        )
    return "\n".join(lines) + "\n"


def write_summary(folder: str | Path) -> Path:
    """``summary.md`` and ``summary.csv`` of a listening test folder's answers (atomic); the
    .md path."""
    folder = Path(folder)
    rows = read_answers(folder)
    table = summarise(rows)
    csv_text = io.StringIO()
    writer = csv.DictWriter(
        csv_text, fieldnames=["condition", "question", "mean", "low", "high", "n"]
    )
    writer.writeheader()
    writer.writerows(table)
    listeners = len({row["listener"] for row in rows})
    markdown = (
        f"# Listening test\n\n{listeners} listener(s); questions: "
        + "; ".join(f"{key}: {text}" for key, text in QUESTIONS)
        + "\n\n"
        + summary_markdown(table)
    )
    for name, text in (("summary.csv", csv_text.getvalue()), ("summary.md", markdown)):
        write_atomically(folder / name, text)
    return folder / "summary.md"
