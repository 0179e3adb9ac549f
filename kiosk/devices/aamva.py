"""Read the AAMVA DL/ID barcode text (PDF417 on US and Canadian licences and ID cards), versions 1-11.

`parse(text)` never raises: it returns an `AamvaResult` with the identity it could read and, in
`problems`, plain-language notes for the desk about whatever it could not read or had to guess.
Elements are located by their ids, not by the header's offsets, because real barcodes break the
standard: missing or replaced separators, CRLF, `AAMVA`/`AMVA` in place of `ANSI `, wrong offsets,
padded values, letters where digits belong.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .identity import Identity

# Every element id defined by AAMVA CDS 2000-2025 (mandatory and optional), used to re-split text whose
# separators are missing.
ELEMENT_IDS = frozenset(
    """DAA DAB DAC DAD DAE DAF DAG DAH DAI DAJ DAK DAL DAM DAN DAO DAP DAQ DAR DAS DAT DAU DAV DAW DAX DAY DAZ
    DBA DBB DBC DBD DBE DBF DBG DBH DBI DBJ DBK DBL DBM DBN DBO DBP DBQ DBR DBS DCA DCB DCD DCE DCF DCG DCH
    DCI DCJ DCK DCL DCM DCN DCO DCP DCQ DCR DCS DCT DCU DDA DDB DDC DDD DDE DDF DDG DDH DDI DDJ DDK DDL DDM
    DDN""".split()
)
# Ids that also occur inside names and street words; without separators they only start a field after a
# digit or punctuation.
WORDLIKE_IDS = frozenset("DAB DAE DAF DAH DAI DAK DAL DAM DAN DAO DAP DAR DAS DAT DAU DAV DAW DAY DAZ".split())
FIXED_LENGTHS = {"DAJ": 2, "DBA": 8, "DBB": 8, "DBD": 8, "DBC": 1, "DCG": 3, "DDE": 1, "DDF": 1, "DDG": 1}
# The order the standard recommends, for the word-like ids that follow free-text fields.
USUAL_SUCCESSORS = {"DAG": ("DAH", "DAI"), "DAH": ("DAI",), "DAI": ("DAJ",), "DAA": ("DAG",), "DAB": ("DAC",)}
CANADIAN_JURISDICTIONS = frozenset("AB BC MB NB NL NS NT NU ON PE QC SK YT".split())
EMPTY_VALUES = frozenset({"", "NONE", "UNAVL", "UNAVAIL", "UNKNOWN", "N/A", "NA"})
SEX_CODES = {"1": "M", "2": "F", "9": "X", "M": "M", "F": "F", "X": "X", "U": ""}

LOOKALIKE_DIGITS = str.maketrans("OoIl", "0011")

_HEADER = re.compile(r"(ANSI ?|AAMVA|AMVA)\s*([0-9A-Z]{6})([0-9A-Z]{2})(\d{2})?(\d{2})?")
_DESIGNATOR = re.compile(r"(DL|ID|Z[A-Z0-9])(\d{4})(\d{4})")
_SEPARATORS = re.compile(r"[\n\r\x1e\x1d\x1c]+")
_ELEMENT = re.compile(r"D[A-D][A-Z]")


@dataclass
class AamvaResult:
    identity: Identity
    problems: list[str] = field(default_factory=list)
    subfile_types: list[str] = field(default_factory=list)
    expired: bool = False

    def __repr__(self) -> str:
        return f"AamvaResult(version={self.identity.aamva_version}, problems={len(self.problems)})"


@dataclass
class _Header:
    marker: str
    issuer_id: str
    version: int | None
    entries: int | None
    designators: list[tuple[str, str, str]]
    end: int


def parse(text: str, today: dt.date | None = None) -> AamvaResult:
    """Read licence barcode `text`; see the module docstring. `today` decides whether it has expired."""
    try:
        return _parse(text if isinstance(text, str) else "", today or dt.date.today())
    except Exception:  # noqa: BLE001 - the contract is "never raises"; this is the last line of defence
        return AamvaResult(Identity(source="aamva"), ["the barcode could not be read; please enter details by hand"])


def _parse(text: str, today: dt.date) -> AamvaResult:
    problems: list[str] = []
    text = text.replace("\x00", "")
    if not text.strip():
        return AamvaResult(Identity(source="aamva"), ["the barcode was empty"])
    header = _read_header(text, problems)
    body = text[header.end :] if header else text
    elements, subfile_types = _read_elements(body, problems)
    if header:
        _check_offsets(text, header, problems)
    if not elements:
        problems.append("no licence data found in the barcode")
        return AamvaResult(Identity(source="aamva", issuer_id=header.issuer_id if header else ""), problems)

    version = header.version if header and header.version is not None else _guess_version(elements)
    family, given = _names(elements, version, problems)
    state = _value(elements, "DAJ").upper()
    country = _country(elements, state)
    birth_date = _date(elements, "DBB", "birth date", country, version, problems)
    expiry = _date(elements, "DBA", "expiry date", country, version, problems)
    street = " ".join(part for part in (_value(elements, "DAG"), _value(elements, "DAH")) if part)
    identity = Identity(
        source="aamva",
        family_name=family,
        given_names=given,
        birth_date=birth_date,
        sex=_sex(elements, problems),
        address_street=street or _value(elements, "DAL"),
        address_city=_value(elements, "DAI") or _value(elements, "DAN"),
        address_state=state or _value(elements, "DAO").upper(),
        postal_code=_postal_code(_value(elements, "DAK") or _value(elements, "DAP"), country),
        country=country,
        document_number=_value(elements, "DAQ"),
        expiry_date=expiry,
        issuer_id=header.issuer_id if header else "",
        aamva_version=version,
        extra={"document_type": subfile_types[0] if subfile_types else ""},
    )
    address = (identity.address_street, identity.address_city, identity.address_state, identity.postal_code)
    if any(address) and not all(address):
        problems.append("the address is incomplete")
    for required, label in ((family, "family name"), (identity.document_number, "document number")):
        if not required:
            problems.append(f"{label} missing")
    expired = expiry is not None and expiry < today
    if expired:
        problems.append(f"the document expired on {expiry.isoformat()}")
    return AamvaResult(identity, problems, subfile_types, expired)


# -- header ---------------------------------------------------------------------------------------------


def _read_header(text: str, problems: list[str]) -> _Header | None:
    match = _HEADER.search(text[:80])
    if not match:
        problems.append("no AAMVA header; read the fields by their ids")
        return None
    marker = match.group(1).strip()
    if marker != "ANSI":
        problems.append(f"the header says {marker!r} instead of 'ANSI'")
    if not text[: match.start()].lstrip("\r\n ").startswith("@"):
        problems.append("the compliance indicator '@' or its separators are missing")
    issuer_id = match.group(2) if match.group(2).isdigit() else ""
    if not issuer_id:
        problems.append("the issuer id in the header is not a number")
    version = int(match.group(3)) if match.group(3).isdigit() else None
    if version is None or not 1 <= version <= 11:
        problems.append("the AAMVA version in the header is unreadable")
        version = None
    # Version 1 headers have no jurisdiction version: the two digits after the version are the count.
    if version == 1 or match.group(5) is None:
        entries_text, end = match.group(4), match.end(4) if match.group(4) else match.end(3)
    else:
        entries_text, end = match.group(5), match.end(5)
    entries = int(entries_text) if entries_text else None
    designators = []
    position = end
    while True:
        designator = _DESIGNATOR.match(text, position)
        if not designator:
            break
        designators.append(designator.groups())
        position = designator.end()
        if entries is not None and len(designators) >= entries:
            break
    if entries is not None and len(designators) != entries:
        problems.append(f"the header lists {entries} subfiles but {len(designators)} could be read")
    return _Header(marker, issuer_id, version, entries, designators, position)


def _check_offsets(text: str, header: _Header, problems: list[str]) -> None:
    for kind, offset, _length in header.designators:
        if not kind.startswith("Z") and offset.isdigit():
            if text[int(offset) : int(offset) + 2] != kind:
                problems.append("the subfile offsets in the header are wrong; fields were found by their ids")
                return


# -- elements -------------------------------------------------------------------------------------------


def _read_elements(body: str, problems: list[str]) -> tuple[dict[str, str], list[str]]:
    elements: dict[str, str] = {}
    subfile_types: list[str] = []
    resplit = False
    tokens = _SEPARATORS.split(body)
    # With separators present every token is one element; only a run-on body is cut at element ids.
    run_on = sum(1 for token in tokens if _ELEMENT.search(token[:5])) < 4
    for token in tokens:
        token = token.strip(" \t")
        prefix = re.match(r"(DL|ID|Z[A-Z0-9])(?=[DZ][A-Z0-9]{2})", token)
        if prefix:
            if prefix.group(1) in ("DL", "ID"):
                subfile_types.append(prefix.group(1))
            token = token[2:]
        if token.startswith("Z"):
            continue  # jurisdiction-specific element
        pieces = _split_run_on(token) if run_on else _single_element(token)
        resplit |= len(pieces) > 1
        for element_id, value in pieces:
            elements.setdefault(element_id, value)
    if resplit:
        problems.append("separators between fields are missing; fields were found by their ids")
    return elements, subfile_types


def _single_element(token: str) -> list[tuple[str, str]]:
    return [(token[:3], token[3:].strip())] if token[:3] in ELEMENT_IDS else []


def _split_run_on(token: str) -> list[tuple[str, str]]:
    """One token normally holds one element; a token with no separators inside may hold several."""
    if len(token) < 3 or token[:3] not in ELEMENT_IDS:
        return []
    seen = {token[:3]}
    starts = [0]
    for match in _ELEMENT.finditer(token, 3):
        element_id, index = match.group(), match.start()
        if element_id in ELEMENT_IDS and element_id not in seen and index - starts[-1] >= 3:
            previous = token[starts[-1] : starts[-1] + 3]
            ends_fixed_field = FIXED_LENGTHS.get(previous) == index - starts[-1] - 3
            usual_successor = element_id in USUAL_SUCCESSORS.get(previous, ())
            if element_id in WORDLIKE_IDS and not (ends_fixed_field or usual_successor):
                continue  # "JORDAN", "DAKOTA": letters inside a word, not a new field
            seen.add(element_id)
            starts.append(index)
    return [(token[begin : begin + 3], token[begin + 3 : end].strip()) for begin, end in zip(starts, starts[1:] + [len(token)])]


def _value(elements: dict[str, str], element_id: str) -> str:
    value = elements.get(element_id, "").strip(" ,")
    return "" if value.upper() in EMPTY_VALUES else value


# -- fields ---------------------------------------------------------------------------------------------


def _guess_version(elements: dict[str, str]) -> int | None:
    if "DAC" in elements and "DCS" in elements:
        return None  # version 4 or later, exact version unknown
    return 1 if "DAA" in elements else None


def _names(elements: dict[str, str], version: int | None, problems: list[str]) -> tuple[str, str]:
    family = _value(elements, "DCS") or _value(elements, "DAB")
    first = _value(elements, "DAC")
    middle = _value(elements, "DAD")
    given = " ".join(part for part in (first, middle) if part)
    if not given and _value(elements, "DCT"):
        given = " ".join(part for part in re.split(r"[,\s]+", _value(elements, "DCT")) if part)
    if (not family or not given) and _value(elements, "DAA"):
        full_family, full_given = _full_name(_value(elements, "DAA"), problems)
        family, given = family or full_family, given or full_given
    flags = {"DDE": "family name", "DDF": "first name", "DDG": "middle name"}
    for element_id, label in flags.items():
        if _value(elements, element_id).upper() == "T":
            problems.append(f"the {label} is truncated on the card")
    return family, given


def _full_name(full: str, problems: list[str]) -> tuple[str, str]:
    """Version 1 `DAA`: `LAST,FIRST,MIDDLE,SUFFIX`; without commas the order is a guess."""
    if "," in full:
        parts = [part.strip() for part in full.split(",")]
        return parts[0], " ".join(part for part in parts[1:3] if part)
    words = full.split()
    if len(words) < 2:
        return full, ""
    problems.append("the full name has no commas; the last word was taken as the family name")
    return words[-1], " ".join(words[:-1])


def _country(elements: dict[str, str], state: str) -> str:
    country = _value(elements, "DCG").upper()
    if country in ("USA", "CAN"):
        return country
    return "CAN" if state in CANADIAN_JURISDICTIONS else "USA"


def _date(
    elements: dict[str, str], element_id: str, label: str, country: str, version: int | None, problems: list[str]
) -> dt.date | None:
    raw = _value(elements, element_id)
    if not raw:
        problems.append(f"{label} missing")
        return None
    digits = re.sub(r"[\s/.\-]", "", raw)
    if re.fullmatch(r"[\dOoIl]{8}", digits) and not digits.isdigit():
        digits = digits.translate(LOOKALIKE_DIGITS)
        problems.append(f"{label} had letters where digits belong; read as {digits}")
    if not re.fullmatch(r"\d{8}", digits):
        problems.append(f"{label} unreadable")
        return None
    canadian_first = country == "CAN"
    orders = ("ymd", "mdy") if canadian_first or version == 1 else ("mdy", "ymd")
    for order in orders:
        parsed = _date_in_order(digits, order)
        if parsed:
            if order != orders[0] and version != 1:
                problems.append(f"{label} is in an unexpected date order")
            return parsed
    problems.append(f"{label} unreadable")
    return None


def _date_in_order(digits: str, order: str) -> dt.date | None:
    year, month, day = (
        (digits[:4], digits[4:6], digits[6:]) if order == "ymd" else (digits[4:], digits[:2], digits[2:4])
    )
    try:
        parsed = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return parsed if 1880 <= parsed.year <= 2200 else None


def _sex(elements: dict[str, str], problems: list[str]) -> str:
    raw = _value(elements, "DBC").upper()
    if raw and raw not in SEX_CODES:
        problems.append("sex code unreadable")
    return SEX_CODES.get(raw, "")


def _postal_code(raw: str, country: str) -> str:
    code = raw.strip().upper()
    if country == "CAN" or re.fullmatch(r"[A-Z]\d[A-Z]\s?\d[A-Z]\d\w*", code):
        compact = code.replace(" ", "")[:6]
        return f"{compact[:3]} {compact[3:]}" if len(compact) == 6 else compact
    digits = re.sub(r"[^0-9]", "", code)
    if len(digits) == 9:
        return digits[:5] if digits[5:] == "0000" else f"{digits[:5]}-{digits[5:]}"
    return digits[:5] if len(digits) >= 5 else code
