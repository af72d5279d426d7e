"""FMA's metadata (``fma_metadata/tracks.csv``): which tracks to use and their labels.

FMA's subsets nest: ``small`` (8 000 clips, 8 genres, balanced) ⊂ ``medium``
⊂ ``large`` (106 574 clips); ``full`` is the untrimmed audio of the same tracks
as ``large``. ``tracks.csv`` gives each track the smallest subset it is in
(``set/subset``), FMA's own split (``set/split``: training / validation /
test) and its top genre (``track/genre_top``, empty for many tracks outside
``medium``). Labels are top genres; a track without one is labelled
:data:`NO_GENRE`.
"""

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

from musinterp_app.base.files import open_text, table_errors
from musinterp_app.base.json_input import shorten

SUBSETS = ("small", "medium", "large", "full")
# FMA small's eight genres: the balanced split the report trained on.
BALANCED_GENRES = (
    "Electronic",
    "Experimental",
    "Folk",
    "Hip-Hop",
    "Instrumental",
    "International",
    "Pop",
    "Rock",
)
NO_GENRE = "(no genre)"


@dataclass(frozen=True)
class Track:
    label: str  # the top genre, or NO_GENRE
    subset: str  # the smallest subset the track is in: small, medium or large
    split: str  # FMA's split: training, validation or test


def is_track_id(text: str) -> bool:
    """Whether a table's first cell is a track id: ASCII digits, at most 18 of them (``int``
    refuses other Unicode digits, and thousands of digits)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def read_tracks(tracks_csv: Path) -> dict[int, Track]:
    """Track id → :class:`Track`, from FMA's ``tracks.csv`` (two header rows, then ``track_id``)."""
    what = "fma_metadata/tracks.csv"
    with open_text(tracks_csv) as handle, table_errors(tracks_csv, what):
        rows = csv.reader(handle, strict=True)  # an unclosed quote is an error, not one field
        header = list(itertools.islice(rows, 3))  # groups, names, the index's name (track_id)
        if len(header) < 3:
            raise ValueError(f"{tracks_csv} has {len(header)} of FMA's 3 header rows; give {what}")
        groups, names, _ = header
        columns = {(g, n): i for i, (g, n) in enumerate(zip(groups, names, strict=False))}
        try:
            genre, subset, split = (
                columns[key]
                for key in [("track", "genre_top"), ("set", "subset"), ("set", "split")]
            )
        except KeyError:
            raise ValueError(
                f"{tracks_csv} is not FMA's tracks.csv (no track/genre_top, set/subset and "
                f"set/split columns); give {what}"
            ) from None
        tracks = {}
        for row in rows:
            if not row or not any(row):
                continue
            if not is_track_id(row[0]) or len(row) <= max(genre, subset, split):
                raise ValueError(
                    f"{tracks_csv}, line {rows.line_num}: {shorten(repr(row[0]))} is not a "
                    f"track id followed by FMA's columns; give {what}"
                )
            tracks[int(row[0])] = Track(row[genre] or NO_GENRE, row[subset], row[split])
    if not tracks:
        raise ValueError(f"{tracks_csv} lists no tracks (only its header); give {what}")
    return tracks


def select(tracks: dict[int, Track], subset: str = "full", balanced: bool = False) -> dict:
    """The tracks of ``subset`` (track id → :class:`Track`).

    ``balanced`` keeps FMA small's eight genres only, each cut to as many
    tracks as the rarest of them has in ``subset`` (lowest track ids first),
    so every genre weighs the same, as in FMA small.
    """
    if subset not in SUBSETS:
        raise ValueError(f"unknown FMA subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    order = SUBSETS.index("large" if subset == "full" else subset)
    chosen = {
        track_id: track
        for track_id, track in sorted(tracks.items())
        if track.subset in SUBSETS and SUBSETS.index(track.subset) <= order
    }
    if not balanced:
        return chosen
    by_genre = {genre: [t for t in chosen if chosen[t].label == genre] for genre in BALANCED_GENRES}
    per_genre = min(len(ids) for ids in by_genre.values())
    if not per_genre:
        missing = [genre for genre, ids in by_genre.items() if not ids]
        raise ValueError(f"no {', '.join(missing)} tracks in FMA {subset}: cannot balance")
    return {t: chosen[t] for ids in by_genre.values() for t in ids[:per_genre]}
