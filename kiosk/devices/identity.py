"""The one identity shape every reader produces: a licence barcode, a health card, an eID."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

IdentitySource = Literal["aamva", "smartcard", "qr", "manual"]


@dataclass(frozen=True)
class Identity:
    source: IdentitySource
    family_name: str = ""
    given_names: str = ""
    birth_date: dt.date | None = None
    sex: str = ""  # "M", "F", "X" or ""
    address_street: str = ""
    address_city: str = ""
    address_state: str = ""
    postal_code: str = ""
    country: str = ""
    document_number: str = ""
    expiry_date: dt.date | None = None
    issuer_id: str = ""
    aamva_version: int | None = None
    # Insurance data when the card carries it (eGK): payor name and id, member id.
    payor: str = ""
    payor_id: str = ""
    member_id: str = ""
    language: str = ""  # the language the document implies (a German eGK: "de"); "" when it implies none
    extra: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never let PHI reach a log through repr()
        return f"Identity(source={self.source!r}, <redacted>)"

    __str__ = __repr__
