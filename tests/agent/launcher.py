"""Run a real edge agent for tests: site TOML, enrolled kiosk, `edge-agent serve` on 127.0.0.1.

Other test areas use it too; keep the signature stable:

    from tests.agent.launcher import start_agent

    agent = start_agent(tmp_path, central={"kind": "fhir", "base_url": url}, schedule={"source": "central", "scope": "whole-server"})
    try:
        httpx.post(f"{agent.base_url}/api/v1/lookup", headers=agent.headers(), json={...})
    finally:
        agent.stop()            # SIGTERM, waits for a clean exit (kills after a timeout)

`config_overrides` are site-file sections as dicts ({"agent": {"tls": "on"}}); defaults: a free port
on 127.0.0.1, data under tmp_path, no zeroconf advertisement (pass agent={"advertise": True}, with
site={"id": unique_site_id()} so that it collides with no other agent on this machine: kiosks pick
their agent by site id, and two agents of one site cannot both announce it).
The agent's stderr (JSON log lines) goes to `agent.log_path`; `agent.log_text()` reads it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.processes import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
EDGE_AGENT = [sys.executable, "-m", "edge_agent.cli"]
START_TIMEOUT_S = 60.0


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def site_toml(sections: dict[str, dict]) -> str:
    """A site file from {"section": {"key": value}} (top-level scalars under the "" section)."""
    lines = [f"{key} = {_toml_value(value)}" for key, value in sections.get("", {}).items()]
    for name, values in sections.items():
        if name == "":
            continue
        lines.append(f"\n[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def run_cli(config_path: Path, *args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
    """`edge-agent <args> --config <config_path>` as a subprocess; returns the completed process."""
    return subprocess.run(
        [*EDGE_AGENT, *args, "--config", str(config_path)],
        capture_output=True, text=True, timeout=timeout, check=check, cwd=REPO,
    )  # fmt: skip


def parse_enrollment(output: str) -> dict[str, str]:
    """The key = "value" lines `edge-agent enroll-kiosk` prints."""
    values = {}
    for line in output.splitlines():
        key, sep, value = line.partition(" = ")
        if sep and not line.startswith("#"):
            values[key.strip()] = value.strip().strip('"')
    return values


@dataclass
class RunningAgent:
    base_url: str
    token: str
    kiosk_id: str
    fingerprint: str
    config_path: Path
    data_dir: Path
    log_path: Path
    process: subprocess.Popen
    port: int
    extra_tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", **extra}

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, verify=False, **kwargs)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_cli(self.config_path, *args, check=check)

    def enroll(self, kiosk_id: str) -> str:
        """Enroll another kiosk; returns its token."""
        token = parse_enrollment(self.cli("enroll-kiosk", kiosk_id).stdout)["token"]
        self.extra_tokens[kiosk_id] = token
        return token

    @property
    def store_path(self) -> Path:
        return self.data_dir / "agent.db"

    @property
    def key_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-keys" / "site.key"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the agent and wait for it; SIGKILL if it does not exit in time. Returns the exit code."""
        return stop_process(self.process, sig, timeout)


def today_demo_appointment_id(index: int = 1, tz: str = "UTC") -> str:
    """The demo schedule's id for its index-th appointment today (see edge_agent.schedule)."""
    day = dt.datetime.now(dt.UTC).astimezone(__import__("zoneinfo").ZoneInfo(tz)).date()
    return f"demo-{day:%Y%m%d}-{index:03d}"


def unique_site_id(prefix: str = "t") -> str:
    """A site id no other agent on this machine uses (a running demo is `demo-clinic`)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def start_agent(tmp_path: Path, *, kiosk_id: str = "kiosk-1", port: int | None = None,
                env: dict[str, str] | None = None, **config_overrides: dict) -> RunningAgent:  # fmt: skip
    """Write a site file under tmp_path, enroll `kiosk_id`, start `edge-agent serve`, wait for /healthz."""
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    data_dir = tmp_path / "agent-data"
    sections: dict[str, dict] = {
        "site": {"id": "test-site", "name": "Test Clinic", "timezone": "UTC"},
        "agent": {"listen": f"127.0.0.1:{port}", "data_dir": str(data_dir), "advertise": False},
    }
    for section, values in config_overrides.items():
        sections[section] = {**sections.get(section, {}), **values}
    config_path = tmp_path / "site.toml"
    config_path.write_text(site_toml(sections), encoding="utf-8")
    enrollment = parse_enrollment(run_cli(config_path, "enroll-kiosk", kiosk_id).stdout)
    host_port = sections["agent"]["listen"]
    scheme = "https" if enrollment.get("agent_fingerprint") else "http"
    log_path = tmp_path / "agent.log"
    process = subprocess.Popen(
        [*EDGE_AGENT, "serve", "--config", str(config_path)],
        stdout=subprocess.DEVNULL, stderr=log_path.open("wb"), cwd=REPO,
        env={**os.environ, **(env or {})}, start_new_session=True,
    )  # fmt: skip
    agent = RunningAgent(
        base_url=f"{scheme}://{host_port}", token=enrollment["token"], kiosk_id=kiosk_id,
        fingerprint=enrollment.get("agent_fingerprint", ""), config_path=config_path, data_dir=data_dir,
        log_path=log_path, process=process, port=int(host_port.rpartition(":")[2]),
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(verify=False, timeout=5) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"edge-agent exited with {process.returncode}:\n{agent.log_text()[-3000:]}")
            try:
                if client.get(f"{agent.base_url}/healthz").status_code == 200:
                    return agent
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                agent.stop(signal.SIGKILL)
                raise TimeoutError(f"edge-agent not healthy after {START_TIMEOUT_S} s:\n{agent.log_text()[-3000:]}")
            time.sleep(0.1)
