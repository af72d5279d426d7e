"""The layering rules of docs/ARCHITECTURE.md, checked: the core imports neither Qt nor torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "musinterp_app"
UPPER = {"musinterp_app.gui", "musinterp_app.training", "musinterp_app.cli"}
FORBIDDEN = {
    "audio": {
        "PySide6",
        "pyqtgraph",
        "onnxruntime",
        "torch",
        "musinterp_app.model",
        "musinterp_app.engine",
        *UPPER,
    },
    "model": {"PySide6", "pyqtgraph", "torch", "musinterp_app.engine", *UPPER},
}
# Modules at the top of the package, by layer (docs/ARCHITECTURE.md's table).
ENGINE = ("sidecar.py", "rebuild.py", "listening_test.py")
MODULES = {name: {"PySide6", "pyqtgraph", "torch", *UPPER} for name in ENGINE}
# The benchmark: its measures and table sit with the CLI; its window and live parts above the GUI.
BENCH_CLI = ("measure.py", "table.py")
BENCH_WINDOW = ("window.py", "live.py")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


FORBIDDEN["engine"] = {"PySide6", "pyqtgraph", "torch", *UPPER}
FORBIDDEN["cli"] = {"PySide6", "pyqtgraph", "torch", "musinterp_app.gui", "musinterp_app.training"}
FORBIDDEN["base"] = {
    *(f"musinterp_app.{layer}" for layer in ("audio", "model", "engine", "bench", "rebuild")),
    *("musinterp_app.sidecar", "musinterp_app.listening_test"),
    *("PySide6", "pyqtgraph", "torch", "soundfile", "onnxruntime", *UPPER),
}
FORBIDDEN["gui"] = {"torch", "musinterp_app.training", "musinterp_app.cli", "musinterp_app.bench"}
BENCH_FORBIDDEN = {
    **{name: {"PySide6", "pyqtgraph", "torch", "musinterp_app.gui", "musinterp_app.training"}
       for name in BENCH_CLI},
    **{name: {"torch", "musinterp_app.training"} for name in BENCH_WINDOW},
}  # fmt: skip


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_what_it_may(layer):
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in imported_modules(path):
            assert not any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]), (
                f"{path.relative_to(PACKAGE)} imports {name}"
            )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_top_level_module_imports_only_what_its_layer_may(module):
    for name in imported_modules(PACKAGE / module):
        assert not any(name == bad or name.startswith(bad + ".") for bad in MODULES[module]), (
            f"{module} imports {name}"
        )


def test_the_bench_files_import_only_what_their_layer_may():
    assert sorted(p.name for p in (PACKAGE / "bench").glob("[!_]*.py")) == sorted(BENCH_FORBIDDEN)
    for name, forbidden in BENCH_FORBIDDEN.items():
        for imported in imported_modules(PACKAGE / "bench" / name):
            assert not any(
                imported == bad or imported.startswith(bad + ".") for bad in forbidden
            ), f"bench/{name} imports {imported}"


def test_nothing_outside_training_imports_it():
    for path in PACKAGE.rglob("*.py"):
        if "training" in path.relative_to(PACKAGE).parts:
            continue
        for name in imported_modules(path):
            assert not name.startswith("musinterp_app.training"), (
                f"{path.relative_to(PACKAGE)} imports {name}"
            )


def test_cli_starts_without_qt_or_torch():
    code = (
        "import sys, musinterp_app.cli, musinterp_app.audio.io, musinterp_app.audio.griffinlim\n"
        "import musinterp_app.listening_test\n"
        "print(sorted(m for m in ('PySide6', 'torch', 'pyqtgraph') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
