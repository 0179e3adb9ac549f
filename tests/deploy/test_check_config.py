"""`edge-agent check-config FILE`: one line per problem, each naming the file and the key; exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def check_config(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "check-config", str(path)], capture_output=True, text=True, timeout=60
    )


def test_every_problem_is_one_line_naming_its_key(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[site]\ntimezone = "Mars/Base"\n[agent]\nlisten = "nowhere"\nretention_days = 0\n[kiosk]\ncolour = 1\n')
    done = check_config(path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert [line.split(": ")[1] for line in lines] == ["site.timezone", "agent.listen", "agent.retention_days", "kiosk.colour"]
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert "unknown time zone 'Mars/Base'" in lines[0] and "unknown key" in lines[3]


def test_broken_toml_is_one_line_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text("[site\n")
    done = check_config(path)
    assert done.returncode == 1
    assert done.stdout.count(str(path)) == 1 and "line 1" in done.stdout
    assert len(done.stdout.splitlines()) == 1


def test_a_missing_file_and_a_good_file(tmp_path: Path) -> None:
    missing = check_config(tmp_path / "nope.toml")
    assert missing.returncode == 1 and missing.stdout.strip() == f"{tmp_path / 'nope.toml'}: no such file"
    good = tmp_path / "good.toml"
    good.write_text('[site]\nid = "north"\ntimezone = "America/Chicago"\n')
    done = check_config(good)
    assert done.returncode == 0 and done.stdout.strip() == f"{good}: ok"
