"""The sample corpus and what "read correctly" means for one sample: shared by the tests and the bench."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

HERE = Path(__file__).parent
TODAY = dt.date(2026, 6, 1)  # the day the corpus's expiry expectations are computed for
FIELDS = ("family_name", "given_names", "sex", "address_street", "address_city", "address_state", "postal_code",
          "country", "document_number", "aamva_version")


def expectations() -> dict[str, dict]:
    return json.loads((HERE / "expected.json").read_text(encoding="utf-8"))


def sample_text(name: str) -> str:
    return (HERE / name).read_bytes().decode("utf-8")


def mismatches(result, expected: dict) -> list[str]:
    """What `result` (an `AamvaResult`) got wrong against one sample's expectation; [] when read correctly."""
    identity = result.identity
    wrong = [field for field in FIELDS if getattr(identity, field) != expected[field]]
    if (identity.birth_date.isoformat() if identity.birth_date else None) != expected["birth_date"]:
        wrong.append("birth_date")
    if result.expired != expected["expired"]:
        wrong.append("expired")
    for key in ("document_type", "name_suffix"):
        if identity.extra.get(key, "") != expected.get(key, ""):
            wrong.append(key)
    wrong += [f"problem {problem!r} not reported" for problem in expected["problems"]
              if not any(problem in found for found in result.problems)]
    if not expected["problems"] and result.problems:
        wrong.append(f"unexpected problems {result.problems}")
    return wrong
