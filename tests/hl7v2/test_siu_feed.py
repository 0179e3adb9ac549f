"""The SIU schedule feed, end to end: a real agent (`[schedule] source = "hl7v2"`) takes SIU messages of
real-world shapes over a real MLLP socket (plain and TLS), answers each with a strictly valid ACK, and its
kiosk lookups follow: booked, rescheduled, modified, no-show, cancelled, deleted, across a restart."""

from __future__ import annotations

import datetime as dt
import socket
import sqlite3
import ssl

import hl7
import pytest

from edge_agent.config import from_mapping
from edge_agent.tls import ensure_certificate

from .conftest import MllpClient
from .siu_samples import GARCIA, JOAO, NGUYEN, OBRIEN, WANG, ZOE, Patient, siu
from .validation import strict_problems, strictly_valid

NOON = dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date(), dt.time(12, 0), dt.timezone.utc)


def accepted(ack: str, control_id: str) -> None:
    message = strictly_valid(ack)
    assert (message.msa.msa_1.value, message.msa.msa_2.value) == ("AA", control_id), ack


def refused(ack: str, control_id: str, error_code: str) -> None:
    message = strictly_valid(ack)
    assert (message.msa.msa_1.value, message.msa.msa_2.value) == ("AE", control_id), ack
    assert message.err.err_3.cwe_1.value == error_code and message.err.err_4.value == "E", ack


def found(agent, patient: Patient) -> dict | None:
    birth = f"{patient.birth_date[:4]}-{patient.birth_date[4:6]}-{patient.birth_date[6:]}"
    answer = agent.lookup(patient.family, patient.given, birth)
    return answer["appointment"] if answer["outcome"] == "matched" else None


def statuses(agent) -> dict[str, str]:
    with sqlite3.connect(agent.running.store_path) as conn:
        return dict(conn.execute("SELECT appointment_id, status FROM siu_appointments").fetchall())


def test_the_siu_samples_are_real_shapes():
    """The fixtures themselves pass hl7apy's strict validation (structure SIU_S12), whatever they leave out."""
    shapes = [
        siu("S12", "s1", NOON, placer="P1", filler="F1", patient=GARCIA, z_segments=True,
            clinicians=[("1", "Patel", "Asha"), ("2", "Okonkwo", "Ngozi")], locations=["Room 1", "Room 2"]),
        siu("S12", "s2", NOON, filler="F2", patient=WANG, with_pv1=False, general=False),
        siu("S14", "s3", NOON, placer="P3", patient=NGUYEN, clinicians=[], locations=[]),
        siu("S15", "s4", NOON, filler="F1"),
        siu("S26", "s5", None, filler="F1", patient=OBRIEN, sch_timing=False),
    ]  # fmt: skip
    for text in shapes:
        message = strictly_valid(text)
        assert message.msh.msh_9.to_er7().endswith("^SIU_S12")


def test_siu_messages_keep_the_schedule_and_the_kiosk_finds_the_patients(siu_agent):
    agent = siu_agent()
    client = MllpClient(agent.siu_port)
    try:
        # New, with repeating AIL / AIP, an AIG and Z-segments.
        accepted(client.exchange(siu(
            "S12", "m-001", NOON, placer="P100", filler="F100", patient=GARCIA, z_segments=True,
            clinicians=[("1234567890", "Patel", "Asha"), ("2222222222", "Okonkwo", "Ngozi")],
            locations=["Room 1", "Room 2"],
        )), "m-001")  # fmt: skip
        garcia = found(agent, GARCIA)
        assert garcia["appointment_id"] == "siu-F100"
        assert (garcia["clinician"], garcia["location"]) == ("Dr. Asha Patel", "Room 1")
        assert dt.datetime.fromisoformat(garcia["start"]) == NOON
        assert garcia["on_file"]["street_ending"] == "5" and garcia["on_file"]["phone_ending"] == "01"  # endings only

        # No AIG, no PV1, \r\n line endings.
        wang = siu("S12", "m-002", NOON + dt.timedelta(hours=1), filler="F200", patient=WANG, with_pv1=False, general=False)
        assert "AIG" not in wang and "PV1" not in wang
        accepted(client.exchange(wang.replace("\r", "\r\n")), "m-002")
        assert found(agent, WANG)["appointment_id"] == "siu-F200"

        # Booked under the placer id only; modified by a message naming both ids: the same appointment.
        accepted(client.exchange(siu("S12", "m-003", NOON, placer="P300", patient=NGUYEN)), "m-003")
        accepted(client.exchange(siu("S14", "m-004", NOON, placer="P300", filler="F300", patient=NGUYEN,
                                     locations=["Room 7"])), "m-004")  # fmt: skip
        nguyen = found(agent, NGUYEN)
        assert (nguyen["appointment_id"], nguyen["location"]) == ("siu-P300", "Room 7")

        # Rescheduled; then the original S12 arrives again (a resend): nothing changes twice.
        later = NOON + dt.timedelta(hours=3)
        accepted(client.exchange(siu("S13", "m-005", later, placer="P100", filler="F100", patient=GARCIA)), "m-005")
        assert dt.datetime.fromisoformat(found(agent, GARCIA)["start"]) == later
        accepted(client.exchange(siu("S12", "m-001", NOON, placer="P100", filler="F100", patient=GARCIA)), "m-001")
        assert dt.datetime.fromisoformat(found(agent, GARCIA)["start"]) == later

        # ISO 8859-1 as MSH-18 says, and an S14 without PID for a known appointment (patient kept).
        latin = siu("S12", "m-006", NOON, filler="F400", patient=ZOE).replace("|UNICODE UTF-8", "|8859/1", 1)
        accepted(client.exchange(latin.encode("latin-1")), "m-006")
        accepted(client.exchange(siu("S14", "m-007", NOON, filler="F400", locations=["Room 9"])), "m-007")
        assert found(agent, ZOE)["location"] == "Room 9"

        # What the feed cannot use: AE with an ERR, and the connection goes on.
        refused(client.exchange(siu("S14", "m-008", NOON, filler="F999")), "m-008", "101")  # unknown, no PID
        adt = "MSH|^~\\&|PM|CENTRAL|||20260301||ADT^A01^ADT_A01|m-009|P|2.5.1\rEVN|A01|20260301\rPID|1||1^^^PM^MR||Doe^J\rPV1|1|O"
        refused(client.exchange(adt), "m-009", "200")
        refused(client.exchange(siu("S16", "m-010", NOON, filler="F100", patient=GARCIA)), "m-010", "201")
        garbage = client.exchange(b"\x00\xffnot hl7 at all")
        assert hl7.parse(garbage).segment("MSA")[1][0] == "AE"
        assert [p for p in strict_problems(garbage) if "MSA.MSA_2" not in p] == []  # no control id to echo

        # No-show: marked, still found by a patient who turns up late.
        accepted(client.exchange(siu("S12", "m-011", NOON, filler="F500", patient=JOAO)), "m-011")
        accepted(client.exchange(siu("S26", "m-012", NOON, filler="F500")), "m-012")
        assert found(agent, JOAO)["appointment_id"] == "siu-F500"

        # Cancelled and deleted: gone from the lookups.
        accepted(client.exchange(siu("S15", "m-013", later, placer="P100", filler="F100")), "m-013")
        accepted(client.exchange(siu("S17", "m-014", NOON, filler="F200")), "m-014")
        assert found(agent, GARCIA) is None and found(agent, WANG) is None
    finally:
        client.close()
    assert statuses(agent) == {"siu-F100": "cancelled", "siu-F200": "deleted", "siu-P300": "booked",
                               "siu-F400": "booked", "siu-F500": "noshow"}  # fmt: skip
    assert agent.health()["schedule_appointments"] == 3

    # What arrived survives a restart; a cancel resent afterwards changes nothing.
    agent.stop()
    agent.start()
    assert found(agent, NGUYEN)["location"] == "Room 7" and found(agent, ZOE)["location"] == "Room 9"
    assert found(agent, GARCIA) is None and found(agent, JOAO) is not None
    client = MllpClient(agent.siu_port)
    try:
        accepted(client.exchange(siu("S12", "m-003", NOON, placer="P300", patient=NGUYEN)), "m-003")
        assert found(agent, NGUYEN)["location"] == "Room 7"
    finally:
        client.close()
    log = agent.running.log_text()
    for name in ("García", "Garc\\u00eda", "Nguyễn", "Kowalski", "MRN2001", "19560314"):
        assert name not in log


def test_the_feed_over_tls(siu_agent, tmp_path):
    cert, key = ensure_certificate(from_mapping({"agent": {"data_dir": str(tmp_path / "certs")}}))
    agent = siu_agent(siu_tls_cert=str(cert), siu_tls_key=str(key))
    tls = ssl.create_default_context(cafile=str(cert))
    client = MllpClient(agent.siu_port, tls)
    try:
        accepted(client.exchange(siu("S12", "t-001", NOON, filler="F700", patient=OBRIEN)), "t-001")
    finally:
        client.close()
    assert found(agent, OBRIEN)["appointment_id"] == "siu-F700"
    plain = MllpClient(agent.siu_port, timeout=5)
    try:
        with pytest.raises((ConnectionError, socket.timeout, OSError)):
            plain.exchange(siu("S12", "t-002", NOON, filler="F701", patient=GARCIA))
    finally:
        plain.close()
    assert found(agent, GARCIA) is None
