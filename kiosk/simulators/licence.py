"""AAMVA licence text, as a PDF417 scanner sends it: the sample corpus's encoder and a demo licence.

`build` lays out the header, subfile designators and subfiles; `elements_for` gives the data elements
of one person for an AAMVA version (1-11) in US or Canadian style; `licence_text` is a current US
driver's licence for a person, which the simulated scanner can "scan" (`lobby.command("scan", [text])`).
"""

from __future__ import annotations

import datetime as dt

# family, first, middle, birth (y, m, d), sex 1/2/9, street, city, state, postal code, licence number
Person = tuple[str, str, str, tuple[int, int, int], str, str, str, str, str, str]
ISSUERS = {"CA": "636014", "TX": "636015", "NY": "636001", "FL": "636010", "QC": "604428", "ON": "636012", "IL": "636035"}


def mdy(date):
    return f"{date[1]:02d}{date[2]:02d}{date[0]:04d}"


def ymd(date):
    return f"{date[0]:04d}{date[1]:02d}{date[2]:02d}"


def elements_for(version, person: Person, canadian, subfile, expiry=(2031, 7, 4)):
    family, first, middle, birth, sex, street, city, state, postal, number = person
    fmt = ymd if canadian else mdy
    country = "CAN" if canadian else "USA"
    if version == 1:
        return [
            ("DAQ", number), ("DAA", f"{family},{first},{middle}"), ("DAG", street), ("DAI", city), ("DAJ", state),
            ("DAK", postal), ("DAR", "D"), ("DBA", ymd(expiry)), ("DBB", ymd(birth)),
            ("DBC", {"1": "M", "2": "F"}.get(sex, sex)), ("DBD", "20200101"),
        ]
    common = [
        ("DBA", fmt(expiry)), ("DBB", fmt(birth)), ("DBD", fmt((2021, 3, 1))), ("DBC", sex), ("DAY", "BRO"),
        ("DAU", "068 in"), ("DAG", street), ("DAI", city), ("DAJ", state), ("DAK", postal), ("DAQ", number),
        ("DCF", "DOC" + number[-4:]), ("DCG", country),
    ]
    if subfile == "DL":
        common = [("DCA", "C"), ("DCB", "NONE"), ("DCD", "NONE")] + common
    if version in (2, 3):
        given = f"{first},{middle}" if version == 2 else f"{first} {middle}"
        return common[:3] + [("DCS", family), ("DCT", given.strip(", "))] + common[3:]
    names = [("DCS", family), ("DDE", "N"), ("DAC", first), ("DDF", "N"), ("DAD", middle or "NONE"), ("DDG", "N")]
    return common[:3] + names + common[3:]


def build(version, issuer, subfile, elements, jurisdiction_version=None, marker="ANSI ", extra_subfile=True,
          separator="\n", terminator="\r", offsets_wrong=False, subfile_prefix=None):
    """`jurisdiction_version` None: "00" from version 2 on, none in version 1 (a string is always written).
    `subfile_prefix` None: the body starts with its type, as the standard says ("" or "DL\\n" as seen)."""
    if jurisdiction_version is None:
        jurisdiction_version = "00" if version >= 2 else ""
    prefix = subfile if subfile_prefix is None else subfile_prefix
    body = prefix + separator.join(f"{key}{value}" for key, value in elements) + terminator
    subfiles = [(subfile, body)]
    if extra_subfile:
        subfiles.append(("ZZ", "ZZZZA01" + separator + "ZZBNONE" + terminator))
    count = len(subfiles)
    head = "@\n\x1e\r" + marker + issuer + f"{version:02d}" + jurisdiction_version + f"{count:02d}"
    offset = len(head) + 10 * count
    designators = ""
    for kind, text in subfiles:
        designators += f"{kind}{(offset + 7 if offsets_wrong else offset):04d}{len(text):04d}"
        offset += len(text)
    return head + designators + "".join(text for _, text in subfiles)


def licence_text(family: str, given: str, birth: dt.date, *, street: str = "1 MAIN ST", city: str = "SPRINGFIELD",
                 state: str = "IL", postal_code: str = "627010000", number: str = "D12345678901") -> str:
    """A valid, unexpired AAMVA version 10 US driver's licence (the names upper-cased, as printed)."""
    first, _, middle = given.upper().partition(" ")
    person = (family.upper(), first, middle, (birth.year, birth.month, birth.day), "9", street, city, state, postal_code, number)
    expiry = (dt.date.today().year + 5, 1, 1)
    return build(10, ISSUERS[state], "DL", elements_for(10, person, False, "DL", expiry=expiry), jurisdiction_version="01")


def with_noise_around_separators(text: str, before: str, after: str) -> str:
    """`text` as some scanners send it: control characters around every separator (offsets unchanged)."""
    return "".join(f"{before}{char}{after}" if char in "\n\r\x1e" else char for char in text)
