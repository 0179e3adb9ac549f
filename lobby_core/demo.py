"""The demo's synthetic patients: the agent's demo schedule (`schedule.source = "demo"`) books them, and the
kiosk's autopilot (`kiosk run --autopilot N`) walks them through check-in.

Both are runtime features of the installed apps (tools/ is not in the wheel), so the list lives in the
shared package, as plain data. Synthetic people only. They cover what matching must handle: accents,
hyphens, apostrophes, compound surnames, particles, and two patients who share a surname and a birth date.
"""

from __future__ import annotations

# (family name, given names, birth date ISO 8601)
DEMO_PATIENTS: list[tuple[str, str, str]] = [
    ("García López", "María José", "1956-03-14"),
    ("O'Neil-Smith", "Jean-Luc", "1971-11-02"),
    ("Nguyễn", "Anh", "1990-07-21"),
    ("Nguyen", "An", "1990-07-21"),
    ("Müller", "Jürgen", "1948-01-30"),
    ("Kowalski", "Zoë", "2001-05-09"),
    ("van der Berg", "Pieter", "1965-09-17"),
    ("Ní Bhriain", "Siobhán", "1983-12-24"),
    ("Smith", "John", "1975-04-01"),
    ("Smith", "Jane", "1979-08-08"),
    ("Johnson", "Robert", "1944-02-29"),
    ("Okafor", "Chinwe", "1995-10-10"),
    ("Dubois", "Amélie", "1988-06-15"),
    ("Rossi", "Giulia", "1962-03-03"),
    ("Haddad", "Omar", "1959-08-19"),
    ("Tanaka", "Yui", "2010-01-05"),
    ("Da Silva Santos", "João Pedro", "1968-12-01"),
    ("Schmidt", "Anna-Lena", "1992-02-17"),
]

# The demo schedule's rooms as each language names them (the site config's [kiosk.rooms]).
_ROOM_WORD = {
    "en": "Room {n}", "es": "Sala {n}", "zh-Hans": "{n}号诊室", "zh-Hant": "{n}號診間", "vi": "Phòng {n}",
    "ko": "{n}번 진료실", "tl": "Silid {n}", "ru": "Кабинет {n}", "ar": "الغرفة {n}", "ht": "Sal {n}",
    "fr": "Salle {n}", "pt": "Sala {n}", "de": "Raum {n}",
}  # fmt: skip
DEMO_ROOMS: dict[str, dict[str, str]] = {
    f"Room {n}": {language: word.format(n=n) for language, word in _ROOM_WORD.items()} for n in (1, 2, 3)
}


def rooms_toml(rooms: dict[str, dict[str, str]] = DEMO_ROOMS) -> str:
    """`[kiosk.rooms]` for a site config: one line per room, its name in each language."""
    lines = ["[kiosk.rooms]"]
    for room, names in rooms.items():
        entries = ", ".join(f'"{language}" = "{name}"' for language, name in names.items())
        lines.append(f'"{room}" = {{{entries}}}')
    return "\n".join(lines) + "\n"
