"""Where the shipped files are: ``resources/`` beside the package, or inside a bundle."""

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources`` folder (PyInstaller unpacks it under ``sys._MEIPASS``)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def default_model_dir() -> Path:
    return resources_dir() / "models" / "default"


def examples_dir() -> Path:
    return resources_dir() / "examples"
