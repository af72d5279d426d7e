"""An export made again from its sidecar: every entry read with its type and range checked.

A sidecar may have been edited, cut short or written by another version; each
value is taken through :mod:`json_input`, so a wrong one is refused with the
file, the key path and what was expected (``blend.alpha: expected a number in
0 … 1, found the text "half"``), never half-used and never a traceback. Files
are then checked against the sha256 recorded at the export before use; the model,
when its folder holds another one now (a newer default), is looked for by sha256
(:func:`model_folder`).
"""

from dataclasses import dataclass
from pathlib import Path

from musinterp_app import sidecar
from musinterp_app.audio import io, stretch
from musinterp_app.audio.cancel import CancelToken
from musinterp_app.base import limits
from musinterp_app.base.json_input import JsonInputError, Node
from musinterp_app.base.resources import default_model_dir
from musinterp_app.engine import (
    EXPORT_LEVELS,
    MODEL_FILES,
    BlendSettings,
    Engine,
    ExportOptions,
    PadSettings,
    Settings,
    align_track,
    load_track,
)
from musinterp_app.model import latent
from musinterp_app.model.onnx_vae import OnnxVAE

SHA256_CHARS = 64
PATH_CHARS = 4096
MODEL_ID_CHARS = 64
# Earlier default models by model id: `.ci/previous-model.sh NAME DIR`, run in a checkout
# of musinterp, takes each from the project's history.
EARLIER_DEFAULTS = {"68b62ae0e9d6": "v1", "0037da21da34": "v2"}


def path_points(node: Node) -> tuple[tuple[float, float], ...]:
    """A pad path: at least two ``[x, y]`` points on the pad; one point or none is refused
    alike. (A sidecar records a puck that stays put as ``"path": []``, which
    :func:`settings_from_record` reads as no path before asking for one.)"""
    points = node.points(limits.PAD)
    if len(points) < 2:
        node.fail("a path of at least two [x, y] points, e.g. [[0, 0], [1, 1]]")
    return points


def curve_points(node: Node, kind: str = "blend") -> tuple[tuple[float, ...], ...]:
    """A performance curve: ``[seconds, α]`` points, or ``[seconds, x, y]`` for the pad
    (checked together by the settings)."""
    if kind == "pad":
        points = node.points((limits.CURVE_S, limits.PAD, limits.PAD), size=3)
        example = "[seconds, x, y] points, e.g. [[0, 0, 0], [4, 1, 0.5]]"
    else:
        points = node.points((limits.CURVE_S, limits.ALPHA))
        example = "[seconds, α] points, e.g. [[0, 0], [4, 1]]"
    if len(points) < 2:
        node.fail(f"a curve of at least two {example}")
    return points


def settings_from_record(blend: Node) -> Settings:
    """The blend or pad settings a sidecar's ``blend`` entry describes (an option an older
    export did not record takes its default)."""
    kind = blend["kind"].choice(("blend", "pad"))
    readers = {
        "mode": lambda node: node.choice(latent.MODES),
        "keep_detail": Node.flag,
        "steady_level": Node.flag,
        "x": lambda node: node.number(limits.PAD),
        "y": lambda node: node.number(limits.PAD),
        "path": lambda node: path_points(node) if node.value != [] else (),
        "alpha": lambda node: node.number(limits.ALPHA),
        "morph": Node.flag,
        "steps": lambda node: tuple(step.number(limits.ALPHA) for step in node.items()),
        "curve": lambda node: curve_points(node, kind) if node.value != [] else (),
        "curve_start_s": lambda node: node.number(limits.CURVE_S),
    }
    kind_class = PadSettings if kind == "pad" else BlendSettings
    values = {}
    for name in kind_class.__dataclass_fields__:
        node = blend.get(name)
        if node is not None:
            values[name] = readers[name](node)
    try:
        return kind_class(**values)
    except ValueError as error:  # values right one by one, wrong together (even steps)
        raise JsonInputError(blend.path, blend.where, str(error)) from None


def export_options(render: Node) -> ExportOptions:
    """The render options a sidecar's ``render`` entry records (the rate it was written at;
    what lies above the model's band carried only where it says so: older sidecars did not)."""
    rate = render["rate"]
    high_band = render.get("high_band")
    return ExportOptions(
        n_iter=render["n_iter"].integer(limits.ITERATIONS),
        level=render["level"].choice(EXPORT_LEVELS),
        output_rate=None if rate.value is None else rate.integer(limits.OUTPUT_RATE_HZ),
        sample_format=render["sample_format"].choice(io.SAMPLE_FORMATS),
        fade_ms=render["fade_ms"].number(limits.FADE_MS),
        mono=render["mono"].flag(),
        high_band=high_band is not None and high_band.flag(),
    )


SPEED = limits.Range(1 / stretch.MAX_SPEED, stretch.MAX_SPEED)
SEMITONES = limits.Range(-12, 12, integer=True)  # the smallest interval onto a key: ±6


def alignment(node: Node) -> stretch.Alignment:
    """A track's tempo and key fit as the sidecar keeps it, every value typed and ranged."""
    for item in node["sync"].items():
        item.choice(stretch.SYNC_CHOICES)
    node["speed"].number(SPEED)
    node["semitones"].integer(SEMITONES)
    node["skip_s"].number(limits.START_S)
    for name in ("tempo", "reference_tempo"):
        node[name]["bpm"].number(limits.TEMPO_BPM)
    try:
        return stretch.Alignment.from_dict(node.value)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        node.fail("a tempo and key fit as musinterp writes it")


def _holds(folder: Path, expected_sha256: dict[str, str]) -> bool:
    """Whether ``folder``'s model files are the ones with ``expected_sha256``."""
    try:
        return all(sidecar.sha256(folder / n) == h for n, h in expected_sha256.items())
    except OSError:
        return False


def _model_folders(parent: Path) -> list[Path]:
    """The folders in ``parent`` that hold a model (none where it cannot be read)."""
    try:
        return sorted(p for p in parent.iterdir() if (p / MODEL_FILES[0]).is_file())
    except OSError:
        return []


@dataclass(frozen=True)
class RecordedModel:
    """The model an export was made with, as its sidecar names it."""

    path: Path
    sha256: dict[str, str]  # per file of MODEL_FILES
    model_id: str | None  # None in a sidecar that does not say


def recorded_model(model: Node) -> RecordedModel:
    """The sidecar's ``model`` entry, every value typed."""
    model_id = model.get("model_id")
    return RecordedModel(
        path=Path(model["path"].text(max_chars=PATH_CHARS)),
        sha256={name: model[name].text(max_chars=SHA256_CHARS) for name in MODEL_FILES},
        model_id=model_id.text(max_chars=MODEL_ID_CHARS) if model_id is not None else None,
    )


def model_folder(recorded: RecordedModel, model_dir: str | Path | None = None) -> Path:
    """The folder that holds the export's model.

    ``model_dir`` when given (its files must be the recorded ones); else the recorded path;
    else, when the files there changed (a default replaced by a newer one), a folder beside
    it or among the shipped models whose files have the recorded sha256. Otherwise a
    ``SidecarError`` in one sentence that says how to get the model back.
    """
    if model_dir is not None:
        for name, sha256 in recorded.sha256.items():
            sidecar.check_file(Path(model_dir) / name, sha256, f"the model's {name}")
        return Path(model_dir)
    changed = [n for n, h in recorded.sha256.items() if not _holds(recorded.path, {n: h})]
    if not changed:
        return recorded.path
    others = [*_model_folders(recorded.path.parent), *_model_folders(default_model_dir().parent)]
    for folder in dict.fromkeys(others):  # each folder once, in this order
        if folder != recorded.path and _holds(folder, recorded.sha256):
            return folder
    earlier = EARLIER_DEFAULTS.get(recorded.model_id)
    how = (
        f"it was musinterp's default model {earlier}: get it with `.ci/previous-model.sh "
        f"{earlier} DIR` in a checkout of musinterp and render with --model DIR"
        if earlier
        else "put that model folder back, or render with --model DIR naming a folder that holds it"
    )
    which = f" (id {recorded.model_id})" if recorded.model_id else ""
    raise sidecar.SidecarError(
        f"the export's model{which} is no longer in “{recorded.path}” "
        f"({' and '.join(changed)} missing or changed since the export): {how}"
    )


def rebuild(
    record: Node, *, model_dir: str | Path | None = None, cancel: CancelToken | None = None
) -> tuple[Engine, Settings, ExportOptions]:
    """The engine, settings and options of an export, from its sidecar record.

    Every entry is read and checked first (``JsonInputError`` names a wrong one),
    then every file against the sha256 recorded at the export
    (``sidecar.SidecarError`` names the one that changed or is missing; the model is
    looked for as :func:`model_folder` says). ``model_dir``: where the model folder is
    now, if it moved.
    """
    model = recorded_model(record["model"])
    settings = settings_from_record(record["blend"])
    sources = record["sources"].entries()
    kind = "pad" if isinstance(settings, PadSettings) else "two-track"
    if sorted(sources) != sorted(settings.slots):
        record["sources"].fail(f"the sources {', '.join(settings.slots)} of a {kind} blend")
    sync = record["sync"].entries()
    if not set(sync) <= set(sources):
        record["sync"].fail(f"fits of the blend's sources ({', '.join(settings.slots)}) only")
    fits = {slot: alignment(sync[slot]) for slot in sources if slot in sync}
    options = export_options(record["render"])
    plan = {
        slot: (
            source["path"].text(max_chars=PATH_CHARS),
            source["sha256"].text(max_chars=SHA256_CHARS),
            source["start_s"].number(limits.START_S),
            source["duration_s"].number(limits.EXCERPT_S),
        )
        for slot, source in sources.items()
    }
    engine = Engine(OnnxVAE(model_folder(model, model_dir)))
    for slot, (path, sha256, _, _) in plan.items():
        sidecar.check_file(path, sha256, f"source {slot}")
    for slot, (path, _, start_s, excerpt_s) in plan.items():
        track = load_track(
            path, engine.model, start_s=start_s, excerpt_s=excerpt_s, cancel=cancel,
            overview=False,
        )  # fmt: skip
        if abs(track.start_s - start_s) > 1e-6 or abs(track.excerpt_s - excerpt_s) > 1e-3:
            # the file is the one exported (sha256), so the sidecar's excerpt was edited
            raise JsonInputError(
                record.path,
                sources[slot].where,
                f"its excerpt ({start_s:g} s for {excerpt_s:g} s) does not fit "
                f"{Path(path).name}, which gives {track.start_s:g} s for "
                f"{track.excerpt_s:g} s: the sidecar was edited; export the blend again",
            )
        if slot in fits:
            track = align_track(track, engine.model, fits[slot], cancel=cancel)
        engine.set_track(slot, track)
    return engine, settings, options
