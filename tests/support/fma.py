"""An FMA-shaped corpus made by the tests: audio named and foldered as FMA's
(``AUDIO/000/000002.mp3``) and the metadata files in FMA's own column layout
(``fma_metadata/tracks.csv``, ``genres.csv``, ``features.csv``, ``echonest.csv``),
small enough for a test, so code written for the real data set runs on it unchanged.

The layout, as FMA's ``utils.load`` reads it with pandas:

- ``tracks.csv``: two header rows (``album|artist|set|track``, then the field),
  a third row naming the index (``track_id``); ``set/subset`` is the smallest
  subset a track is in (``small`` ⊂ ``medium`` ⊂ ``large``; ``full`` is the
  untrimmed audio of ``large``), ``set/split`` is ``training`` / ``validation`` / ``test``;
- ``genres.csv``: ``genre_id, #tracks, parent, title, top_level``, FMA's ids;
- ``features.csv``: three header rows (``feature``, ``statistics``, ``number``)
  and the ``track_id`` row: 518 librosa summaries per track;
- ``echonest.csv``: three header rows (``echonest``, the group, the field) and
  the ``track_id`` row; only some tracks have one, as in FMA.

What is made: ``tracks_per_genre`` tracks in each of the eight genres of FMA
small (balanced: subset ``small``), a few more per genre in ``medium``
(unbalanced: 1, 2 or 3 more), two tracks of genres small lacks (``medium``),
and two tracks with no top genre (``large``). Genres differ audibly (root note
and tempo of :func:`synth.music_like`) and in ``features.csv`` (each genre's
values are centred apart), so a classifier can beat chance on either.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from musinterp_app.audio import synth

# FMA's top-level genres with their FMA ids; the first eight are FMA small's balanced eight.
GENRE_IDS = {
    "Electronic": 15,
    "Experimental": 38,
    "Folk": 17,
    "Hip-Hop": 21,
    "Instrumental": 1235,
    "International": 2,
    "Pop": 10,
    "Rock": 12,
    "Jazz": 4,
    "Classical": 5,
}
SMALL_GENRES = tuple(list(GENRE_IDS)[:8])

TRACK_FIELDS = {
    "album": [
        "comments", "date_created", "date_released", "engineer", "favorites", "id",
        "information", "listens", "producer", "tags", "title", "tracks", "type",
    ],
    "artist": [
        "active_year_begin", "active_year_end", "associated_labels", "bio", "comments",
        "date_created", "favorites", "id", "latitude", "location", "longitude", "members",
        "name", "related_projects", "tags", "website", "wikipedia_page",
    ],
    "set": ["split", "subset"],
    "track": [
        "bit_rate", "comments", "composer", "date_created", "date_recorded", "duration",
        "favorites", "genre_top", "genres", "genres_all", "information", "interest",
        "language_code", "license", "listens", "lyricist", "number", "publisher", "tags",
        "title",
    ],
}  # fmt: skip
FEATURE_SIZES = {
    "chroma_cens": 12,
    "chroma_cqt": 12,
    "chroma_stft": 12,
    "mfcc": 20,
    "rmse": 1,
    "spectral_bandwidth": 1,
    "spectral_centroid": 1,
    "spectral_contrast": 7,
    "spectral_rolloff": 1,
    "tonnetz": 6,
    "zcr": 1,
}
STATISTICS = ("kurtosis", "max", "mean", "median", "min", "skew", "std")
ECHONEST_FIELDS = {
    "audio_features": [
        "acousticness", "danceability", "energy", "instrumentalness", "liveness",
        "speechiness", "tempo", "valence",
    ],
    "metadata": [
        "album_date", "album_name", "artist_latitude", "artist_location",
        "artist_longitude", "artist_name", "release",
    ],
    "ranks": [
        "artist_discovery_rank", "artist_familiarity_rank", "artist_hotttnesss_rank",
        "song_currency_rank", "song_hotttnesss_rank",
    ],
    "social_features": [
        "artist_discovery", "artist_familiarity", "artist_hotttnesss", "song_currency",
        "song_hotttnesss",
    ],
    "temporal_features": [f"{k:03d}" for k in range(224)],
}  # fmt: skip


@dataclass(frozen=True)
class FmaTrack:
    track_id: int
    genre: str  # the top genre, "" when the track has none
    subset: str  # the smallest subset it is in: small, medium or large
    split: str  # training, validation or test

    @property
    def relative_path(self) -> str:
        """Where FMA keeps its audio: ``000/000002.mp3`` (folder = id // 1000)."""
        return f"{self.track_id // 1000:03d}/{self.track_id:06d}.mp3"


@dataclass(frozen=True)
class FmaCorpus:
    audio: Path  # the folder holding 000/, 001/, … (FMA's fma_small/ or fma_full/)
    metadata: Path  # fma_metadata/ with tracks.csv, genres.csv, features.csv, echonest.csv
    tracks: tuple[FmaTrack, ...]

    @property
    def tracks_csv(self) -> Path:
        return self.metadata / "tracks.csv"

    def in_subset(self, subset: str) -> list[FmaTrack]:
        """The tracks of ``subset`` (small ⊂ medium ⊂ large = full), as FMA defines them."""
        order = ["small", "medium", "large"]
        limit = order.index("large" if subset == "full" else subset)
        return [t for t in self.tracks if order.index(t.subset) <= limit]


def _plan(tracks_per_genre: int) -> list[FmaTrack]:
    """Which tracks exist: ids sparse and increasing, as FMA's are."""
    plan: list[tuple[str, str]] = []
    for genre in SMALL_GENRES:
        plan += [(genre, "small")] * tracks_per_genre
    for k, genre in enumerate(SMALL_GENRES):
        plan += [(genre, "medium")] * (1 + k % 3)
    plan += [("Jazz", "medium"), ("Classical", "medium"), ("", "large"), ("", "large")]
    return [  # every fifth track from the fourth on is validation, from the fifth on test
        FmaTrack(
            2 + 37 * number, genre, subset, {3: "validation", 4: "test"}.get(number % 5, "training")
        )
        for number, (genre, subset) in enumerate(plan)
    ]


def make_fma(
    root: Path,
    *,
    tracks_per_genre: int = 5,
    seconds: float = 11.0,
    sample_rate: int = 22050,
    audio: bool = True,
) -> FmaCorpus:
    """Write an FMA-shaped corpus under ``root`` (``fma_audio/``, ``fma_metadata/``).

    ``audio=False`` writes the metadata only (for code that never reads audio).
    Deterministic: the same arguments give the same files.
    """
    root = Path(root)
    corpus = FmaCorpus(root / "fma_audio", root / "fma_metadata", tuple(_plan(tracks_per_genre)))
    corpus.metadata.mkdir(parents=True, exist_ok=True)
    _write_tracks(corpus)
    _write_genres(corpus)
    _write_features(corpus)
    _write_echonest(corpus)
    if audio:
        genres = list(GENRE_IDS)
        for track in corpus.tracks:
            kind = genres.index(track.genre) if track.genre else len(genres)
            clip = synth.music_like(
                seconds,
                sample_rate,
                rng=np.random.default_rng(track.track_id),
                root_midi=40 + 3 * kind,
                tempo_bpm=70.0 + 12.0 * kind,
            )
            path = corpus.audio / track.relative_path
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, clip, sample_rate)
    return corpus


def _write_rows(path: Path, header: list[list[str]], rows: list[list]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(header)
        writer.writerows(rows)


def _write_tracks(corpus: FmaCorpus) -> None:
    columns = [(group, field) for group, names in TRACK_FIELDS.items() for field in names]
    rows = []
    for number, track in enumerate(corpus.tracks):
        genre_id = GENRE_IDS.get(track.genre)
        values = {
            ("album", "id"): 100 + number // 3,
            ("album", "title"): f"Album {number // 3}",
            ("album", "tracks"): 3,
            ("artist", "id"): 200 + number // 6,
            ("artist", "name"): f"Artist {number // 6}",
            ("set", "split"): track.split,
            ("set", "subset"): track.subset,
            ("track", "bit_rate"): 256000,
            ("track", "date_created"): "2008-11-26 01:48:12",
            ("track", "duration"): 30,
            ("track", "genre_top"): track.genre,
            ("track", "genres"): json.dumps([genre_id] if genre_id else [76]),
            ("track", "genres_all"): json.dumps([genre_id] if genre_id else [76, 1235]),
            ("track", "license"): "Attribution-NonCommercial-ShareAlike 3.0 International",
            ("track", "listens"): 1000 + 7 * number,
            ("track", "number"): 1 + number % 3,
            ("track", "title"): f"Track {track.track_id}",
        }
        rows.append([track.track_id] + [values.get(column, "") for column in columns])
    header = [
        [""] + [group for group, _ in columns],
        [""] + [field for _, field in columns],
        ["track_id"] + [""] * len(columns),
    ]
    _write_rows(corpus.tracks_csv, header, rows)


def _write_genres(corpus: FmaCorpus) -> None:
    counts = {genre: sum(t.genre == genre for t in corpus.tracks) for genre in GENRE_IDS}
    rows = [[gid, counts[genre], 0, genre, gid] for genre, gid in GENRE_IDS.items()]
    rows.append([76, 2, 1235, "Experimental Pop", 1235])  # a sub-genre (of Instrumental here)
    header = [["genre_id", "#tracks", "parent", "title", "top_level"]]
    _write_rows(corpus.metadata / "genres.csv", header, rows)


def _write_features(corpus: FmaCorpus) -> None:
    columns = [
        (feature, statistic, f"{k + 1:02d}")
        for feature, size in FEATURE_SIZES.items()
        for statistic in STATISTICS
        for k in range(size)
    ]
    rng = np.random.default_rng(0)
    genres = list(GENRE_IDS)
    centres = rng.normal(0.0, 1.0, (len(genres) + 1, len(columns)))
    rows = []
    for track in corpus.tracks:
        kind = genres.index(track.genre) if track.genre else len(genres)
        values = centres[kind] + rng.normal(0.0, 0.5, len(columns))
        rows.append([track.track_id] + [f"{v:.6e}" for v in values])
    header = [
        ["feature"] + [c[0] for c in columns],
        ["statistics"] + [c[1] for c in columns],
        ["number"] + [c[2] for c in columns],
        ["track_id"] + [""] * len(columns),
    ]
    _write_rows(corpus.metadata / "features.csv", header, rows)


def _write_echonest(corpus: FmaCorpus) -> None:
    columns = [(group, field) for group, names in ECHONEST_FIELDS.items() for field in names]
    rng = np.random.default_rng(1)
    rows = []
    for number, track in enumerate(corpus.tracks):
        if number % 2:  # FMA has Echo Nest data for a minority of its tracks
            continue
        values = []
        for group, field in columns:
            if group == "metadata":
                values.append(f"Artist {number // 6}" if field == "artist_name" else "")
            elif group == "ranks":
                values.append(int(rng.integers(1, 100_000)))
            elif field == "tempo":
                values.append(round(float(rng.uniform(60, 180)), 3))
            else:
                values.append(round(float(rng.uniform(0, 1)), 6))
        rows.append([track.track_id, *values])
    header = [
        [""] + ["echonest"] * len(columns),
        [""] + [group for group, _ in columns],
        [""] + [field for _, field in columns],
        ["track_id"] + [""] * len(columns),
    ]
    _write_rows(corpus.metadata / "echonest.csv", header, rows)
