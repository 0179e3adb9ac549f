"""Which of a central server's appointments are this site's, as Appointment searches for one day.

An organisation often runs one FHIR server for several sites: the search names the site's locations
and/or practitioners (several values of one parameter mean "any of them"), and the day runs from
midnight to midnight in the site's time zone. `whole-server` (one site per server) only when the site
file says so.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from ..config import SiteConfig

PAGE_SIZE = 200


@dataclass(frozen=True)
class ScheduleScope:
    locations: tuple[str, ...] = ()
    practitioners: tuple[str, ...] = ()
    whole_server: bool = False
    timezone: str = "UTC"

    @classmethod
    def of(cls, config: SiteConfig) -> "ScheduleScope":
        schedule = config.schedule
        return cls(
            tuple(schedule.locations), tuple(schedule.practitioners), schedule.scope == "whole-server",
            config.site.timezone,
        )  # fmt: skip

    def day_bounds(self, day: dt.date) -> list[tuple[str, str]]:
        zone = zoneinfo.ZoneInfo(self.timezone)
        start = dt.datetime.combine(day, dt.time(0, 0), zone)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), zone)
        return [("date", f"ge{start.isoformat()}"), ("date", f"lt{end.isoformat()}")]

    def filters(self) -> list[list[tuple[str, str]]]:
        """One search per kind of scope (their results are joined); [] when there is no scope at all."""
        searches = []
        if self.locations:
            searches.append([("location", ",".join(self.locations))])
        if self.practitioners:
            searches.append([("practitioner", ",".join(self.practitioners))])
        if not searches and self.whole_server:
            searches.append([])
        return searches

    def searches(self, day: dt.date) -> list[list[tuple[str, str]]]:
        """The Appointment searches for `day`, each with the day's bounds and a page size."""
        return [scope + self.day_bounds(day) + [("_count", str(PAGE_SIZE))] for scope in self.filters()]

    def describe(self) -> str:
        if self.locations or self.practitioners:
            named = [*(f"location={ref}" for ref in self.locations), *(f"practitioner={ref}" for ref in self.practitioners)]
            return ", ".join(named)
        return "whole server (every appointment on it)" if self.whole_server else "none"

    def problems(self, supported: frozenset[str] | None) -> list[str]:
        """What the server's Appointment search parameters (None: not listed) cannot do for this scope."""
        if supported is None:
            return []
        needed = {"date"} | {"location" for _ in self.locations[:1]} | {"practitioner" for _ in self.practitioners[:1]}
        missing = sorted(needed - supported)
        return [f"schedule: the server's Appointment search has no {name!r} parameter" for name in missing]
