"""A session file: everything in the window that shapes the sound, to come back to.

*File → Save session / Open session* keep as many as a musician wants; the window
also writes one beside its preferences when it closes and opens it at the next start.
A small JSON file (``NAME.musinterp-session.json``): the model, the four tracks with
their excerpts and each file's sha256 (as export sidecars keep them), the blend
settings, tempo and key matching with what was given by hand, the pad's puck and
drawn path, which side panels are open, and the render options. Reading goes
through :mod:`musinterp_app.base.json_input` (every value typed and ranged); a source
that changed since the session was saved is refused in a sentence before anything
is applied, so the window keeps what it had.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path

from musinterp_app import __version__, rebuild, sidecar
from musinterp_app.audio.analysis import Key
from musinterp_app.base import limits
from musinterp_app.base.json_input import Node, load
from musinterp_app.engine import EXPORT_LEVELS, SLOTS, BlendSettings

FORMAT = "musinterp session"
FORMAT_VERSION = 1
SUFFIX = ".musinterp-session.json"
LAST_SESSION = "last" + SUFFIX  # the one the window writes on closing, beside its preferences
PANELS = ("sync", "pad")
RATE_CHOICES = (0, -1)  # the sources' rate, the model's; else a rate in Hz


@dataclass(frozen=True)
class SavedTrack:
    """A track as a session keeps it: its file, that file's sha256 and the excerpt's start."""

    path: str
    sha256: str
    start_s: float


@dataclass(frozen=True)
class SavedSession:
    """What a session file holds (see the module docstring); slots without a track are
    absent from ``tracks``; ``tempo_bpm`` and ``keys`` are what was given by hand."""

    model_folder: str
    tracks: dict[str, SavedTrack]
    excerpt_s: float
    blend: BlendSettings
    match: tuple[str, ...] = ()
    tempo_bpm: dict[str, float] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)
    pad_position: tuple[float, float] = (0.5, 0.5)
    pad_path: tuple[tuple[float, float], ...] = ()
    panels: dict[str, bool] = field(default_factory=dict)
    render: dict = field(default_factory=dict)  # iterations, level, rate (0: the sources')

    def to_json(self) -> dict:
        blend = asdict(self.blend)
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "app_version": __version__,
            "model_folder": self.model_folder,
            "tracks": {slot: asdict(track) for slot, track in self.tracks.items()},
            "excerpt_s": self.excerpt_s,
            "blend": {"kind": "blend", **blend},
            "match": list(self.match),
            "tempo_bpm": self.tempo_bpm,
            "keys": {slot: key.name for slot, key in self.keys.items()},
            "pad": {"position": list(self.pad_position), "path": [list(p) for p in self.pad_path]},
            "panels": self.panels,
            "render": self.render,
        }


class SessionError(ValueError):
    """A session file that cannot be opened as it is; ``str(error)`` is for the user."""


def write(path: str | Path, session: SavedSession) -> Path:
    """Write ``session`` to ``path`` atomically (temporary name, then rename)."""
    return sidecar.write(path, session.to_json())


def read(path: str | Path) -> SavedSession:
    """The session in ``path``, every value checked (``JsonInputError`` names a wrong one,
    ``SessionError`` another kind of file or a newer format); its sources are not read
    (see :func:`checked`)."""
    record = load(path)
    record.entries()
    if record.value.get("format") != FORMAT:
        raise SessionError(f"“{Path(path).name}” is not a musinterp session")
    if record["format_version"].value != FORMAT_VERSION:
        raise SessionError(
            f"“{Path(path).name}” was saved by a newer musinterp (format "
            f"{record['format_version'].value!r}); this one reads format {FORMAT_VERSION}"
        )
    tracks = {}
    for slot, entry in record["tracks"].entries().items():
        if slot not in SLOTS:
            record["tracks"].fail(f"tracks in the slots {', '.join(SLOTS)}")
        tracks[slot] = SavedTrack(
            entry["path"].text(max_chars=rebuild.PATH_CHARS),
            entry["sha256"].text(max_chars=rebuild.SHA256_CHARS),
            entry["start_s"].number(limits.START_S),
        )
    blend = rebuild.settings_from_record(record["blend"])
    if not isinstance(blend, BlendSettings):
        record["blend"]["kind"].fail('"blend"')
    pad = record["pad"]
    session = SavedSession(
        model_folder=record["model_folder"].text(max_chars=rebuild.PATH_CHARS),
        tracks=tracks,
        excerpt_s=record["excerpt_s"].number(limits.EXCERPT_S),
        blend=blend,
        match=tuple(dict.fromkeys(i.choice(("tempo", "key")) for i in record["match"].items())),
        tempo_bpm={
            slot: node.number(limits.TEMPO_BPM) for slot, node in _by_slot(record["tempo_bpm"])
        },
        keys={slot: _key(node) for slot, node in _by_slot(record["keys"])},
        pad_position=_position(pad["position"]),
        pad_path=rebuild.path_points(pad["path"]) if pad["path"].value != [] else (),
        panels={name: node.flag() for name, node in record["panels"].entries().items()
                if name in PANELS},
        render=_render(record["render"]),
    )  # fmt: skip
    return session


def checked(path: str | Path) -> SavedSession:
    """:func:`read`, then every track's file checked against its sha256: ``SidecarError``
    names one that is missing or changed since the session was saved."""
    session = read(path)
    for slot, track in session.tracks.items():
        sidecar.check_file(
            track.path, track.sha256, f"Track {slot}", recorded_at="the session's saving",
            consequence="so the session would not sound as it did: open the tracks again "
            "instead",
        )  # fmt: skip
    return session


def _position(node: Node) -> tuple[float, float]:
    numbers = node.items()
    if len(numbers) != 2:
        node.fail("a position [x, y] on the pad")
    return numbers[0].number(limits.PAD), numbers[1].number(limits.PAD)


def _by_slot(node: Node) -> list[tuple[str, Node]]:
    entries = node.entries()
    for slot in entries:
        if slot not in SLOTS:
            node.fail(f"values for the slots {', '.join(SLOTS)}")
    return list(entries.items())


def _key(node: Node) -> Key:
    try:
        return Key.parse(node.text(max_chars=32))
    except ValueError:
        node.fail("a key such as “A minor” or “Eb major”")


def _render(node: Node) -> dict:
    rate = node["rate"]
    return {
        "iterations": node["iterations"].integer(limits.ITERATIONS),
        "level": node["level"].choice(EXPORT_LEVELS),
        "rate": rate.value if rate.value in RATE_CHOICES else rate.integer(limits.OUTPUT_RATE_HZ),
    }
