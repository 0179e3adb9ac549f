"""The tests exercise this checkout's code: in the test process, in the processes tests start, and in a copy.

An editable install points at one checkout; a second checkout (a worktree, a copy) run with that
interpreter must still import its own packages, or its tests silently pass against someone else's code.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    "edge_agent": "edge_agent/__init__.py",
    "kiosk": "kiosk/__init__.py",
    "lobby_core": "lobby_core/__init__.py",
    "tools.fhir_sandbox": "tools/fhir_sandbox/__init__.py",
    "tests.kiosk": "tests/kiosk/__init__.py",
}
EXPECTED = {name: str(REPO / path) for name, path in PACKAGES.items()}
PROBE = "import importlib, json, sys; print(json.dumps({n: importlib.import_module(n).__file__ for n in sys.argv[1:]}))"


def test_the_test_process_imports_this_checkout() -> None:
    assert {name: importlib.import_module(name).__file__ for name in PACKAGES} == EXPECTED
    assert __name__ == "tests.test_checkout"
    assert sys.modules["tests"].__file__ == str(REPO / "tests" / "__init__.py")


@pytest.mark.parametrize("where", ["repository", "elsewhere"])
def test_processes_the_tests_start_import_this_checkout(where: str, tmp_path: Path) -> None:
    """Started as tests/agent/launcher.py starts the agent: this interpreter, cwd the repository (or not)."""
    cwd = REPO if where == "repository" else tmp_path
    done = subprocess.run([sys.executable, "-c", PROBE, *PACKAGES], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert json.loads(done.stdout) == EXPECTED


def test_a_copy_of_the_repository_tests_its_own_code(tmp_path: Path) -> None:
    """The checks above, run in a copy of the working tree (no .venv) with this interpreter, whose
    editable install points here: they pass only if the copy imports the copy."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    copy = tmp_path / "copy"
    for relative in filter(None, listed.split("\0")):
        source = REPO / relative
        if source.is_file():
            (copy / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / relative)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    here = "tests/test_checkout.py::"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{here}test_the_test_process_imports_this_checkout",
         f"{here}test_processes_the_tests_start_import_this_checkout"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout
