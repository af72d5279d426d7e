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
BASE = ("files.py", "limits.py", "resources.py", "allocator.py", "json_input.py")
ENGINE = ("sidecar.py", "rebuild.py", "listening_test.py")
MODULES = {
    **{name: {"musinterp_app.audio", "musinterp_app.model", "musinterp_app.engine",
              "PySide6", "torch", "soundfile", "onnxruntime", *UPPER} for name in BASE},
    **{name: {"PySide6", "pyqtgraph", "torch", *UPPER} for name in ENGINE},
}  # fmt: skip


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
