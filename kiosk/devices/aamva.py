"""Read the AAMVA DL/ID barcode text (PDF417 on US and Canadian licences and ID cards), versions 1-11.

`parse(text)` never raises: it returns an `AamvaResult` with the identity it could read and, in
`problems`, plain-language notes for the desk about whatever it could not read or had to guess.
Elements are located by their ids, not by the header's offsets, because real barcodes break the
standard: missing or replaced separators (`|`, control characters around them), CRLF, `AAMVA`/`AMVA`
in place of `ANSI `, a version-1 header with a jurisdiction version, a subfile type missing or on its own
line, wrong offsets, padded values, letters where digits belong, name suffixes inside names.
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
# The order the standard recommends, for ids that follow free-text fields.
USUAL_SUCCESSORS = {
    "DAG": ("DAH", "DAI"), "DAH": ("DAI",), "DAI": ("DAJ",), "DAA": ("DAG",), "DAB": ("DAC",),
    "DCS": ("DDE", "DAC", "DCT", "DCU"), "DAC": ("DDF", "DAD"), "DAD": ("DDG", "DCU"), "DCT": ("DAD", "DDF", "DCU"),
}
# What a value must start with, for ids whose values have a fixed form: in run-on text an id-like group of
# letters followed by anything else is part of the value before it ("123 DDA ROAD").
DATE_IDS = ("DBA", "DBB", "DBD", "DDB", "DDC", "DDH", "DDI", "DDJ")
VALUE_SHAPES = {
    **{element_id: re.compile(r"[\dOoIl]{8}") for element_id in DATE_IDS},
    **{element_id: re.compile(r"[TNU]") for element_id in ("DDE", "DDF", "DDG")},
    **{element_id: re.compile(r"[01]") for element_id in ("DDD", "DDK", "DDL")},
    "DBC": re.compile(r"[129MFXU]"), "DDA": re.compile(r"[FN]"), "DAJ": re.compile(r"[A-Z]{2}"),
    "DCG": re.compile(r"USA|CAN"), "DAK": re.compile(r"\d{5}|[A-Z]\d[A-Z]"), "DAU": re.compile(r"\d{2,3}"),
    "DAW": re.compile(r"\d{2,3}"), "DAY": re.compile(r"[A-Z]{3}"), "DAZ": re.compile(r"[A-Z]{3}"),
}
# Free-text values of several words: an id after a single space inside one is a word, not a new field.
FREE_TEXT_IDS = frozenset("DAA DAB DAC DAD DAE DAG DAH DAI DAL DAM DAN DCS DCT DCU".split())
# Name suffixes recognised by their word; "I" and "V" are left out, they are also middle initials.
SUFFIX_WORDS = frozenset("JR JR. SR SR. II III IV VI VII VIII 2ND 3RD 4TH 5TH".split())
CANADIAN_JURISDICTIONS = frozenset("AB BC MB NB NL NS NT NU ON PE QC SK YT".split())
EMPTY_VALUES = frozenset({"", "NONE", "UNAVL", "UNAVAIL", "UNKNOWN", "N/A", "NA"})
SEX_CODES = {"1": "M", "2": "F", "9": "X", "M": "M", "F": "F", "X": "X", "U": ""}

LOOKALIKE_DIGITS = str.maketrans("OoIl", "0011")

_HEADER = re.compile(r"(ANSI ?|AAMVA|AMVA)\s*([0-9A-Z]{6})([0-9A-Z]{2})")
_DESIGNATOR = re.compile(r"(DL|ID|Z[A-Z0-9])(\d{4})(\d{4})")
_SEPARATORS = re.compile(r"[\n\r\x1e\x1d\x1c|]+")
# Scanners wrap separators in control characters (C0, C1; a lone 0x90 byte decodes to U+FFFD).
_STRAY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1b\x1f\x7f-\x9f]+")
_UNDECODED_AT_SEPARATOR = re.compile(r"\ufffd*([\n\r\x1e\x1d\x1c|])\ufffd*")
_ELEMENT = re.compile(r"D[A-D][A-Z]")
_ELEMENT_AHEAD = re.compile(r"(?=(D[A-D][A-Z]))")
_BLANK_PADDING = re.compile(r" +(?=D[A-D][A-Z]|$)")  # an empty value padded with spaces
_NAME_SEPARATORS = re.compile(r"[,\s]+")
_SUBFILE_PREFIX = re.compile(r"(DL|ID|Z[A-Z0-9])(?=[DZ][A-Z0-9]{2})")


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
    text = _STRAY_CONTROLS.sub("", text)
    if "\ufffd" in text:
        text = _UNDECODED_AT_SEPARATOR.sub(r"\1", text)
    if not text.strip():
        return AamvaResult(Identity(source="aamva"), ["the barcode was empty"])
    header = _read_header(text, problems)
    body = text[header.end :] if header else text
    elements, subfile_types = _read_elements(body, problems)
    listed_types = [kind for kind, _, _ in header.designators if kind in ("DL", "ID")] if header else []
    if header:
        _check_offsets(text, header, bool(subfile_types), problems)
    if not elements:
        problems.append("no licence data found in the barcode")
        identity = Identity(
            source="aamva", issuer_id=header.issuer_id if header else "", aamva_version=header.version if header else None,
            extra={"document_type": listed_types[0] if listed_types else ""},
        )
        return AamvaResult(identity, problems, listed_types)
    if not subfile_types and listed_types:
        problems.append("the subfile type is missing from the data; taken from the header")
        subfile_types = listed_types

    version = header.version if header and header.version is not None else _guess_version(elements)
    family, given, suffix = _names(elements, problems)
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
        extra={"document_type": subfile_types[0] if subfile_types else ""} | ({"name_suffix": suffix} if suffix else {}),
    )
    address = (identity.address_street, identity.address_city, identity.address_state, identity.postal_code)
    if any(address) and not all(address):
        problems.append("the address is incomplete")
    for required, label in ((family, "family name"), (identity.document_number, "document number")):
        if not required:
            problems.append(f"{label} missing")
    for value, label in ((family, "family name"), (given, "given names"), (identity.address_street, "street"),
                         (identity.address_city, "city")):
        if "\ufffd" in value:
            problems.append(f"the {label} has characters that could not be decoded")
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
    if not text[: match.start()].lstrip(" \t\r\n").startswith("@"):
        problems.append("the compliance indicator '@' or its separators are missing")
    issuer_id = match.group(2) if match.group(2).isdigit() else ""
    if not issuer_id:
        problems.append("the issuer id in the header is not a number")
    version = int(match.group(3)) if match.group(3).isdigit() else None
    if version is None or not 1 <= version <= 11:
        problems.append("the AAMVA version in the header is unreadable")
        version = None
    entries, designators, end = _read_designators(text, match.end(), version)
    if entries is not None and len(designators) != entries:
        problems.append(f"the header lists {entries} subfiles but {len(designators)} could be read")
    return _Header(marker, issuer_id, version, entries, designators, end)


def _read_designators(text: str, position: int, version: int | None) -> tuple[int | None, list[tuple[str, str, str]], int]:
    """The subfile count and designators after the version. Version 1 has no jurisdiction version, yet
    some version 1 headers carry one; the layout whose designators can be read wins."""
    layouts = (0, 2) if version == 1 else (2, 0)  # where the two-digit count starts
    fallback: tuple[int | None, list[tuple[str, str, str]], int] | None = None
    for skip in layouts:
        count_text = text[position + skip : position + skip + 2]
        if not re.fullmatch(r"[0-9]{2}", count_text):
            continue
        entries, designators, end = int(count_text), [], position + skip + 2
        while len(designators) < max(entries, 1):
            designator = _DESIGNATOR.match(text, end)
            if not designator:
                break
            designators.append(designator.groups())
            end = designator.end()
        if designators and len(designators) == entries:
            return entries, designators, end
        fallback = fallback or (entries, designators, end)
    return fallback or (None, [], position)


def _check_offsets(text: str, header: _Header, types_in_body: bool, problems: list[str]) -> None:
    """Offsets count from the compliance indicator; a subfile whose type is missing starts with an element."""
    at_sign = text.find("@", 0, 16)
    base = max(at_sign, 0)
    for kind, offset, _length in header.designators:
        if not kind.startswith("Z") and offset.isdigit():
            start = base + int(offset)
            if not (text.startswith(kind, start) or (not types_in_body and text[start : start + 3] in ELEMENT_IDS)):
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
        token = token.strip(" \t\ufffd")
        if token in ("DL", "ID"):  # the subfile type alone on its line
            subfile_types.append(token)
            continue
        prefix = _SUBFILE_PREFIX.match(token)
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
    for match in _ELEMENT_AHEAD.finditer(token, 4):
        element_id, index = match.group(1), match.start()
        if element_id in ELEMENT_IDS and element_id not in seen and _starts_field(token, starts[-1], index):
            seen.add(element_id)
            starts.append(index)
    return [(token[begin : begin + 3], token[begin + 3 : end].strip()) for begin, end in zip(starts, starts[1:] + [len(token)])]


def _starts_field(token: str, field_start: int, index: int) -> bool:
    """Whether the element id at `index` starts a new field rather than sitting inside the current one."""
    previous, element_id = token[field_start : field_start + 3], token[index : index + 3]
    value_length = index - field_start - 3
    if value_length < FIXED_LENGTHS.get(previous, 1):
        return False  # "DCSDACOSTA": the current field has no value yet, or not its fixed length
    blank_padding = _BLANK_PADDING.match(token, index + 3)
    shape = VALUE_SHAPES.get(element_id)
    if shape and not (shape.match(token, index + 3) or blank_padding):
        return False  # "123 DDA ROAD": DDA is F or N
    if token.startswith(" ", index + 3) and not blank_padding:
        return False  # values do not start with a space
    usual_successor = element_id in USUAL_SUCCESSORS.get(previous, ())
    single_space_before = token[index - 1] == " " and token[index - 2] != " "
    if previous in FREE_TEXT_IDS and single_space_before and not usual_successor:
        return False  # "12 DACEY ST": a word of the street
    ends_fixed_field = FIXED_LENGTHS.get(previous) == value_length
    if element_id in WORDLIKE_IDS and not (ends_fixed_field or usual_successor):
        return False  # "JORDAN", "DAKOTA": letters inside a word, not a new field
    return True


def _value(elements: dict[str, str], element_id: str) -> str:
    value = elements.get(element_id, "").strip(" ,")
    return "" if value.upper() in EMPTY_VALUES else value


# -- fields ---------------------------------------------------------------------------------------------


def _guess_version(elements: dict[str, str]) -> int | None:
    if "DAC" in elements and "DCS" in elements:
        return None  # version 4 or later, exact version unknown
    return 1 if "DAA" in elements else None


def _names(elements: dict[str, str], problems: list[str]) -> tuple[str, str, str]:
    """Family name, given names and name suffix (`DCU`; `DAE` in version 1)."""
    suffix = _value(elements, "DCU") or _value(elements, "DAE")
    family = _value(elements, "DCS") or _value(elements, "DAB")
    given_words = _words(_value(elements, "DAC")) or _words(_value(elements, "DCT"))
    given_words += [word for word in _words(_value(elements, "DAD")) if word not in given_words]
    given = " ".join(given_words)
    if (not family or not given) and _value(elements, "DAA"):
        full_family, full_given, full_suffix = _full_name(_value(elements, "DAA"), problems)
        family, given, suffix = family or full_family, given or full_given, suffix or full_suffix
    family, suffix = _without_suffix(family, suffix, problems)
    given, suffix = _without_suffix(given, suffix, problems)
    flags = {"DDE": "family name", "DDF": "first name", "DDG": "middle name"}
    for element_id, label in flags.items():
        if _value(elements, element_id).upper() == "T":
            problems.append(f"the {label} is truncated on the card")
    return family, given, suffix


def _words(name: str) -> list[str]:
    return [word for word in _NAME_SEPARATORS.split(name) if word]


def _without_suffix(name: str, suffix: str, problems: list[str]) -> tuple[str, str]:
    """`DOE JR` -> (`DOE`, `JR`): a suffix at the end of a name of several words is not part of it."""
    words = name.split()
    if len(words) < 2:
        return name, suffix
    last = words[-1]
    if suffix and last.rstrip(".") == suffix.rstrip("."):
        return " ".join(words[:-1]), suffix
    if not suffix and last.upper() in SUFFIX_WORDS:
        problems.append("a name suffix was recognised by its word at the end of a name")
        return " ".join(words[:-1]), last
    return name, suffix


def _full_name(full: str, problems: list[str]) -> tuple[str, str, str]:
    """Version 1 `DAA`: `LAST,FIRST,MIDDLE,SUFFIX`; without commas the order is a guess."""
    if "," in full:
        parts = [part.strip() for part in full.split(",")] + ["", "", ""]
        family, first, middle, suffix = parts[:4]
        if not suffix and middle.upper() in SUFFIX_WORDS:
            problems.append("a name suffix was recognised by its word in the full name")
            middle, suffix = "", middle
        return family, " ".join(part for part in (first, middle) if part), suffix
    words = full.split()
    suffix = ""
    if len(words) >= 2 and words[-1].upper() in SUFFIX_WORDS:
        problems.append("a name suffix was recognised by its word in the full name")
        suffix = words.pop()
    if len(words) < 2:
        return full, "", ""
    problems.append("the full name has no commas; the last word was taken as the family name")
    return words[-1], " ".join(words[:-1]), suffix


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
