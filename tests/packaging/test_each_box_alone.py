"""Each box runs with only its own dependency set: the agent serves a check-in with the kiosk's libraries
unimportable, and the kiosk's modules import with the agent's libraries unimportable.

A `sitecustomize` on PYTHONPATH installs a meta-path finder that fails every import of the blocked
top-level names, as if the package were not installed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from lobby_core.demo import DEMO_PATIENTS
from tests.agent.launcher import start_agent, today_demo_appointment_id

REPO = Path(__file__).resolve().parents[2]
KIOSK_ONLY = ["kivy", "serial", "smartcard", "escpos", "qrcode"]
AGENT_ONLY = ["fastapi", "uvicorn", "starlette", "reportlab", "fhir", "argon2", "pypdf", "hl7", "jinja2", "jsonpatch"]
BLOCKER = '''
import os, sys

BLOCKED = set(os.environ["LOBBY_BLOCKED_IMPORTS"].split(","))


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: not in this box's dependency set)", name=name)
        return None


sys.meta_path.insert(0, Blocker())
'''


def blocker_env(tmp_path: Path, blocked: list[str]) -> dict[str, str]:
    folder = tmp_path / "blocker"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(BLOCKER)
    return {"PYTHONPATH": os.pathsep.join([str(folder), str(REPO)]), "LOBBY_BLOCKED_IMPORTS": ",".join(blocked)}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_the_blocker_blocks(tmp_path):
    result = run_python("import kivy", blocker_env(tmp_path, KIOSK_ONLY))
    assert result.returncode == 1 and "blocked: not in this box's dependency set" in result.stderr


def test_the_agent_serves_a_check_in_without_the_kiosks_libraries(tmp_path):
    agent = start_agent(tmp_path, env=blocker_env(tmp_path, KIOSK_ONLY))
    try:
        family, given, born = DEMO_PATIENTS[0]
        checkin_id = str(uuid.uuid4())
        body = {"checkin_id": checkin_id, "kiosk_id": agent.kiosk_id, "appointment_id": today_demo_appointment_id(1),
                "identity_source": "manual", "patient": {"family": family, "given": given, "birth_date": born}}
        with agent.client() as client:
            response = client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": checkin_id}))
        assert response.status_code == 201, response.text + agent.log_text()[-2000:]
        assert response.json()["ticket"]
    finally:
        agent.stop()
    assert "blocked" not in agent.log_text()


def test_the_kiosk_imports_without_the_agents_libraries(tmp_path):
    code = (
        "import kiosk.cli, kiosk.flow, kiosk.backend, kiosk.agent_client, kiosk.devices.registry, kiosk.devices.doctor\n"
        "from kiosk.devices.registry import _driver_class\n"
        "for kind in ('id_scanner', 'card_reader', 'receipt_printer', 'label_printer', 'signature_pad'):\n"
        "    _driver_class(kind)\n"
        "from kiosk import window\n"
        "window.configure('portrait', windowed=True, size=(540, 960))\n"
        "import kiosk.app, kiosk.launch, kiosk.autopilot\n"
        "print(sorted(m for m in __import__('sys').modules if m.split('.')[0] == 'edge_agent'))\n"
    )
    env = {**blocker_env(tmp_path, AGENT_ONLY), "KIVY_NO_ARGS": "1", "KIVY_HOME": str(tmp_path / "kivy-home")}
    result = subprocess.run(["xvfb-run", "-a", sys.executable, "-c", code], cwd=REPO, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"  # and nothing of the agent was loaded


def test_the_kiosk_checks_its_config_without_the_agents_libraries(tmp_path):
    result = run_python("import sys; from kiosk.cli import main; sys.exit(main(['check-config', 'config/site.example.toml']))",
                        blocker_env(tmp_path, AGENT_ONLY))  # fmt: skip
    assert result.returncode == 0, result.stderr
