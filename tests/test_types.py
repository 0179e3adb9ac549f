"""mypy with the [tool.mypy] settings of pyproject.toml: lobby_core strict, edge_agent checked (cache: .mypy_cache)."""

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
    """A copy of lobby_core with an unannotated function, and an edge_agent module whose unannotated
    function has a wrong type inside: both fail, with the errors strict and check_untyped_defs find."""
    shutil.copytree(REPO / "lobby_core", tmp_path / "lobby_core")
    (tmp_path / "lobby_core" / "untyped.py").write_text("def double(value):\n    return value * 2\n")
    (tmp_path / "edge_agent").mkdir()
    (tmp_path / "edge_agent" / "__init__.py").write_text("")
    (tmp_path / "edge_agent" / "loose.py").write_text(
        "def count():\n    total: int = 'none'\n    return total\n\n\ndef fine(value):\n    return value\n"
    )
    result = mypy("lobby_core", "edge_agent", cwd=tmp_path)
    errors = sorted(line for line in result.stdout.splitlines() if ": error:" in line)
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(errors) == 2, result.stdout
    assert errors[0].startswith("edge_agent/loose.py:2: error: Incompatible types in assignment")
    assert errors[1].startswith("lobby_core/untyped.py:1: error: Function is missing a type annotation")
