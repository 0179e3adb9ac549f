"""Check a consent PDF's seal and say who signed what, when: `edge-agent verify-consent FILE.pdf`."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ..keys import SiteKey
from .pdf import META
from .seal import is_intact, key_id, retired_key_ids, sealed_with_key_id

EXIT_INTACT = 0
EXIT_ALTERED = 1
EXIT_UNUSABLE = 2


@dataclass(frozen=True)
class Verdict:
    intact: bool
    reason: str
    details: dict[str, str] = field(default_factory=dict)


def verify_pdf(data: bytes, key: SiteKey) -> Verdict:
    """Intact only when the seal matches every byte under this site's key."""
    sealed_by = sealed_with_key_id(data)
    if sealed_by is None:
        return Verdict(False, "no consent seal found: not a sealed consent PDF, or its end was cut off")
    if not is_intact(data, key):
        if sealed_by != key_id(key) and sealed_by not in retired_key_ids(key):
            return Verdict(False, f"sealed with key {sealed_by}, not this site's key {key_id(key)} (or the seal was altered)")
        return Verdict(False, "ALTERED: the content does not match its seal")
    try:
        info: Mapping[str, object] = PdfReader(io.BytesIO(data)).metadata or {}
    except PdfReadError as exc:
        return Verdict(False, f"the seal matches but the PDF cannot be read: {exc}")
    details = {name: str(info.get(key_name, "")) for name, key_name in META.items()}
    which = "this site's key" if sealed_by == key_id(key) else "this site's retired key (before a key rotation)"
    return Verdict(True, f"intact: sealed by {which} {sealed_by}", details)


def describe(path: Path, verdict: Verdict) -> list[str]:
    lines = [f"{path}: {verdict.reason}"]
    if verdict.intact:
        d = verdict.details
        lines += [
            f"  signed by:  {d['signer']} (born {d['signer_birth_date']})",
            f"  document:   {d['document_id']} version {d['version']}, language {d['language']}",
            f"  decision:   {d['decision']}",
            f"  signed at:  {d['signed_at']} on kiosk {d['kiosk_id']}, site {d['site_id']}",
            f"  check-in:   {d['checkin_id']} (consent {d['consent_id']})",
            f"  text hash:  SHA-256 {d['text_sha256']}",
        ]
    return lines


def run(path: Path, key_file: Path) -> int:
    """The CLI's work: print the verdict, return the exit code."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}")
        return EXIT_UNUSABLE
    try:
        key = SiteKey.load(Path(key_file))
    except (OSError, ValueError) as exc:
        print(f"site key {key_file}: cannot use it ({getattr(exc, 'strerror', None) or exc}); pass --config of this site")
        return EXIT_UNUSABLE
    verdict = verify_pdf(data, key)
    for line in describe(Path(path), verdict):
        print(line)
    return EXIT_INTACT if verdict.intact else EXIT_ALTERED
