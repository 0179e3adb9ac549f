"""A rehearsal of the deploy playbooks on this machine: the project's wheel, and playbook runs into folders.

    .venv/bin/python -m tools.deploy_rehearsal /tmp/rehearsal    # site.yml twice over the two-site example

The deploy tests use the same functions.

The playbook runs for real against localhost (connection local), each inventory host of the shipped
two-site example inventory (and its monitoring host) installed into its own folder (`lobby_root`), so nothing on this machine
outside the temporary folder changes. Test-only shortcuts, all passed as extra vars and visible in
`shortcut_vars` below:
- the sources are copied once per session (`snapshot_sources`) and the playbook runs from that copy: both
  runs see the same files even while the tree changes, and nothing is written into the repository;
- the wheel is built once per session from that copy;
- the release virtualenv gets the project's .venv site-packages on its path through a .pth file and the
  wheel is installed with --no-deps, instead of downloading and building ~40 dependencies per host;
- users, packages and systemd are left alone (`lobby_manage_system/services` are false for any root
  other than "/"), because a test must not create users or start services on the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSIBLE_DIR = REPO / "deploy" / "ansible"
VENV_BIN = Path(sys.executable).parent
DEMO_VAULT_PASSWORD = ANSIBLE_DIR / "demo-vault-password.txt"
EXAMPLE_INVENTORY = ANSIBLE_DIR / "inventories" / "example"
PLAYBOOK_TIMEOUT_S = 420


def example_hosts() -> list[str]:
    """Every host of the example inventory, in inventory order."""
    text = (EXAMPLE_INVENTORY / "hosts.yml").read_text()
    return list(dict.fromkeys(re.findall(r"^ {8}([a-z0-9.-]+\.clinic\.lan):$", text, flags=re.M)))


def short(host: str) -> str:
    return host.split(".")[0]


def ansible_env(home: Path, ansible_dir: Path = ANSIBLE_DIR) -> dict[str, str]:
    # Without PYTHONPATH: the test suite puts the checkout on it, and a release's pip would then take the
    # checkout's egg-info for an installed lobby-checkin and skip the wheel (no entry points).
    inherited = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return {
        **inherited,
        "ANSIBLE_CONFIG": str(ansible_dir / "ansible.cfg"),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


SNAPSHOT = ("pyproject.toml", "README.md", "lobby_core", "edge_agent", "kiosk", "config", "deploy")


def snapshot_sources(destination: Path) -> Path:
    """A copy of what the playbook and the wheel are made from."""
    for name in SNAPSHOT:
        source, target = REPO / name, destination / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", ".ansible"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    return destination


def build_wheel(sources: Path, destination: Path, version: str | None = None) -> Path:
    """`pip wheel` of a source snapshot (optionally under another version number)."""
    if version:
        pyproject = sources / "pyproject.toml"
        pyproject.write_text(re.sub(r'(?m)^version = "[^"]+"', f'version = "{version}"', pyproject.read_text(), count=1))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(destination), str(sources)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = destination.glob("lobby_checkin-*.whl")
    return wheel


def wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


@dataclass
class PlaybookRun:
    returncode: int
    output: str

    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP counters per host."""
        counters = {}
        for host, fields in re.findall(r"^(\S+)\s+: (ok=.*)$", self.output, flags=re.M):
            counters[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", fields)}
        return counters


@dataclass
class Deployment:
    """Where the playbook put each host, and what each run printed."""

    base: Path
    sources: Path
    wheel: Path
    runs: list[PlaybookRun]

    def root(self, host: str) -> Path:
        return self.base / "roots" / short(host)

    def playbook(self, playbook: str, *args: str, extra: dict | None = None) -> PlaybookRun:
        return run_playbook(self.base, self.sources, self.wheel, playbook, *args, extra=extra)


def run_playbook(base: Path, sources: Path, wheel: Path, playbook: str, *args: str, extra: dict | None = None) -> PlaybookRun:
    """ansible-playbook from the source snapshot, over the example inventory plus the localhost overlay."""
    ansible_dir = sources / "deploy" / "ansible"
    overlay = base / "localhost.yml"
    if not overlay.exists():
        # A second inventory source over the example one: same hosts, reached locally, each in its own root.
        hosts = {host: {"lobby_root": str(base / "roots" / short(host))} for host in example_hosts()}
        overlay.write_text(json.dumps({"all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "hosts": hosts,
        }}))  # fmt: skip
    extra_vars = base / f"extra-{len(list(base.glob('extra-*.json')))}.json"
    extra_vars.write_text(json.dumps({**shortcut_vars(base, wheel), **(extra or {})}))
    (base / "ansible-home" / "tmp").mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(ansible_dir / "inventories" / "example"), "-i", str(overlay),
         "--vault-password-file", str(ansible_dir / DEMO_VAULT_PASSWORD.name), "-e", f"@{extra_vars}", *args, playbook],
        cwd=ansible_dir, env=ansible_env(base / "ansible-home", ansible_dir),
        capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT_S,
    )  # fmt: skip
    return PlaybookRun(done.returncode, done.stdout + done.stderr)


def shortcut_vars(base: Path, wheel: Path) -> dict:
    """The test-only extra vars (see the module docstring)."""
    return {
        "lobby_wheel": str(wheel),
        "lobby_version": wheel_version(wheel),
        "lobby_build_dir": str(base / "build"),
        "lobby_package_no_deps": True,
        "lobby_package_extra_site_packages": [sysconfig.get_paths()["purelib"]],
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="run site.yml twice over the two-site example inventory into FOLDER")
    parser.add_argument("folder", type=Path)
    base = parser.parse_args(argv).folder.resolve()
    if base.exists() and any(base.iterdir()):
        parser.error(f"{base} is not empty")
    base.mkdir(parents=True, exist_ok=True)
    sources = snapshot_sources(base / "sources")
    wheel = build_wheel(sources, base / "wheel")
    for number in (1, 2):
        run = run_playbook(base, sources, wheel, "site.yml")
        print(f"site.yml run {number}: exit {run.returncode}")
        for host, counters in run.recap().items():
            print(f"  {host:28} changed={counters.get('changed', 0)} failed={counters.get('failed', 0)}")
        if run.returncode != 0:
            print(run.output[-4000:])
            return 1
    print(f"\nEach host is installed under {base / 'roots'}/<host>; for example:")
    for host in example_hosts():
        for rendered in ("etc/edge-agent/site.toml", "etc/lobby-kiosk/kiosk.toml", "etc/prometheus/prometheus.yml"):
            if (base / "roots" / short(host) / rendered).exists():
                print(f"  {short(host):14} {rendered}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
