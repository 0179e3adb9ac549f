"""The HL7 v2 connector: one arrival (ADT^A04 register outpatient, or ADT^A10 patient arriving) per
check-in and one ADT^A08 per accepted demographics change, over MLLP, for practice-management systems
that only speak v2. The messages are built in hl7_messages.

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

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, open_hl7_connection

from lobby_core.appointments import ScheduledAppointment
from ..config import CentralSection
from lobby_core.outbox_events import CheckinV1, OutboxEvent, PatientUpdateV1, UnknownEvent, parse_event
from ..store import OutboxItem
from . import hl7_messages
from .base import Delivery, ScheduleUnavailable, local_outcome
from .hl7_ack import ack_outcome, judge_ack, unconfirmed
from .hl7_messages import Hl7Site, control_id

__all__ = ["Hl7v2Connector", "adt_a04", "control_id"]

Connection = tuple[HL7StreamReader, HL7StreamWriter]


def adt_a04(event: CheckinV1, sending_facility: str) -> str:
    """The ADT^A04 for one `checkin.v1` event, with the site's defaults (see hl7_messages.arrival)."""
    return hl7_messages.arrival(event, Hl7Site(sending_facility, sending_facility.upper()))


class Hl7v2Connector:
    kind = "hl7v2"

    def __init__(self, central: CentralSection, sending_facility: str):
        url = urllib.parse.urlsplit(central.base_url)
        if url.scheme != "mllp" or not url.hostname or not url.port:
            raise ValueError("central.base_url: an HL7 v2 receiver is mllp://HOST:PORT")
        self.host, self.port = url.hostname, url.port
        self.central = central
        self.timeout_s = central.timeout_s
        self.site = Hl7Site(
            facility=sending_facility,
            site_authority=central.hl7_site_authority or sending_facility.upper(),
            central_authority=central.hl7_central_authority,
            payer_ids=dict(central.hl7_payer_ids),
            arrival_event=central.hl7_arrival_event,
        )
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()  # open connections, one message at a time on each

    async def _connection(self) -> Connection:
        try:
            return self._idle.get_nowait()
        except asyncio.QueueEmpty:
            opened: Connection = await open_hl7_connection(self.host, self.port, encoding="utf-8")
            return opened

    async def deliver(self, item: OutboxItem) -> Delivery:
        try:
            message = hl7.parse(self.message_for(parse_event(item.event_type, item.payload)))
        except UnknownEvent:
            return Delivery.rejected("unmappable event", local_outcome(f"event type {item.event_type} has no HL7 v2 mapping"))
        except (ValueError, KeyError, TypeError) as exc:  # a pydantic ValidationError is a ValueError
            return Delivery.rejected("unmappable event", local_outcome(f"{type(exc).__name__}: cannot map event"))
        connection: Connection | None = None
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

    def message_for(self, event: OutboxEvent) -> str:
        if isinstance(event, PatientUpdateV1):
            return hl7_messages.demographics_update(event, self.site, dt.datetime.now(dt.timezone.utc))
        if isinstance(event, CheckinV1):
            return hl7_messages.arrival(event, self.site)
        raise UnknownEvent(f"event type {event.event_name} has no HL7 v2 mapping")

    def _outcome(self, message: hl7.Message, ack: hl7.Message, connection: Connection, attempt: int) -> Delivery:
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
    def _discard(connection: Connection | None) -> None:
        if connection is not None:
            connection[1].close()

    async def fetch_schedule(self, day: dt.date) -> list[ScheduledAppointment]:
        raise ScheduleUnavailable("the HL7 v2 connector has no schedule query (use schedule.source = 'hl7v2', an SIU feed)")

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
