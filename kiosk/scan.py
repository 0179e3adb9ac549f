"""What a scanned code says about the patient: an AAMVA licence barcode becomes an Identity."""

from __future__ import annotations

from .devices.identity import Identity

AAMVA_MARKERS = ("ANSI ", "AAMVA", "AMVA")


def read_scan(text: str) -> Identity | None:
    """The identity in a scanned licence, or None for anything that is not one (or cannot be read)."""
    if not looks_like_aamva(text):
        return None
    from .devices.aamva import parse

    try:
        return parse(text)
    except ValueError:
        return None


def looks_like_aamva(text: str) -> bool:
    head = text.lstrip()[:40]
    return head.startswith("@") or any(marker in head for marker in AAMVA_MARKERS)
