"""The HL7 v2 connector: one ADT^A04 (register outpatient) per check-in over MLLP, for practice-management
systems that only speak v2.

Each message's control id (MSH-10) is derived from the check-in id, so a message sent again after a
lost ACK carries the same id and the receiver can recognise the duplicate (HL7's own mechanism; v2 has
no conditional create). What an ACK means is hl7_ack's business (AA/CA delivered; AE/CE and AR/CR as the
site's `[central]` says, never retried without bound). One send, from connecting to the ACK, has
`timeout_s` in total; a timeout or a dropped connection is retried.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import urllib.parse
import uuid

import hl7
from hl7.mllp import open_hl7_connection

from ..appointments import ScheduledAppointment
from ..config import CentralSection
from lobby_core.contract import CheckinRequest
from ..fhir_bundle import CHECKIN_EVENT, PATIENT_UPDATE_EVENT
from ..store import OutboxItem
from .base import Delivery, ScheduleUnavailable, local_outcome
from .hl7_ack import ack_outcome, judge_ack, unconfirmed

SEPARATORS = "|^~\\&"


def control_id(checkin_id: str) -> str:
    """MSH-10 is at most 20 characters: the first 80 bits of the check-in UUID, in hex."""
    return uuid.UUID(checkin_id).hex[:20]


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S%z")


def _escape(value: object) -> str:
    text = "" if value is None else str(value)
    for char, sequence in (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("~", "\\R\\"), ("&", "\\T\\")):
        text = text.replace(char, sequence)
    return text.replace("\r", " ").replace("\n", " ")


def _field(*components: object) -> str:
    return "^".join(_escape(c) for c in components).rstrip("^")


def adt_a04(payload: dict, sending_facility: str, receiving: tuple[str, str] = ("", "")) -> str:
    """The ADT^A04 for one `checkin.v1` payload (segments separated by CR)."""
    checkin = CheckinRequest.model_validate(payload["checkin"])
    appointment = payload.get("appointment") or {}
    arrived = dt.datetime.fromisoformat(payload["arrived_at"])
    checkin_id = str(checkin.checkin_id)
    patient = checkin.patient
    patient_id = appointment.get("mrn") or appointment.get("patient_id") or ""
    address = checkin.demographics.address if checkin.demographics and checkin.demographics.address else None
    segments = [
        "|".join(["MSH", SEPARATORS[1:], "LOBBY-CHECKIN", _escape(sending_facility), _escape(receiving[0]),
                  _escape(receiving[1]), _ts(arrived), "", "ADT^A04^ADT_A01", control_id(checkin_id), "P", "2.5.1"]),
        "|".join(["EVN", "A04", _ts(arrived)]),
        "|".join(["PID", "1", "", _field(patient_id, "", "", "", "MR") if patient_id else "", "",
                  _field(patient.family, patient.given), "", patient.birth_date.strftime("%Y%m%d"), "", "", "",
                  _field(address.street, "", address.city, address.state, address.postal_code, address.country)
                  if address else ""]),
        "|".join(["PV1", "1", "O", _field(appointment.get("location", "")), "", "", "",
                  _field("", appointment.get("clinician", "")), *[""] * 11, _field(checkin_id)]
                 + [""] * 24 + [_ts(arrived)]),
    ]  # fmt: skip
    if checkin.coverage is not None:
        card = checkin.coverage
        segments.append("|".join(["IN1", "1", _field(card.plan), "", _field(card.payor), *[""] * 4,
                                  _field(card.group)] + [""] * 26 + [_field(card.member_id)]))
    return "\r".join(segments)


class Hl7v2Connector:
    kind = "hl7v2"

    def __init__(self, central: CentralSection, sending_facility: str):
        url = urllib.parse.urlsplit(central.base_url)
        if url.scheme != "mllp" or not url.hostname or not url.port:
            raise ValueError("central.base_url: an HL7 v2 receiver is mllp://HOST:PORT")
        self.host, self.port = url.hostname, url.port
        self.central = central
        self.timeout_s = central.timeout_s
        self.sending_facility = sending_facility
        self._idle: asyncio.Queue = asyncio.Queue()  # open connections, one message at a time on each

    async def _connection(self):
        try:
            return self._idle.get_nowait()
        except asyncio.QueueEmpty:
            return await open_hl7_connection(self.host, self.port, encoding="utf-8")

    async def deliver(self, item: OutboxItem) -> Delivery:
        if item.event_type == PATIENT_UPDATE_EVENT:
            # An ADT^A08 needs the patient's name and birth date, which an accepted change does not carry.
            return Delivery.rejected("unsupported event", local_outcome(
                "HL7 v2 patient updates are not supported: enter the accepted address/phone at the central system"))
        if item.event_type != CHECKIN_EVENT:
            return Delivery.rejected("unmappable event", local_outcome(f"event type {item.event_type} has no HL7 v2 mapping"))
        try:
            message = hl7.parse(adt_a04(item.payload, self.sending_facility))
        except (ValueError, KeyError, TypeError) as exc:
            return Delivery.rejected("unmappable event", f"{type(exc).__name__}: cannot map event")
        connection = None
        try:
            async with asyncio.timeout(self.timeout_s):  # connect, send and ACK together
                connection = await self._connection()
                reader, writer = connection
                writer.writemessage(message)
                await writer.drain()
                ack = await reader.readmessage()
        except TimeoutError:
            self._discard(connection)
            return Delivery.retry("timeout")
        except (OSError, asyncio.IncompleteReadError, hl7.exceptions.HL7Exception) as exc:
            self._discard(connection)
            return Delivery.retry(type(exc).__name__)
        return self._outcome(message, ack, connection, item.attempts + 1)

    def _outcome(self, message, ack, connection, attempt: int) -> Delivery:
        try:
            acked_id = str(ack.segment("MSA")[2])
        except (KeyError, IndexError):
            acked_id = None
        if acked_id != str(message.segment("MSH")[10]):
            self._discard(connection)  # out of step with the receiver: start a fresh connection
            reason = "ACK without MSA" if acked_id is None else "ACK for another message"
            return unconfirmed(reason, attempt, self.central, ack_outcome(ack))
        self._idle.put_nowait(connection)
        return judge_ack(ack, attempt, self.central)

    @staticmethod
    def _discard(connection) -> None:
        if connection is not None:
            connection[1].close()

    async def fetch_schedule(self, day: dt.date) -> list[ScheduledAppointment]:
        raise ScheduleUnavailable("the HL7 v2 connector has no schedule query (use schedule.source = 'demo')")

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self.timeout_s):
                connection = await self._connection()
        except (OSError, TimeoutError):
            return False
        self._idle.put_nowait(connection)
        return True

    async def aclose(self) -> None:
        while not self._idle.empty():
            self._discard(self._idle.get_nowait())
