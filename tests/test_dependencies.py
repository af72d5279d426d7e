"""pyproject.toml states what the code imports: every third-party module the app imports
is a declared dependency (or, imported lazily, an extra), and the lowest versions it
allows really work (``-m slow``: a fresh venv with exactly those, then the self-test)."""

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "musinterp_app"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def distribution(requirement: str) -> str:
    """``"PySide6-Essentials>=6.8,<6.12"`` → ``"pyside6-essentials"`` (normalised name)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports(path: Path) -> tuple[set[str], set[str]]:
    """Top-level module names ``path`` imports at module level, and inside functions."""
    tree = ast.parse(path.read_text())
    at_top, lazily = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        top = at_top if node.col_offset == 0 else lazily
        top.update(name.split(".")[0] for name in names)
    local = set(sys.stdlib_module_names) | {"musinterp_app", "__future__"}
    return at_top - local, lazily - local


def test_every_module_the_app_imports_is_declared():
    declared = {distribution(r) for r in PROJECT["dependencies"]}
    extras = {distribution(r) for reqs in PROJECT["optional-dependencies"].values() for r in reqs}
    installed = packages_distributions()  # module name → the distributions that provide it
    missing = []
    for path in PACKAGE.rglob("*.py"):
        if "training" in path.relative_to(PACKAGE).parts:  # the `train` extra's own code
            continue
        at_top, lazily = third_party_imports(path)
        for module, allowed in [(m, declared) for m in at_top] + [
            (m, declared | extras) for m in lazily
        ]:
            providers = {distribution(name) for name in installed.get(module, [module])}
            if not providers & allowed:
                missing.append(f"{path.relative_to(ROOT)} imports {module} ({providers})")
    assert not missing, missing


def test_numpy_2_is_required_for_the_in_place_ffts():
    assert "numpy>=2.0" in PROJECT["dependencies"]
    assert "out=" in (PACKAGE / "audio" / "griffinlim.py").read_text()


def lowest_versions() -> list[str]:
    """Every runtime dependency pinned to the lowest version ``pyproject.toml`` allows."""
    pins = []
    for requirement in PROJECT["dependencies"]:
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        lowest = re.search(r">=\s*([0-9][^,;\s]*)", requirement)
        assert lowest, f"{requirement} states no lowest version"
        pins.append(f"{name}=={lowest.group(1)}")
    return pins


def release(version: str) -> tuple[int, ...]:
    """``"6.8.0"`` → ``(6, 8)``: a release number without trailing zeros, for comparing."""
    parts = [int(part) for part in re.findall(r"\d+", version)]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


@pytest.mark.slow
def test_the_lowest_allowed_versions_install_and_pass_the_self_test(tmp_path):
    """A fresh venv with exactly the lowest versions (network: PyPI), the app installed
    from a copy of the sources, then ``musinterp --self-test`` and ``musinterp bench``
    (which has no librosa there and must say so)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "musinterp_app", "resources"):
        if (ROOT / name).is_dir():
            caches = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, source / name, ignore=caches)
        else:
            shutil.copy2(ROOT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)

    def run(*args, timeout=1800) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*args], capture_output=True, text=True, timeout=timeout, env=env, check=False
        )

    pins = lowest_versions()
    installed = run(python, "-m", "pip", "install", "-q", *pins)
    assert installed.returncode == 0, installed.stderr[-3000:]
    app = run(python, "-m", "pip", "install", "-q", "--no-deps", "-e", str(source))
    assert app.returncode == 0, app.stderr[-3000:]
    consistent = run(python, "-m", "pip", "check")
    assert consistent.returncode == 0, consistent.stdout

    frozen = run(python, "-m", "pip", "freeze").stdout
    pinned_lines = [line for line in frozen.splitlines() if re.match(r"[A-Za-z0-9].*==", line)]
    installed_versions = {distribution(line): line.split("==")[1] for line in pinned_lines}
    for pin in pins:  # exactly the lowest: "6.8" is installed as "6.8.0"
        version = pin.split("==")[1]
        assert release(installed_versions[distribution(pin)]) == release(version), (pin, frozen)
    print("lowest versions:", " ".join(pins))

    self_test = run(str(venv / "bin" / "musinterp"), "--self-test", timeout=600)
    assert self_test.returncode == 0, self_test.stderr[-3000:]
    assert self_test.stdout.startswith("self-test passed"), self_test.stdout

    bench = run(str(venv / "bin" / "musinterp"), "bench", "--quick", "--json", timeout=1200)
    assert bench.returncode == 0, bench.stderr[-3000:]
    assert "gl.* keys skipped: they compare with librosa, which is not installed" in bench.stderr
    assert "pip install 'musinterp[bench]'" in bench.stderr
