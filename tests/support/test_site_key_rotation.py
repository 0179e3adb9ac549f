"""`edge-agent rotate-site-key` on a real store: a check-in with signed consents and a queued outbox event,
rotated with the agent stopped; everything still reads, the outbox is delivered to the FHIR sandbox, an
old consent PDF still verifies, the old key is gone from the key file; and a run SIGKILLed midway is
finished by running it again."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import subprocess
import time
import zoneinfo
from pathlib import Path

import httpx

from edge_agent import config as site_config
from edge_agent.consents.records import read_signed, sealed_pdf
from edge_agent import insurance_cards
from edge_agent.eligibility import checks
from edge_agent.key_rotation import SEALED_COLUMNS
from edge_agent.schedule import demo_appointments
from edge_agent.keys import KEY_BYTES, SiteKey, key_id, sealed_by
from edge_agent.store import Store
from kiosk.flow import Step
from tests.agent.launcher import EDGE_AGENT, REPO, RunningAgent, start_agent
from tests.kiosk.conftest import restart_agent
from tests.kiosk.samples import SIGNATURE
from tests.kiosk.test_backend_agent import ROSSI, Kiosk
from tests.sandbox import Sandbox, wait_until
from tests.card_jpegs import b64, card_jpeg
from lobby_core.contract import InsuranceCardScan


def rotate(agent: RunningAgent, *extra: str) -> subprocess.CompletedProcess:
    return agent.cli("rotate-site-key", *extra, check=False)


def sealed_values(store_path: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(store_path) as db:
        return [(f"{c.table}.{c.column}", value) for c in SEALED_COLUMNS
                for (value,) in db.execute(f"SELECT {c.column} FROM {c.table} WHERE length({c.column}) > 0")]  # fmt: skip


def check_in_with_consents(agent: RunningAgent, folder: Path) -> str:
    kiosk = Kiosk(folder, agent.base_url, agent.token)
    try:
        kiosk.type_and_search(*ROSSI)
        kiosk.wait_for(Step.CONFIRM)
        kiosk.act(kiosk.flow.confirm())
        if kiosk.flow.step is Step.REVIEW:  # "Is this still right?" about what is on file
            kiosk.act(kiosk.flow.review_done())
        for _ in range(10):  # bounded: a form that will not take the signature fails here, not at the timeout
            if kiosk.flow.step is not Step.FORMS:
                break
            kiosk.act(kiosk.flow.form_scrolled_to_end())  # consent-to-treat signs only once read to its end
            kiosk.act(kiosk.flow.sign(SIGNATURE))
        checkin_id = str(kiosk.flow.session.checkin_id)
        kiosk.wait_for(Step.DONE)
        return checkin_id
    finally:
        kiosk.stop()


def seed_demo_rossi(sandbox: Sandbox) -> None:
    """The central system holds the demo schedule's Rossi appointment, so her check-in can be delivered."""
    [rossi] = [a for a in demo_appointments("test-site", dt.datetime.now(dt.UTC).date(), zoneinfo.ZoneInfo("UTC"))
               if a.family == "Rossi"]  # fmt: skip
    sandbox.seed([
        {"resourceType": "Patient", "id": rossi.patient_id, "name": [{"family": rossi.family, "given": [rossi.given]}],
         "birthDate": rossi.birth_date.isoformat()},
        {"resourceType": "Appointment", "id": rossi.appointment_id, "status": "booked", "start": rossi.start.isoformat(),
         "end": (rossi.start + dt.timedelta(minutes=15)).isoformat(),
         "participant": [{"actor": {"reference": f"Patient/{rossi.patient_id}"}, "status": "accepted"}]},
    ])  # fmt: skip


def test_rotation_keeps_everything_readable_delivered_and_verifiable(tmp_path: Path, sandbox: Sandbox) -> None:
    seed_demo_rossi(sandbox)
    agent = start_agent(tmp_path / "site", central={"kind": "fhir", "base_url": sandbox.url, "timeout_s": 2.0,
                                                    "max_backoff_s": 1.0})  # fmt: skip
    try:
        sandbox.stop()  # central is away: the check-in waits in the outbox
        checkin_id = check_in_with_consents(agent, tmp_path / "kiosk")
    finally:
        assert agent.stop() == 0
    config = site_config.load(agent.config_path)
    old_secret = agent.key_file.read_bytes()
    assert len(old_secret) == KEY_BYTES  # a site that never rotated: the raw key
    store = Store(config.store_path, SiteKey.load(agent.key_file))
    consent_ids = [r[0] for r in store.read_sync(lambda c: c.execute("SELECT consent_id FROM consents").fetchall())]
    assert consent_ids
    old_pdf = tmp_path / "consent-before.pdf"
    old_pdf.write_bytes(sealed_pdf(store, consent_ids[0]))
    inquiry = {"member_id": "W123456789", "payer": "ACME"}  # an eligibility inquiry, sealed under the old key
    store.write_sync(lambda c: checks.schedule(c, store, "p-rossi", "2026-01-05", "c-1", inquiry, 0.0, replace=True))
    card = insurance_cards.check_scan(InsuranceCardScan(front_jpeg=b64(card_jpeg("front")), back_jpeg=b64(card_jpeg("back")),
                                                        fields={"member_id": {"value": "W123456789"}}))  # fmt: skip
    store.write_sync(lambda c: insurance_cards.insert_card(c, store, checkin_id, card))  # sealed under the old key
    store.close()

    done = rotate(agent)
    assert done.returncode == 0, done.stderr
    ring = json.loads(agent.key_file.read_bytes())
    assert old_secret.hex() not in agent.key_file.read_text() and ring["next"] is None
    assert ring["retired"][0]["id"] == key_id(old_secret).hex()
    new_id = bytes.fromhex(ring["current"])
    assert {sealed_by(value) for _, value in sealed_values(config.store_path)} == {key_id(new_id)}

    key = SiteKey.load(agent.key_file)
    store = Store(config.store_path, key)
    try:
        for consent_id in consent_ids:
            assert store.read_sync(lambda c: read_signed(store, c, consent_id)) is not None
        [item] = store.outbox_due(10)
        assert item.payload["checkin"]["checkin_id"] == checkin_id
        check = store.read_sync(lambda c: checks.get(c, store, "p-rossi", "2026-01-05"))
        assert check is not None and check.request == inquiry
        stored_card = insurance_cards.load_card(store, checkin_id)
        assert stored_card is not None and stored_card.front_jpeg == card.scan.front_jpeg
        assert stored_card.back_jpeg == card.scan.back_jpeg and stored_card.value("member_id") == "W123456789"
    finally:
        store.close()
    verified = subprocess.run([*EDGE_AGENT, "verify-consent", str(old_pdf), "--config", str(agent.config_path)],
                              capture_output=True, text=True, cwd=REPO)  # fmt: skip
    assert verified.returncode == 0 and "retired key" in verified.stdout, verified.stdout

    sandbox.start()
    agent = restart_agent(agent)
    try:
        def health() -> dict:
            return httpx.get(f"{agent.base_url}/healthz", timeout=10).json()

        wait_until(lambda: health()["outbox_depth"] == 0, 90, "the outbox to drain after the rotation")
        assert health()["dead_letters"] == 0
        assert rotate(agent).returncode == 1  # never beside a running agent
    finally:
        agent.stop()


def test_sigkill_midway_then_rerun_finishes_the_rotation(tmp_path: Path) -> None:
    agent = start_agent(tmp_path / "site")
    assert agent.stop() == 0
    config = site_config.load(agent.config_path)
    store = Store(config.store_path, SiteKey.load(agent.key_file))
    payloads = {f"event-{n}": {"n": n, "note": "x" * 200} for n in range(3000)}
    store.write_sync(lambda c: [store.enqueue(c, "test.v1", name, f"p{n % 50}", body)
                                for n, (name, body) in enumerate(payloads.items())])  # fmt: skip
    store.close()

    process = subprocess.Popen([*EDGE_AGENT, "rotate-site-key", "--batch-rows", "5", "--config", str(agent.config_path)],
                               stdout=subprocess.PIPE, text=True, cwd=REPO)  # fmt: skip
    assert process.stdout.readline().startswith("re-encrypted")
    for _ in range(20):  # a few more batches, then the kill
        process.stdout.readline()
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    ring = json.loads(agent.key_file.read_bytes())
    assert ring["next"], "killed after the rotation had already finished"
    headers = [sealed_by(value) for _, value in sealed_values(config.store_path)]
    old, new = key_id(bytes.fromhex(ring["current"])), key_id(bytes.fromhex(ring["next"]))
    assert new in headers and old in headers  # midway: old and new side by side

    started = time.monotonic()
    done = rotate(agent)
    assert done.returncode == 0, done.stderr
    ring = json.loads(agent.key_file.read_bytes())
    assert ring["next"] is None
    assert {sealed_by(value) for _, value in sealed_values(config.store_path)} == {key_id(bytes.fromhex(ring["current"]))}
    store = Store(config.store_path, SiteKey.load(agent.key_file))
    try:
        rows = store.read_sync(lambda c: c.execute("SELECT aggregate_id, payload_sealed FROM outbox").fetchall())
        read = {name: store.unseal_json(sealed, f"outbox:{name}") for name, sealed in rows}
        assert {name: read[name] for name in payloads} == payloads  # every value reads back, under the new key
    finally:
        store.close()
    assert time.monotonic() - started < 120
