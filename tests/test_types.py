"""mypy with the [tool.mypy] settings of pyproject.toml: lobby_core and every edge_agent module strict
(cache: .mypy_cache)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"


def mypy(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_lobby_core_and_edge_agent_type_check():
    result = mypy()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_settings_catch_what_each_package_must_not_have(tmp_path):
    """An unannotated function fails strict in a copy of lobby_core, in a nested edge_agent module and in
    edge_agent.store (once on a not-yet-strict list: no module of the agent is exempt any more)."""
    untyped = "def double(value):\n    return value * 2\n"
    shutil.copytree(REPO / "lobby_core", tmp_path / "lobby_core")
    (tmp_path / "lobby_core" / "untyped.py").write_text(untyped)
    (tmp_path / "edge_agent" / "desk").mkdir(parents=True)
    for package in ("edge_agent", "edge_agent/desk"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "edge_agent" / "desk" / "untyped.py").write_text(untyped)
    (tmp_path / "edge_agent" / "store.py").write_text(untyped)
    result = mypy("lobby_core", "edge_agent", cwd=tmp_path)
    errors = sorted(line for line in result.stdout.splitlines() if ": error:" in line)
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(errors) == 3, result.stdout
    assert errors[0].startswith("edge_agent/desk/untyped.py:1: error: Function is missing a type annotation")
    assert errors[1].startswith("edge_agent/store.py:1: error: Function is missing a type annotation")
    assert errors[2].startswith("lobby_core/untyped.py:1: error: Function is missing a type annotation")
