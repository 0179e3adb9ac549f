"""Remote support end to end: `edge-agent kiosk ACTION ID` and the desk's admin API against a real agent
process, carried out by a real kiosk backend (long poll, result post) with a real printer driver."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import threading

import httpx

from edge_agent.schedule import DEMO_PATIENTS
from kiosk.agent_client import AgentClient, AgentRefused
from lobby_core.contract import SupportLogLine, SupportResult
from tests.agent.launcher import EDGE_AGENT, RunningAgent
from tests.desk.conftest import CHROMIUM_ARGS, sign_in
from tests.support.conftest import HeadlessKiosk, audit_rows, last_audit_id

import pytest

PHI_WORDS = sorted({word for family, given, _ in DEMO_PATIENTS for name in (family, given) for word in name.split()
                    if len(word) > 2} | {born for _, _, born in DEMO_PATIENTS})  # fmt: skip


def next_commands(client: AgentClient, polls: int = 6) -> list:
    """What the agent hands this kiosk within a few long polls (a CLI just started is queuing it)."""
    for _ in range(polls):
        if commands := client.support_commands(5).commands:
            return commands
    raise AssertionError("no command arrived")


def support_cli(agent: RunningAgent, action: str, kiosk_id: str, *extra: str, timeout: float = 30):
    return agent.cli("kiosk", action, kiosk_id, "--timeout", str(timeout), *extra, check=False)


def test_print_test_ticket_reaches_the_printer_and_is_audited(agent: RunningAgent, kiosk: HeadlessKiosk) -> None:
    before = last_audit_id(agent)
    done = support_cli(agent, "print-test-ticket", "kiosk-1")
    assert done.returncode == 0, done.stderr
    assert "print_test_ticket on kiosk-1: ok" in done.stdout
    [receipt] = kiosk.printer_sim.printed
    assert "TEST-0000" in receipt.text and receipt.complete
    rows = audit_rows(agent, before)
    assert [(r["action"], r["subject"]) for r in rows] == [("support.request", "kiosk-1"), ("support.print_test_ticket", "kiosk-1")]
    assert all(r["actor"].startswith("cli:") for r in rows)
    assert json.loads(rows[1]["detail"])["outcome"] == "ok"


def test_device_check_reports_the_printer_as_it_is_now(agent: RunningAgent, kiosk: HeadlessKiosk) -> None:
    kiosk.printer_sim.set_condition("paper-low")
    done = support_cli(agent, "device-check", "kiosk-1")
    assert done.returncode == 0, done.stderr
    assert "receipt (receipt_printer): degraded" in done.stdout


def test_logs_come_back_filtered_and_without_any_patient_name(agent: RunningAgent, kiosk: HeadlessKiosk) -> None:
    noisy = logging.getLogger("kiosk.flow")
    noisy.warning("matched Giulia Rossi, born 1962-03-03, member 998877665", extra={"ticket": "A-001", "family": "Rossi"})
    noisy.warning("refused: %s", "Okafor Chinwe 10/10/1995", extra={"reason": "Rossi Giulia"})
    done = support_cli(agent, "logs", "kiosk-1", "--lines", "50")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()[1:]]
    assert any(line["fields"].get("ticket") == "A-001" for line in lines)  # allow-listed fields survive
    assert any(line["msg"] == "refused: %s" for line in lines)  # the template, never the arguments
    text = done.stdout
    leaked = [word for word in PHI_WORDS if word.lower() in text.lower()]
    assert leaked == [] and "998877665" not in text and '"family"' not in text


def test_the_agent_filters_what_a_careless_kiosk_sends(agent: RunningAgent, tmp_path) -> None:
    """No kiosk runs here: this test plays a kiosk that sends PHI in its log lines anyway."""
    client = AgentClient(agent.base_url, agent.token)
    outcome: dict = {}
    waiter = threading.Thread(target=lambda: outcome.update(done=support_cli(agent, "logs", "kiosk-1")))
    waiter.start()
    commands = next_commands(client)
    careless = [
        SupportLogLine(ts="2026-01-01T10:00:00.000Z", level="info", logger="kiosk.flow",
                       msg=f"checked in {family}, {given} ({born})", fields={"ticket": "A-002", "name": f"{given} {family}",
                                                                               "reason": f"{family.upper()} at desk"})
        for family, given, born in DEMO_PATIENTS
    ]  # fmt: skip
    client.support_result(commands[0].id, SupportResult(outcome="ok", log_lines=careless))
    waiter.join(60)
    text = outcome["done"].stdout
    assert text.count('"A-002"') == len(DEMO_PATIENTS)
    assert [word for word in PHI_WORDS if word.lower() in text.lower()] == []
    assert '"name"' not in text


def test_screenshot_refused_during_a_patient_session(agent: RunningAgent, kiosk: HeadlessKiosk) -> None:
    kiosk.flow.start()
    kiosk.flow.type_by_hand()
    kiosk.flow.key("R")
    before = last_audit_id(agent)
    for action in ("screenshot", "restart", "print-test-ticket"):
        done = support_cli(agent, action, "kiosk-1")
        assert done.returncode == 1
        assert "refused (patient_session)" in done.stdout
    assert kiosk.printer_sim.printed == []
    outcomes = [json.loads(r["detail"]).get("reason") for r in audit_rows(agent, before) if r["action"] != "support.request"]
    assert outcomes == ["patient_session"] * 3


def test_a_kiosk_gets_only_its_own_commands_and_cannot_answer_anothers(agent: RunningAgent) -> None:
    other = AgentClient(agent.base_url, agent.extra_tokens["kiosk-2"])
    mine = AgentClient(agent.base_url, agent.token)
    outcome: dict = {}
    waiter = threading.Thread(target=lambda: outcome.update(done=support_cli(agent, "device-check", "kiosk-1", timeout=20)))
    waiter.start()
    assert other.support_commands(2).commands == []  # kiosk-1's command is waiting meanwhile
    commands = next_commands(mine)
    with pytest.raises(AgentRefused) as refused:
        other.support_result(commands[0].id, SupportResult(outcome="ok"))
    assert refused.value.status == 404
    mine.support_result(commands[0].id, SupportResult(outcome="ok"))
    with pytest.raises(AgentRefused) as again:
        mine.support_result(commands[0].id, SupportResult(outcome="ok"))
    assert again.value.status == 409
    waiter.join(30)
    assert outcome["done"].returncode == 0


def test_unanswered_commands_expire_and_say_so(agent: RunningAgent) -> None:
    before = last_audit_id(agent)
    done = support_cli(agent, "logs", "kiosk-2", timeout=6)  # no kiosk-2 runs
    assert done.returncode == 1
    rows = audit_rows(agent, before)
    assert json.loads(rows[-1]["detail"])["outcome"] == "expired"


def test_oversized_results_and_unknown_kiosks_are_refused(agent: RunningAgent) -> None:
    assert support_cli(agent, "logs", "no-such-kiosk").returncode == 2
    big = {"outcome": "ok", "screenshot_png": "A" * 5_000_000}
    response = httpx.post(f"{agent.base_url}/api/v1/kiosk/commands/1/result", json=big, headers=agent.headers(), timeout=30)
    assert response.status_code == 413


def test_desk_admin_queues_a_command_and_reads_its_result(agent: RunningAgent, kiosk: HeadlessKiosk) -> None:
    add = subprocess.run([*EDGE_AGENT, "add-staff", "boss", "--role", "admin", "--password-stdin", "--config",
                          str(agent.config_path)], input="very-secret-pass\n", text=True, capture_output=True)  # fmt: skip
    assert add.returncode == 0, add.stderr
    with httpx.Client(base_url=agent.base_url, timeout=40) as desk:
        assert sign_in(desk, "boss", "very-secret-pass").status_code in (200, 303)
        csrf = desk.get("/api/v1/desk/session").json()["csrf_token"]
        queued = desk.post("/api/v1/support/kiosks/kiosk-1/device_check", headers={"X-CSRF-Token": csrf, "Origin": agent.base_url})
        assert queued.status_code == 202
        state = desk.get(f"/api/v1/support/commands/{queued.json()['id']}", params={"wait": 20}).json()
        assert state["outcome"] == "ok" and state["devices"][0]["kind"] == "receipt_printer"
        refused = desk.post("/api/v1/support/kiosks/kiosk-1/logs", json={"lines": 5})
        assert refused.status_code == 403  # no CSRF token
        page = desk.get("/desk").text
        assert 'data-support-action="screenshot"' in page and "/desk/static/support.js" in page
        assert desk.get("/desk/static/support.js").status_code == 200
    rows = audit_rows(agent)
    assert ("boss", "support.device_check", "kiosk-1") in [(r["actor"], r["action"], r["subject"]) for r in rows]


@pytest.mark.browser
def test_the_desk_support_block_speaks_the_page_language(agent: RunningAgent, kiosk: HeadlessKiosk) -> None:
    """In Chromium, on the Spanish desk page: labels, status and device states come from desk.es.json."""
    from playwright.sync_api import expect, sync_playwright

    add = subprocess.run([*EDGE_AGENT, "add-staff", "ayuda", "--role", "admin", "--password-stdin", "--config",
                          str(agent.config_path)], input="very-secret-pass\n", text=True, capture_output=True)  # fmt: skip
    assert add.returncode == 0, add.stderr
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="es-ES").new_page()
            page.goto(f"{agent.base_url}/desk/login")
            page.fill("#username", "ayuda")
            page.fill("#password", "very-secret-pass")
            page.click("#sign-in")
            page.wait_for_url(f"{agent.base_url}/desk")
            expect(page.locator("#support-title")).to_have_text("Soporte de quioscos")
            expect(page.locator("#support-kiosk option")).to_have_count(2)  # kiosk-1 and kiosk-2
            page.select_option("#support-kiosk", "kiosk-1")
            page.get_by_role("button", name="Revisar dispositivos").click()
            expect(page.locator("#support-status")).to_have_text("Revisar dispositivos en kiosk-1: hecho", timeout=30000)
            expect(page.locator("#support-output")).to_contain_text("receipt (receipt_printer): En línea")
        finally:
            browser.close()
    rows = audit_rows(agent)
    assert ("ayuda", "support.device_check", "kiosk-1") in [(r["actor"], r["action"], r["subject"]) for r in rows]


def test_screenshot_png_must_be_a_png(agent: RunningAgent) -> None:
    client = AgentClient(agent.base_url, agent.extra_tokens["kiosk-2"])
    outcome: dict = {}
    waiter = threading.Thread(target=lambda: outcome.update(done=support_cli(agent, "screenshot", "kiosk-2", timeout=10)))
    waiter.start()
    commands = next_commands(client)
    with pytest.raises(AgentRefused) as refused:
        client.support_result(commands[0].id, SupportResult(outcome="ok", screenshot_png=base64.b64encode(b"GIF89a").decode()))
    assert refused.value.status == 422
    waiter.join(30)
