"""A run folder both training stages write: ``config.json``, ``checkpoint.pt``,
``best.pt`` and ``log.csv``, each replaced whole (a killed run leaves the previous file),
and what a ``--resume`` reads back."""

import csv
import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

# Options that may differ between the first run and a --resume (they do not change the result).
RESUMABLE_OVERRIDES = ("threads",)


def read_saved(run: Path, resume: bool) -> tuple[dict | None, dict | None]:
    """The run's ``config.json`` and ``checkpoint.pt`` when resuming and both are there,
    else ``(None, None)``."""
    config_path, checkpoint_path = run / "config.json", run / "checkpoint.pt"
    if not (resume and config_path.exists() and checkpoint_path.exists()):
        return None, None
    saved = json.loads(config_path.read_text())
    return saved, torch.load(checkpoint_path, weights_only=True, map_location="cpu")


def write_config(run: Path, record: dict) -> None:
    """``config.json``: everything that defines the run (``export`` reads it back)."""
    (run / "config.json").write_text(json.dumps(record, indent=2))


def append_log(path: Path, columns: list[str], row: dict) -> None:
    """One validation's line of ``log.csv``."""
    with open(path, "a", newline="") as log_file:
        csv.DictWriter(log_file, fieldnames=columns).writerow(row)


def save_atomically(state: dict, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename: a killed run leaves the old file."""
    temporary = path.with_suffix(".part")
    torch.save(state, temporary)
    os.replace(temporary, path)


def resume_options(saved: dict, requested: Any) -> Any:
    """The saved run's options (a dataclass of ``requested``'s type); a request that would
    change the result is refused; ``threads`` may change."""
    kind = type(requested)
    options, defaults = kind(**saved), kind()
    for option in fields(kind):
        wanted = getattr(requested, option.name)
        if option.name in RESUMABLE_OVERRIDES:
            setattr(options, option.name, wanted)
        elif wanted != getattr(defaults, option.name) and wanted != getattr(options, option.name):
            raise ValueError(
                f"--{option.name.replace('_', '-')} {wanted} differs from the run being resumed "
                f"({getattr(options, option.name)}); resume with the same options, or use a "
                "new --out"
            )
    return options


def start_log(path: Path, resumed_step: int | None, columns: list[str]) -> None:
    """A new ``log.csv`` with ``columns``, or the resumed run's without the lines logged after
    its checkpoint (a run killed between the two)."""
    kept = []
    if resumed_step is not None and path.exists():
        with open(path, newline="") as log_file:
            kept = [row for row in csv.DictReader(log_file) if int(row["step"]) <= resumed_step]
    with open(path, "w", newline="") as log_file:
        writer = csv.DictWriter(log_file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(kept)
