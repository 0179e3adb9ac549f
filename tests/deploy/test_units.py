"""`systemd-analyze verify` on every unit the playbook installs, as rendered for a real host.

The units name the release's own executables (inside the temporary root the playbook installed into)
and /usr/bin/cage (installed by scripts/setup.sh), so verify checks real paths, not stand-ins.
"""

from __future__ import annotations

import subprocess

import pytest

from tools.deploy_rehearsal import Deployment, example_hosts

UNITS = [(host, "edge-agent.service") for host in example_hosts() if "-agent" in host] + [
    (host, "kiosk-session.service") for host in example_hosts() if "-kiosk-" in host
]


@pytest.mark.parametrize(("host", "unit"), UNITS)
def test_unit_verifies_cleanly(deployment: Deployment, host: str, unit: str) -> None:
    path = deployment.root(host) / "etc/systemd/system" / unit
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert unit not in done.stderr, done.stderr  # no warning about this unit at all


def test_agent_unit_is_hardened_and_fed_by_the_watchdog(deployment: Deployment) -> None:
    host = next(h for h in example_hosts() if "-agent" in h)
    root = deployment.root(host)
    text = (root / "etc/systemd/system/edge-agent.service").read_text()
    for line in ("Type=notify", "WatchdogSec=30s", "Restart=on-failure", "User=edge-agent", "NoNewPrivileges=yes",
                 "LimitNOFILE=8192", "MemoryHigh=384M", "MemoryMax=512M",
                 "ProtectSystem=strict", "PrivateTmp=yes", f"ReadWritePaths={root}/var/lib/edge-agent",
                 f"ExecStart={root}/opt/lobby-checkin/current/bin/edge-agent serve --config {root}/etc/edge-agent/site.toml"):
        assert line in text.splitlines(), line


def test_agent_unit_leaves_descriptors_for_every_connection_the_agent_admits(deployment: Deployment) -> None:
    """The agent's own connection cap ([limits] connections, what the deployed site file says or the
    default) must sit well below the unit's descriptor limit, or the process runs out before it refuses."""
    from edge_agent.config import load

    host = next(h for h in example_hosts() if "-agent" in h)
    root = deployment.root(host)
    lines = (root / "etc/systemd/system/edge-agent.service").read_text().splitlines()
    (nofile,) = [int(line.split("=", 1)[1]) for line in lines if line.startswith("LimitNOFILE=")]
    site = load(root / "etc/edge-agent/site.toml")
    assert site.limits.connections + 256 <= nofile, (site.limits.connections, nofile)


def test_agent_unit_exposure_score(deployment: Deployment) -> None:
    """systemd's own hardening assessment of the rendered agent unit ("OK" or better is below 5.0)."""
    host = next(h for h in example_hosts() if "-agent" in h)
    path = deployment.root(host) / "etc/systemd/system/edge-agent.service"
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=40", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    score = float(done.stdout.rsplit("Overall exposure level for edge-agent.service:", 1)[1].split()[0])
    assert score < 5.0, done.stdout[-3000:]


def test_kiosk_session_cannot_switch_consoles_and_always_restarts(deployment: Deployment) -> None:
    host = next(h for h in example_hosts() if "-kiosk-" in h)
    root = deployment.root(host)
    lines = (root / "etc/systemd/system/kiosk-session.service").read_text().splitlines()
    (exec_start,) = [line for line in lines if line.startswith("ExecStart=")]
    assert exec_start.startswith("ExecStart=/usr/bin/cage ") and " -s " not in exec_start
    assert exec_start.endswith(f"-- {root}/opt/lobby-checkin/current/bin/kiosk run --config {root}/etc/lobby-kiosk/kiosk.toml")
    for line in ("Restart=always", "User=kiosk", "PAMName=lobby-kiosk", "TTYPath=/dev/tty1", "Conflicts=getty@tty1.service"):
        assert line in lines, line
