"""The benchmark's children run from an install and from a frozen bundle alike."""

import subprocess
import sys

from musinterp_app.base import child


def test_an_install_runs_children_with_python(monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert child.python_command("-c", "pass") == [sys.executable, "-c", "pass"]


def test_a_bundle_runs_children_through_its_own_executable(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert child.python_command("-m", "x") == [sys.executable, child.CHILD_FLAG, "-m", "x"]
    assert child.python_command("-m", "musinterp_app", "--version") == [sys.executable, "--version"]


def test_the_entry_point_runs_code_and_modules_given_with_the_child_flag():
    """What the bundle's executable does when the benchmark starts it (the entry point is
    the same function in both)."""
    entry = [sys.executable, "-m", "musinterp_app", child.CHILD_FLAG]
    code = subprocess.run(
        [*entry, "-c", "import sys; print(sys.argv[1:]); sys.exit(3)", "one", "two"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert code.returncode == 3 and code.stdout.strip() == "['one', 'two']"
    module = subprocess.run(
        [*entry, "-m", "musinterp_app", "--version"], capture_output=True, text=True, check=False
    )
    assert module.returncode == 0 and module.stdout.startswith("musinterp ")
    wrong = subprocess.run([*entry, "-x"], capture_output=True, text=True, check=False)
    assert wrong.returncode == 2 and "takes -c CODE or -m MODULE" in wrong.stderr
