"""Synthetic schedules for the FHIR sandbox: Patients, Appointments and Coverage for one day.

Names and dates are invented from a seeded random generator, so a run is reproducible and no real
person is involved. Used by the sync tests, the drain benchmark and the demo.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

FAMILIES = ["García", "Nguyen", "Smith", "O'Brien", "Kowalski", "Okafor", "Müller", "Haddad", "Silva", "Kim",
            "Johnson", "Rossi", "Dubois", "Tanaka", "Ivanova", "López-Pérez", "Andersen", "Cohen", "Patel", "Mwangi"]
GIVENS = ["Maria", "Anh", "John", "Aoife", "Piotr", "Chidi", "Lena", "Omar", "Ana", "Min-jun",
          "Grace", "Luca", "Chloé", "Yuki", "Olga", "José", "Freja", "Noa", "Priya", "Wanjiru"]
CLINICIANS = ["Dr. Rivera", "Dr. Chen", "Dr. Adeyemi", "Dr. Novak"]
ROOMS = ["Suite 1", "Suite 2", "Suite 3"]
MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"


def day_schedule(day: dt.date, count: int, timezone: str = "UTC", seed: int = 7) -> list[dict]:
    """`count` appointments on `day` (from 08:00 site time, every 2 minutes or closer so that all fit
    before 20:00), each with its Patient and, for two in three, a Coverage on file. Ids are stable:
    pat-N, appt-N, cov-N."""
    rng = random.Random(seed)
    tz = zoneinfo.ZoneInfo(timezone)
    opening = dt.datetime.combine(day, dt.time(8, 0), tz)
    step = dt.timedelta(seconds=min(120.0, 12 * 3600 / max(count, 1)))
    resources: list[dict] = []
    for n in range(count):
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 33000))
        patient_id, appointment_id = f"pat-{n}", f"appt-{n}"
        resources.append(
            {
                "resourceType": "Patient",
                "id": patient_id,
                "identifier": [{"type": MR, "system": "urn:sandbox:mrn", "value": f"MRN{100000 + n}"}],
                "name": [{"family": rng.choice(FAMILIES), "given": [rng.choice(GIVENS)]}],
                "birthDate": birth.isoformat(),
                "address": [{"line": [f"{rng.randrange(1, 999)} Elm Street"], "city": "Springfield",
                             "state": "IL", "postalCode": "62701", "country": "USA"}],
                "telecom": [{"system": "phone", "value": f"555-01{n % 100:02d}"}],
            }
        )
        start = (opening + n * step).replace(microsecond=0)
        resources.append(
            {
                "resourceType": "Appointment",
                "id": appointment_id,
                "status": "booked",
                "start": start.isoformat(),
                "end": (start + dt.timedelta(minutes=15)).isoformat(),
                "participant": [
                    {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
                    {"actor": {"reference": f"Practitioner/pr-{n % 4}", "display": CLINICIANS[n % 4]}, "status": "accepted"},
                    {"actor": {"reference": f"Location/loc-{n % 3}", "display": ROOMS[n % 3]}, "status": "accepted"},
                ],
            }
        )
        if n % 3:
            resources.append(
                {
                    "resourceType": "Coverage",
                    "id": f"cov-{n}",
                    "status": "active",
                    "beneficiary": {"reference": f"Patient/{patient_id}"},
                    "payor": [{"display": rng.choice(["Acme Health", "Blue River", "Medicare"])}],
                    "subscriberId": f"M{rng.randrange(10**7, 10**8)}",
                    "class": [{"type": {"coding": [{"system": COVERAGE_CLASS, "code": "group"}]}, "value": "G-100"}],
                }
            )
    return resources
