"""The SIU schedule feed (`[schedule] source = "hl7v2"`): the central system sends SIU^S12..S26 over MLLP
(optionally TLS) to `schedule.siu_listen`, and the agent keeps its schedule cache from them.

    S12 new, S13 rescheduled, S14 modified: the appointment as the message gives it (a message without
        PID keeps the patient already on file); S15 cancelled, S17 deleted: out of the lookups;
    S26 no-show: marked (siu_appointments.status), still found by a patient who turns up late.

Each frame is answered with an ACK: AA once applied (or already applied: a resent MSH-10 changes nothing),
AE with an ERR (table 0357 code) for a message the agent cannot use (not SIU, an event it does not handle,
no appointment id, no patient for an appointment it does not know, garbage). Appointments are keyed by
SCH-2 (filler id), else SCH-1 (placer id); a later message naming either finds it. What arrives is
committed to the store before the ACK, so it survives a restart. Logs carry event codes and control ids,
never a name or a birth date.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import sqlite3
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server

from lobby_core.contract import Address, Demographics

from lobby_core.appointments import ScheduledAppointment
from .config import SiteConfig, parse_listen
from .central.hl7_messages import UTF8, VERSION, escape, segment, timestamp
from .schedule import ScheduleCache
from .store import Store

log = logging.getLogger(__name__)

EVENTS = {"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled", "S17": "deleted", "S26": "noshow"}
CHARSETS = {"": "utf-8", "ASCII": "utf-8", "UNICODE": "utf-8", UTF8: "utf-8", "8859/1": "latin-1", "8859/15": "iso8859-15"}
MAX_FRAME = 1 << 20
KEEP_CONTROL_IDS_DAYS = 30


class Unusable(Exception):
    """A message the feed cannot use: answered AE with this table 0357 code, location and text."""

    def __init__(self, code: str, text: str, location: str = ""):
        super().__init__(text)
        self.code, self.text, self.location = code, text, location


@dataclass(frozen=True)
class Frame:
    """One received message: its text and what the ACK needs from its header."""

    text: str
    message: hl7.Message | None = None

    def header(self, field_number: int) -> str:
        """MSH-n as sent (still escaped); '' when absent."""
        if self.message is None:
            return ""
        msh = self.message.segment("MSH")
        return str(msh[field_number]) if len(msh) > field_number else ""


def for_config(config: SiteConfig, store: Store, cache: ScheduleCache) -> "SiuFeed | None":
    """The feed `[schedule] source = "hl7v2"` asks for, else None."""
    schedule = config.schedule
    if schedule.source != "hl7v2":
        return None
    cert, key = schedule.siu_tls_cert, schedule.siu_tls_key  # the config allows both or neither
    tls = ssl_context(cert, key) if cert is not None and key is not None else None
    return SiuFeed(store, cache, config.site.id, parse_listen(schedule.siu_listen), tls)


def ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def decode(raw: bytes) -> str:
    """The frame's text in the character set its MSH-18 names; \\r\\n or \\n line ends become \\r."""
    fields = raw.split(b"\r", 1)[0].split(b"\n", 1)[0].split(b"|")
    charset = fields[17].decode("ascii", "replace").strip() if len(fields) > 17 else ""
    if charset not in CHARSETS:
        raise Unusable("203", f"unsupported character set (MSH-18)", "MSH^1^18")
    try:
        text = raw.decode(CHARSETS[charset])
    except UnicodeDecodeError:
        raise Unusable("102", f"not valid {CHARSETS[charset]} text", "MSH^1^18") from None
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    return "\r".join(line for line in lines if line.strip())


def parse(text: str) -> hl7.Message:
    if not text.startswith("MSH") or len(text) < 8:
        raise Unusable("100", "not an HL7 v2 message (no MSH segment first)")
    try:
        return hl7.parse(text)
    except Exception:  # noqa: BLE001 - the library raises many kinds on garbage
        raise Unusable("100", "not an HL7 v2 message") from None


def header_only(raw: bytes) -> Frame:
    """A frame that cannot be read as text in its character set, read for its header alone."""
    text = raw.decode("latin-1").replace("\r\n", "\r").replace("\n", "\r")
    try:
        return Frame(text, parse(text))
    except Unusable:
        return Frame(text)


# --- reading SIU fields --------------------------------------------------------------------------------


def value(message: hl7.Message, segment_id: str, field: int, component: int = 1, repeat: int = 1, sub: int = 1, nth: int = 1) -> str:
    """One unescaped leaf (1-based positions); '' when the message does not have it."""
    try:
        raw = message.extract_field(segment_id, nth, field, repeat, component, sub)
    except (KeyError, IndexError, hl7.exceptions.HL7Exception):
        return ""
    return message.unescape(str(raw)).strip() if raw else ""


def has(message: hl7.Message, segment_id: str) -> bool:
    return any(str(s[0]) == segment_id for s in message)


def parse_ts(text: str, zone: dt.tzinfo) -> dt.datetime | None:
    """An HL7 TS (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]); without an offset it is site-local time."""
    text = text.strip()
    offset = None
    for sign in "+-":
        if sign in text[8:]:
            text, tail = text[: text.rindex(sign)], text[text.rindex(sign):]
            offset = dt.datetime.strptime(tail, "%z").tzinfo
    digits = text.split(".")[0]
    formats = {8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    if len(digits) not in formats:
        return None
    try:
        moment = dt.datetime.strptime(digits, formats[len(digits)])
    except ValueError:
        return None
    return moment.replace(tzinfo=offset or zone)


def start_of(message: hl7.Message, zone: dt.tzinfo) -> dt.datetime | None:
    """SCH-11.4 (TQ start), else TQ1-7, else the first resource's start (AIS-4, AIG-8, AIL-6, AIP-6)."""
    candidates = [value(message, "SCH", 11, 4), value(message, "TQ1", 7), value(message, "AIS", 4),
                  value(message, "AIG", 8), value(message, "AIL", 6), value(message, "AIP", 6)]  # fmt: skip
    for text in candidates:
        if text and (moment := parse_ts(text, zone)) is not None:
            return moment
    return None


def clinician_of(message: hl7.Message) -> str:
    """The first AIP's person (prefix given family), else the first AIG's resource text."""
    if has(message, "AIP"):
        parts = [value(message, "AIP", 3, 6), value(message, "AIP", 3, 3), value(message, "AIP", 3, 2)]
        if name := " ".join(p for p in parts if p):
            return name
    return value(message, "AIG", 3, 2) or value(message, "AIG", 3, 1)


def location_of(message: hl7.Message) -> str:
    """The first AIL's location (PL.9 description, else room, else point of care), else PV1-3."""
    for segment_id, field in (("AIL", 3), ("PV1", 3)):
        for component in (9, 2, 1):
            if text := value(message, segment_id, field, component):
                return text
    return ""


def patient_identifier(message: hl7.Message) -> str:
    """PID-3's repetition typed MR, else its first."""
    for repeat in range(1, 10):
        number = value(message, "PID", 3, 1, repeat)
        if not number:
            break
        if value(message, "PID", 3, 5, repeat) == "MR":
            return number
    return value(message, "PID", 3, 1)


def demographics_of(message: hl7.Message) -> Demographics:
    address = Address(
        street=value(message, "PID", 11, 1), city=value(message, "PID", 11, 3), state=value(message, "PID", 11, 4),
        postal_code=value(message, "PID", 11, 5), country=value(message, "PID", 11, 6),
    )  # fmt: skip
    phone = email = ""
    for repeat in range(1, 6):
        use, number, mail = (value(message, "PID", 13, c, repeat) for c in (2, 1, 4))
        if not (number or mail or use):
            break
        if mail or use == "NET":
            email = email or mail
        else:
            phone = phone or number or value(message, "PID", 13, 12, repeat)
    return Demographics(address=address if any(address.model_dump().values()) else None, phone=phone, email=email)


class AppointmentFields(TypedDict, total=False):
    """What an SIU message says of an appointment (the rest stays as known)."""

    start: dt.datetime
    clinician: str
    location: str
    patient_id: str
    mrn: str
    family: str
    given: str
    birth_date: dt.date
    demographics: Demographics


def appointment_from(message: hl7.Message, key: str, known: ScheduledAppointment | None, zone: dt.tzinfo) -> ScheduledAppointment:
    """The appointment an S12/S13/S14 describes, over what is `known` of it."""
    start = start_of(message, zone) or (known.start if known else None)
    if start is None:
        raise Unusable("101", "no appointment start (SCH-11.4, TQ1-7 or AIS-4)", "SCH^1^11")
    fields: AppointmentFields = {"start": start}
    if clinician := clinician_of(message):
        fields["clinician"] = clinician
    if location := location_of(message):
        fields["location"] = location
    if has(message, "PID"):
        patient_id = patient_identifier(message)
        birth = value(message, "PID", 7)
        given = " ".join(p for p in (value(message, "PID", 5, 2), value(message, "PID", 5, 3)) if p)
        family = value(message, "PID", 5, 1)
        if not (patient_id and family and birth):
            raise Unusable("101", "PID without identifier, family name or birth date", "PID^1^3")
        try:
            birth_date = dt.datetime.strptime(birth[:8], "%Y%m%d").date()
        except ValueError:
            raise Unusable("102", "PID-7 is not a date", "PID^1^7") from None
        fields.update(AppointmentFields(patient_id=patient_id, mrn=patient_id, family=family, given=given,
                                        birth_date=birth_date, demographics=demographics_of(message)))  # fmt: skip
    elif known is None:
        raise Unusable("101", "no PID for an appointment not on file", "PID^1^3")
    if known is not None:
        return dataclasses.replace(known, **fields)
    return ScheduledAppointment(appointment_id=key, **(AppointmentFields(clinician="", location="") | fields))


# --- applying one message --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    event: str
    control_id: str
    put: ScheduledAppointment | None = None
    dropped: str = ""
    duplicate: bool = False


class SiuFeed:
    def __init__(self, store: Store, cache: ScheduleCache, facility: str, listen: tuple[str, int],
                 tls: ssl.SSLContext | None = None):  # fmt: skip
        self.store = store
        self.cache = cache
        self.facility = facility
        self.host, self.port = listen
        self.tls = tls
        self.server: asyncio.Server | None = None
        self.counts: dict[str, int] = {"AA": 0, "AE": 0, "duplicate": 0}

    async def start(self) -> int:
        cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=KEEP_CONTROL_IDS_DAYS)).isoformat()
        await self.store.write(lambda c: c.execute("DELETE FROM siu_messages WHERE received_at < ?", (cutoff,)))
        self.server = await start_hl7_server(self._client, self.host, self.port, limit=MAX_FRAME, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("SIU feed listening", extra={"listen": f"{self.host}:{self.port}", "tls": self.tls is not None})
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _client(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        try:
            while not writer.is_closing():
                try:
                    raw = await reader.readblock()
                except hl7.mllp.InvalidBlockError:
                    raw = b""  # bytes outside a frame: answered as garbage, the connection goes on
                writer.writeblock((await self.handle(raw)).encode("utf-8"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, ssl.SSLError):
            pass  # the peer left, or sent a frame past MAX_FRAME (the stream is out of step: drop it)
        finally:
            writer.close()

    async def handle(self, raw: bytes) -> str:
        """The ACK for one frame; never raises."""
        frame = Frame("")
        try:
            frame = Frame(text := decode(raw))
            frame = Frame(text, parse(text))
            applied = await self.store.write(lambda conn: self._apply(conn, frame.message))
        except Unusable as problem:
            frame = frame if frame.message is not None else header_only(raw)
            self.counts["AE"] += 1
            log.warning("SIU message not used", extra={"error": problem.code, "event": frame.header(9)[:20]})
            return self.ack(frame, "AE", problem)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the feed
            self.counts["AE"] += 1
            log.error("SIU message failed", extra={"error": type(exc).__name__})
            return self.ack(frame, "AE", Unusable("207", "application internal error"))
        if applied.put is not None:
            self.cache.put(applied.put)
        if applied.dropped:
            self.cache.drop(applied.dropped)
        self.counts["duplicate" if applied.duplicate else "AA"] += 1
        log.info("SIU message applied", extra={"event": applied.event, "control_id": applied.control_id,
                                               "duplicate": applied.duplicate})  # fmt: skip
        return self.ack(frame, "AA")

    def _apply(self, conn: sqlite3.Connection, message: hl7.Message) -> Applied:
        kind, event = value(message, "MSH", 9, 1), value(message, "MSH", 9, 2)
        if kind != "SIU":
            raise Unusable("200", f"unsupported message type {kind[:3]!r}: this feed takes SIU", "MSH^1^9")
        if event not in EVENTS:
            raise Unusable("201", f"unsupported SIU event {event[:3]!r}", "MSH^1^9")
        control_id = value(message, "MSH", 10)
        if not control_id:
            raise Unusable("101", "no message control id (MSH-10)", "MSH^1^10")
        if not has(message, "SCH"):
            raise Unusable("100", "no SCH segment", "SCH^1")
        if conn.execute("SELECT 1 FROM siu_messages WHERE control_id = ?", (control_id,)).fetchone():
            return Applied(event, control_id, duplicate=True)
        placer, filler = value(message, "SCH", 1), value(message, "SCH", 2)
        if not (placer or filler):
            raise Unusable("101", "no appointment id (SCH-1 placer or SCH-2 filler)", "SCH^1^1")
        key = self._key(conn, placer, filler)
        status = EVENTS[event]
        now = dt.datetime.now(dt.UTC).isoformat()
        result = Applied(event, control_id)
        if status == "booked" or status == "noshow":
            known = self.cache.stored(conn, key)
            if status == "booked" or known is None or has(message, "PID"):
                appointment = appointment_from(message, key, known, self.cache.zone)
                self.cache.store_row(conn, appointment)
                result = Applied(event, control_id, put=appointment)
        else:
            conn.execute("DELETE FROM appointments WHERE appointment_id = ?", (key,))
            result = Applied(event, control_id, dropped=key)
        conn.execute(
            "INSERT INTO siu_appointments(appointment_id, placer_id, filler_id, status, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(appointment_id) DO UPDATE SET status = excluded.status,"
            " placer_id = COALESCE(NULLIF(excluded.placer_id, ''), placer_id),"
            " filler_id = COALESCE(NULLIF(excluded.filler_id, ''), filler_id), updated_at = excluded.updated_at",
            (key, placer, filler, status, now),
        )
        conn.execute("INSERT INTO siu_messages(control_id, received_at) VALUES (?, ?)", (control_id, now))
        return result

    @staticmethod
    def _key(conn: sqlite3.Connection, placer: str, filler: str) -> str:
        """The appointment's key: one already on file under either id, else the filler id, else the placer's."""
        row = conn.execute(
            "SELECT appointment_id FROM siu_appointments WHERE (filler_id = ? AND ? != '') OR (placer_id = ? AND ? != '')"
            " ORDER BY filler_id = ? DESC LIMIT 1",
            (filler, filler, placer, placer, filler),
        ).fetchone()
        return row[0] if row else f"siu-{filler or placer}"

    # --- the acknowledgement -----------------------------------------------------------------------------

    def ack(self, frame: Frame, code: str, problem: Unusable | None = None) -> str:
        """ACK^<event>^ACK (v2.5.1) to the sender; MSA-2 echoes MSH-10 (empty for a frame that had none)."""
        event = frame.header(9).split("^")[1] if "^" in frame.header(9) else ""
        body = [segment("MSA", code, frame.header(10))]
        if problem is not None:
            body.append(segment("ERR", "", problem.location, f"{problem.code}^{escape(problem.text)}^HL70357", "E"))
        msh = segment(
            "MSH", "^~\\&", "LOBBY-CHECKIN", escape(self.facility), frame.header(3), frame.header(4),
            timestamp(dt.datetime.now(dt.UTC)), "", f"ACK^{event}^ACK", uuid.uuid4().hex[:20],
            "P", VERSION, "", "", "", "", "", "" if all(s.isascii() for s in (frame.header(3), frame.header(4))) else UTF8,
        )  # fmt: skip
        return "\r".join([msh, *body])
