"""FMA's precomputed feature tables: ``features.csv`` (librosa summaries: chroma, MFCC,
spectral contrast, tonnetz, …) and ``echonest.csv`` (Echo Nest descriptors), as arrays."""

import contextlib
import csv
from pathlib import Path

import numpy as np

from musinterp_app.base.files import open_text, table_errors
from musinterp_app.training.dataset.fma import is_track_id

ECHONEST_GROUPS = ("audio_features",)  # the high-level descriptors (0…1, tempo)


def read_feature_table(
    path: Path, *, groups: tuple[str, ...] | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """An FMA feature table (``features.csv`` or ``echonest.csv``): header rows, then a
    ``track_id`` row, then one row per track.

    Returns track ids ``[N]``, column names (header cells joined by ``/``) and
    values ``[N, D]``. Only columns whose first header cell that is not
    ``echonest`` is in ``groups`` (all when None) and that are numbers for
    most tracks are kept; a missing number takes its column's median.
    """
    what = "FMA's features.csv or echonest.csv"
    with open_text(path) as handle, table_errors(path, what):
        rows = csv.reader(handle)
        header = []
        for row in rows:
            if row and row[0] == "track_id":
                break
            header.append(row)
        else:
            raise ValueError(f"{path} has no track_id row: it is not one of FMA's feature tables")
        body = [row for row in rows if row and is_track_id(row[0])]
    names = ["/".join(cell for cell in cells if cell) for cells in zip(*header, strict=False)][1:]
    group_of = [
        next((cell for cell in cells if cell and cell != "echonest"), "")
        for cells in zip(*(h[1:] for h in header), strict=False)
    ]
    values = np.full((len(body), len(names)), np.nan)
    for i, row in enumerate(body):
        for j, cell in enumerate(row[1 : len(names) + 1]):
            with contextlib.suppress(ValueError):  # text or blank: a missing number
                values[i, j] = float(cell)
    keep = [
        j
        for j in range(len(names))
        if (groups is None or group_of[j] in groups) and np.mean(np.isnan(values[:, j])) < 0.5
    ]
    if not body or not keep:
        raise ValueError(f"{path} has no numeric features for any track")
    values = values[:, keep]
    medians = np.nanmedian(values, axis=0)
    values = np.where(np.isnan(values), medians, values)
    return np.array([int(row[0]) for row in body]), [names[j] for j in keep], values
