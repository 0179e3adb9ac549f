"""The shipped monitoring files (deploy/monitoring/), rendered for tests, and a real Prometheus on loopback.

    config = render("prometheus.yml.j2", monitoring_sites=[...], ...)     # the template the playbook uses
    prometheus = start_prometheus(tmp_path, config_path)                    # own storage, own port
    prometheus.alerts()                                                     # /api/v1/alerts
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import jinja2
import yaml

from tests.processes import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
RULES = MONITORING / "rules" / "lobby.rules.yml"
RULE_TESTS = sorted((MONITORING / "rule-tests").glob("*.test.yml"))
START_TIMEOUT_S = 30.0


def render(template: str, **variables: object) -> str:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string((MONITORING / template).read_text()).render(**variables)


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def rules_with_short_for(destination: Path, for_s: int) -> Path:
    """A rules folder holding the shipped rules with every `for:` set to `for_s` seconds (for a test that
    cannot wait minutes)."""
    text, replaced = re.subn(r"(?m)^(\s+for: )\S+$", rf"\g<1>{for_s}s", RULES.read_text())
    assert replaced >= 5, "the rules' for: lines changed shape"
    destination.mkdir(parents=True, exist_ok=True)
    (destination / RULES.name).write_text(text)
    return destination


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)


@dataclass
class SiteFiles:
    """What the playbook writes per site beside prometheus.yml: targets, pinned certificate, token."""

    site_id: str
    name: str
    address: str
    certificate: bytes
    token: str

    def write(self, lobby_dir: Path) -> None:
        (lobby_dir / "targets").mkdir(parents=True, exist_ok=True)
        (lobby_dir / f"{self.site_id}.crt").write_bytes(self.certificate)
        (lobby_dir / f"{self.site_id}.token").write_text(self.token)
        targets = [{"targets": [self.address], "labels": {"site": self.site_id}}]
        (lobby_dir / "targets" / f"{self.site_id}.json").write_text(json.dumps(targets))


@dataclass
class RunningPrometheus:
    url: str
    process: subprocess.Popen
    log_path: Path

    def api(self, path: str, **params: str) -> dict:
        body = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10).json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def alerts(self) -> list[dict]:
        return self.api("alerts")["alerts"]

    def stop(self) -> None:
        stop_process(self.process, timeout=15)


def start_prometheus(folder: Path, config: Path, port: int | None = None) -> RunningPrometheus:
    port = port or free_port()
    log_path = folder / "prometheus.log"
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=subprocess.DEVNULL, stderr=log_path.open("wb"), start_new_session=True,
    )  # fmt: skip
    prometheus = RunningPrometheus(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{prometheus.url}/-/ready", timeout=2).status_code == 200:
                return prometheus
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            prometheus.stop()
            raise TimeoutError(f"prometheus not ready:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
