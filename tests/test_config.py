"""The site file: defaults, the documented example, and one clear line per problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent import config

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "site.example.toml"


def test_no_file_gives_safe_defaults(monkeypatch):
    monkeypatch.delenv(config.ENV_CONFIG, raising=False)
    site = config.load(None)
    assert site.agent.listen == "127.0.0.1:8470"
    assert site.central.kind == "none"
    assert site.schedule.source == "demo"
    assert not site.uses_tls  # loopback: plain HTTP is fine


def test_example_documents_every_key_and_is_valid():
    site = config.load(EXAMPLE)
    text = EXAMPLE.read_text()
    for section_name, section in site.model_dump().items():
        if not isinstance(section, dict):
            continue
        for key in section:
            if key == "devices":
                continue
            if isinstance(section[key], dict) and f"[{section_name}.{key}]" in text:  # e.g. [central.capabilities]
                for inner in section[key]:
                    assert f"{inner} =" in text or f"# {inner} =" in text, f"[{section_name}.{key}] {inner} is not documented"
                continue
            assert f"{key} =" in text or f"# {key} =" in text, f"[{section_name}] {key} is not documented"
    assert {device.kind for device in site.kiosk.devices} >= {"id_scanner", "receipt_printer"}


def test_the_card_scanner_keys_are_documented_and_its_example_loads(tmp_path):
    text = EXAMPLE.read_text()
    for key in ("sane_device", "folder", "capture_timeout_s"):
        assert f"# {key} =" in text, f"[[kiosk.devices]] {key} is not documented"
    # the commented card scanner, uncommented, is a valid kiosk device
    block = text[text.index("# [[kiosk.devices]]\n# kind = \"card_scanner\""):]
    lines = [line.removeprefix("# ") for line in block.splitlines()[:7] if line.startswith("# ")]
    (tmp_path / "site.toml").write_text("\n".join(line for line in lines if not line.startswith("folder")) + "\n")
    [scanner] = config.load(tmp_path / "site.toml").kiosk.devices
    assert (scanner.kind, scanner.transport, scanner.capture_timeout_s) == ("card_scanner", "sane", 30)


def test_relative_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "site.toml").write_text('[agent]\ndata_dir = "state"\n')
    site = config.load(tmp_path / "site.toml")
    assert site.agent.data_dir == tmp_path / "state"


@pytest.mark.parametrize(
    "toml, expected",
    [
        ('[agent]\nlisten = "nowhere"\n', "agent.listen: must be HOST:PORT"),
        ('[site]\ntimezone = "Mars/Olympus"\n', "site.timezone: unknown time zone"),
        ('[central]\nkind = "soap"\n', "central.kind: Input should be 'none', 'fhir' or 'hl7v2'"),
        ('[central]\nkind = "fhir"\n', "central.base_url: required"),
        ('[sight]\nid = "x"\n', "sight: unknown key"),
        ("[site\n", "not valid TOML"),
        ('[kiosk]\n[[kiosk.devices]]\nkind = "toaster"\n', "kiosk.devices.0.kind"),
        ('[kiosk]\n[[kiosk.devices]]\nkind = "card_scanner"\ntransport = "serial"\n', 'transport is "sane"'),
        ('[kiosk]\n[[kiosk.devices]]\nkind = "card_scanner"\ntransport = "folder"\n', "needs folder"),
        ('[kiosk]\n[[kiosk.devices]]\nkind = "receipt_printer"\ntransport = "sane"\n', "only for a card_scanner"),
    ],
)
def test_bad_file_names_the_key(tmp_path, toml, expected):
    path = tmp_path / "site.toml"
    path.write_text(toml)
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    assert expected in str(caught.value)


def test_check_config_command_prints_one_line_per_problem(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[agent]\nlisten = "x"\n[schedule]\nrefresh_s = 1\n')
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "check-config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert any("agent.listen" in line for line in lines)
    assert any("schedule.refresh_s" in line for line in lines)
    ok = subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "check-config", str(EXAMPLE)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
