"""hl7apy strict validation of ER7 text: the test's independent judge of what the agent sends and reads."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message


# Table 0396 (coding systems) lists "HL7nnnn", a pattern for HL7 table names; hl7apy takes it literally and
# flags every real one ("HL70357" in ERR-3, the error code table). That warning alone is not a problem.
_TABLE_NAME_PATTERN = re.compile(r"^Warning: Value HL7\d{4} not in table HL70396 ")


def strict_problems(text: str) -> list[str]:
    """Every error and warning (table values, lengths) hl7apy finds at the strict level; [] when valid."""
    try:
        message = parse_message(text.replace("\n", "\r"), validation_level=VALIDATION_LEVEL.STRICT)
    except HL7apyException as exc:
        return [f"Error: {type(exc).__name__}: {exc}"]
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.txt"
        try:
            message.validate(report_file=str(report))
        except HL7apyException:
            pass
        found = report.read_text().splitlines() if report.exists() else []
    return [line for line in found if not _TABLE_NAME_PATTERN.match(line)]


def strictly_valid(text: str) -> Message:
    """The message parsed by hl7apy; fails the test with hl7apy's findings when it is not strictly valid."""
    problems = strict_problems(text)
    assert problems == [], "\n".join(problems) + "\n\n" + text.replace("\r", "\n")
    return parse_message(text.replace("\n", "\r"), validation_level=VALIDATION_LEVEL.STRICT)
