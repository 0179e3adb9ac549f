"""Today's schedule, cached: lookups match against it, and it survives the central system being down.

A source is anything with `async fetch_schedule(day: datetime.date) -> list[ScheduledAppointment]`:
the central connector (edge_agent/central/) or `DemoSchedule` (synthetic patients, for the demo and
tests). `ScheduleCache.run()` refreshes from the source every `refresh_s`; each successful fetch
replaces the day's rows in the `appointments` table (patient details sealed), and at start-up the cache
loads what was stored, so lookups keep working after a restart while the source is unreachable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import sqlite3
import time
import zoneinfo
from typing import Callable, Protocol

from pydantic import TypeAdapter

from . import matching
from lobby_core.appointments import ScheduledAppointment
from lobby_core.contract import Address, CoverageInfo, Demographics
from lobby_core.demo import DEMO_PATIENTS
from .json_types import JsonObject
from .store import Store

log = logging.getLogger(__name__)
_ADAPTER = TypeAdapter(ScheduledAppointment)
RETRY_S = 15.0


def appointment_to_json(appointment: ScheduledAppointment) -> JsonObject:
    """JSON-ready dict (dates as ISO strings); `appointment_from_json` reverses it."""
    data: JsonObject = _ADAPTER.dump_python(appointment, mode="json")
    return data


def appointment_from_json(data: JsonObject) -> ScheduledAppointment:
    return _ADAPTER.validate_python(data)


class ScheduleSource(Protocol):
    async def fetch_schedule(self, day: dt.date) -> list[ScheduledAppointment]: ...


class ScheduleCache:
    """Today's appointments. `source` is pulled every refresh_s; None means they are pushed (the SIU feed
    writes rows with `store_row` and calls `put` / `drop`), and a refresh only reloads the day's rows."""

    def __init__(self, store: Store, source: ScheduleSource | None, timezone: str, refresh_s: float):
        self.store = store
        self.source = source
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.refresh_s = refresh_s
        self.day: dt.date | None = None
        self.appointments: list[ScheduledAppointment] = []
        self._by_id: dict[str, ScheduledAppointment] = {}
        self.last_refresh_at: float | None = None
        self.last_error: str = ""

    def today(self) -> dt.date:
        return dt.datetime.now(self.zone).date()

    def _install(self, day: dt.date, appointments: list[ScheduledAppointment]) -> None:
        self.day = day
        self.appointments = sorted(appointments, key=lambda a: a.start)
        self._by_id = {a.appointment_id: a for a in self.appointments}

    def load_cached(self, day: dt.date | None = None) -> int:
        """Load the stored rows of `day` (default today); returns how many."""
        day = day or self.today()
        rows = self.store.read_sync(
            lambda c: c.execute(
                "SELECT appointment_id, details_sealed FROM appointments WHERE day = ?", (day.isoformat(),)
            ).fetchall()
        )
        self._install(day, [
            appointment_from_json(self.store.unseal_json(sealed, f"appointment:{appointment_id}"))
            for appointment_id, sealed in rows
        ])  # fmt: skip
        return len(rows)

    async def refresh(self) -> bool:
        """Fetch today's schedule from the source and store it; False (cache kept) when that fails."""
        day = self.today()
        if self.source is None:
            await asyncio.to_thread(self.load_cached, day)
            self.last_refresh_at = time.time()
            return True
        try:
            appointments = await self.source.fetch_schedule(day)
        except Exception as exc:  # noqa: BLE001 - any failure of the source keeps the cache
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("schedule refresh failed", extra={"error": type(exc).__name__})
            if self.day != day:
                self.load_cached(day)
            return False
        self._install(day, appointments)  # lookups use the fresh schedule even if it cannot be stored
        try:
            await self.store.write(lambda conn: self._replace_day(conn, day, appointments))
        except sqlite3.DatabaseError as exc:  # disk full, lock held: retried soon, the loop goes on
            self.last_error = f"store: {type(exc).__name__}"
            log.warning("schedule refresh not stored", extra={"error": type(exc).__name__})
            return False
        self.last_refresh_at = time.time()
        self.last_error = ""
        log.info("schedule refreshed", extra={"appointments": len(appointments), "day": day.isoformat()})
        return True

    _UPSERT = (
        "INSERT OR REPLACE INTO appointments(appointment_id, day, start, clinician, location, patient_key,"
        " details_sealed, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )

    def _row(self, a: ScheduledAppointment, day: dt.date, now: str) -> tuple[str, str, str, str, str, str, bytes, str]:
        return (a.appointment_id, day.isoformat(), a.start.isoformat(), a.clinician, a.location,
                matching.patient_key(self.store.key, a.family, a.given, a.birth_date),
                self.store.seal_json(appointment_to_json(a), f"appointment:{a.appointment_id}"), now)  # fmt: skip

    def _replace_day(self, conn: sqlite3.Connection, day: dt.date, appointments: list[ScheduledAppointment]) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        conn.execute("DELETE FROM appointments WHERE day = ?", (day.isoformat(),))
        conn.executemany(self._UPSERT, [self._row(a, day, now) for a in appointments])

    # --- pushed appointments (the SIU feed) ------------------------------------------------------------

    def day_of(self, appointment: ScheduledAppointment) -> dt.date:
        return appointment.start.astimezone(self.zone).date()

    def store_row(self, conn: sqlite3.Connection, appointment: ScheduledAppointment) -> None:
        """Inside a write: store one appointment under its own (site-local) day."""
        now = dt.datetime.now(dt.UTC).isoformat()
        conn.execute(self._UPSERT, self._row(appointment, self.day_of(appointment), now))

    def stored(self, conn: sqlite3.Connection, appointment_id: str) -> ScheduledAppointment | None:
        row = conn.execute("SELECT details_sealed FROM appointments WHERE appointment_id = ?", (appointment_id,)).fetchone()
        if row is None:
            return None
        return appointment_from_json(self.store.unseal_json(row[0], f"appointment:{appointment_id}"))

    def put(self, appointment: ScheduledAppointment) -> None:
        """After its row committed: the appointment joins (or, moved to another day, leaves) today's lookups."""
        others = [a for a in self.appointments if a.appointment_id != appointment.appointment_id]
        if self.day is not None and self.day_of(appointment) == self.day:
            others.append(appointment)
        self._install(self.day or self.today(), others)

    def drop(self, appointment_id: str) -> None:
        self._install(self.day or self.today(), [a for a in self.appointments if a.appointment_id != appointment_id])

    async def run(self, first: "asyncio.Future[bool] | None" = None, beat: Callable[[], None] | None = None) -> None:
        """Refresh now (or await the `first` refresh already started), then every refresh_s (sooner after
        a failure, and just after midnight). `beat()` after every attempt: the loop is alive (whether the
        source answered is `last_refresh_at`'s business)."""
        while True:
            if first is not None:
                ok, first = await first, None
            else:
                ok = await self.refresh()
            if beat is not None:
                beat()
            now = dt.datetime.now(self.zone)
            midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0, 0, 1), self.zone)
            wait = self.refresh_s if ok else min(self.refresh_s, RETRY_S)
            await asyncio.sleep(max(1.0, min(wait, (midnight - now).total_seconds())))

    # --- lookups -------------------------------------------------------------------------------------

    def get(self, appointment_id: str) -> ScheduledAppointment | None:
        return self._by_id.get(appointment_id) if self.day == self.today() else None

    def find(self, family: str, given: str, birth_date: dt.date) -> list[ScheduledAppointment]:
        """Today's appointments whose patient matches (see edge_agent.matching)."""
        if self.day != self.today():
            return []
        return [
            a
            for a in self.appointments
            if matching.identity_matches(
                family, given, birth_date,
                scheduled_family=a.family, scheduled_given=a.given, scheduled_birth_date=a.birth_date,
            )  # fmt: skip
        ]


# --- the demo source ------------------------------------------------------------------------------

DEMO_CLINICIANS = [("Dr. Patel", "Room 1"), ("Dr. Okonkwo", "Room 2"), ("NP Alvarez", "Room 3")]
DEMO_PAYORS = ["Blue Harbor Health", "Evergreen Mutual", "Medicare", "Sunrise Medicaid"]
DEMO_STREETS = ["12 Elm St", "401 River Rd", "77 Oak Ave", "9 Harbor Way", "250 Main St"]


class DemoSchedule:
    """Today's appointments for the synthetic patients, the same for a given site and day."""

    def __init__(self, site_id: str, timezone: str):
        self.site_id = site_id
        self.zone = zoneinfo.ZoneInfo(timezone)

    async def fetch_schedule(self, day: dt.date) -> list[ScheduledAppointment]:
        return demo_appointments(self.site_id, day, self.zone)


def demo_appointments(site_id: str, day: dt.date, zone: zoneinfo.ZoneInfo) -> list[ScheduledAppointment]:
    rng = random.Random(f"{site_id}/{day.isoformat()}")
    first = dt.datetime.combine(day, dt.time(8, 0), zone)
    appointments = []
    for index, (family, given, birth_date) in enumerate(DEMO_PATIENTS):
        clinician, location = DEMO_CLINICIANS[index % len(DEMO_CLINICIANS)]
        new_patient = index % 7 == 5
        coverage = None
        if not new_patient:
            coverage = CoverageInfo(
                payor=rng.choice(DEMO_PAYORS), member_id=f"XG{rng.randrange(10**8):08d}",
                group=f"GRP-{rng.randrange(1000):03d}", source="file",
            )  # fmt: skip
        appointments.append(
            ScheduledAppointment(
                appointment_id=f"demo-{day:%Y%m%d}-{index + 1:03d}",
                start=first + dt.timedelta(minutes=30 * index),
                clinician=clinician,
                location=location,
                patient_id=f"demo-patient-{index + 1:03d}",
                family=family,
                given=given,
                birth_date=dt.date.fromisoformat(birth_date),
                demographics=Demographics(
                    address=Address(street=rng.choice(DEMO_STREETS), city="Springfield", state="IL",
                                    postal_code=f"627{rng.randrange(100):02d}", country="US"),
                    phone=f"555-01{rng.randrange(100):02d}",
                ),  # fmt: skip
                coverage=coverage,
                new_patient=new_patient,
                mrn=f"MRN{100000 + index}",
            )
        )
    return appointments
