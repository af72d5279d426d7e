"""The layering rules of docs/ARCHITECTURE.md, checked: the core imports neither Qt nor torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "musinterp_app"
FORBIDDEN = {
    "audio": {
        "PySide6",
        "pyqtgraph",
        "onnxruntime",
        "torch",
        "musinterp_app.model",
        "musinterp_app.engine",
        "musinterp_app.gui",
        "musinterp_app.training",
    },
    "model": {"PySide6", "pyqtgraph", "torch", "musinterp_app.gui", "musinterp_app.training"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_what_it_may(layer):
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in imported_modules(path):
            assert not any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]), (
                f"{path.relative_to(PACKAGE)} imports {name}"
            )


def test_cli_starts_without_qt_or_torch():
    code = (
        "import sys, musinterp_app.cli, musinterp_app.audio.io, musinterp_app.audio.griffinlim\n"
        "import musinterp_app.survey\n"
        "print(sorted(m for m in ('PySide6', 'torch', 'pyqtgraph') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
