"""The layering, checked by import-linter (`lint-imports`, contracts in pyproject.toml): the kiosk never
imports the agent, the agent never imports the kiosk, and lobby_core imports neither."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = ["kiosk does not import edge_agent", "edge_agent does not import kiosk", "lobby_core imports neither app"]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_repository_keeps_every_layer_contract():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in CONTRACTS:
        assert f"{contract} KEPT" in result.stdout


def copy_packages(target: Path) -> None:
    for package in ("lobby_core", "edge_agent", "kiosk"):
        shutil.copytree(REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.kv", "static"))


def test_a_kiosk_module_importing_the_agent_breaks_its_contract(tmp_path):
    copy_packages(tmp_path)
    flow = tmp_path / "kiosk" / "flow.py"
    flow.write_text(flow.read_text() + "\nfrom edge_agent import matching  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "kiosk does not import edge_agent BROKEN" in result.stdout
    assert "kiosk.flow -> edge_agent.matching" in result.stdout
    assert "edge_agent does not import kiosk KEPT" in result.stdout


def test_the_core_importing_an_app_breaks_its_contract(tmp_path):
    copy_packages(tmp_path)
    comparison = tmp_path / "lobby_core" / "comparison.py"
    comparison.write_text(comparison.read_text() + "\nimport kiosk.flow  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1 and "lobby_core imports neither app BROKEN" in result.stdout, result.stdout
