"""A scanned insurance card (issue #17): checked as real JPEGs, stored sealed beside its arrival.

    checked = check_scan(request.insurance_card)          # before the transaction: 422 if not real JPEGs
    insert_card(conn, store, checkin_id, checked)        # inside the check-in's transaction
    card = load_card(store, checkin_id)                  # desk, FHIR connector: None if none or purged

Nothing but a JPEG that Pillow decodes whole, of a sane size in pixels, is accepted; the first side that
is not gets a 422 problem naming it, before anything is stored. The images and the fields are sealed
with the site key (contexts below, re-encrypted by edge_agent/key_rotation.py) and emptied by the
retention purge (edge_agent/retention.py). A member id or an image never reaches a log line.
"""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import warnings
from dataclasses import dataclass
from typing import Mapping

from PIL import Image

from lobby_core.contract import CardFieldReading, CoverageInfo, InsuranceCardScan

from .problems import ProblemError
from .store import Store

MIN_SIDE_PX = 200  # a card at 75 dpi is about 250 x 160: less is no readable image
MAX_SIDE_PX = 6000  # a card at 1200 dpi is about 4000 x 2600
MAX_PIXELS = 24_000_000
PURGED = b""
SIDES = ("front", "back")


def front_context(checkin_id: str) -> str:
    return f"insurance-card-front:{checkin_id}"


def back_context(checkin_id: str) -> str:
    return f"insurance-card-back:{checkin_id}"


def fields_context(checkin_id: str) -> str:
    return f"insurance-card-fields:{checkin_id}"


@dataclass(frozen=True)
class CheckedScan:
    """A scan whose images decoded as JPEG: (width, height) per side."""

    scan: InsuranceCardScan
    front_size: tuple[int, int]
    back_size: tuple[int, int] | None

    @property
    def fields(self) -> dict[str, CardFieldReading]:
        return {str(name): reading for name, reading in self.scan.fields.items()}

    @property
    def review_count(self) -> int:
        return sum(1 for reading in self.scan.fields.values() if reading.needs_review)


@dataclass(frozen=True)
class StoredCard:
    checkin_id: str
    front_jpeg: bytes
    back_jpeg: bytes | None
    fields: dict[str, CardFieldReading]
    front_size: str
    back_size: str | None

    def value(self, name: str) -> str:
        reading = self.fields.get(name)
        return reading.value if reading else ""


def coverage_of(fields: Mapping[str, CardFieldReading], sent: CoverageInfo | None) -> CoverageInfo:
    """The coverage a card says: its fields as the patient confirmed them, filled in from what the kiosk
    sent as the check-in's `coverage` (`valid_until` is not read from a card)."""
    sent = sent or CoverageInfo()

    def value(name: str) -> str:
        reading = fields.get(name)
        return reading.value if reading else ""

    return CoverageInfo(
        payor=value("payer_name") or sent.payor, member_id=value("member_id") or sent.member_id,
        group=value("group_number") or sent.group, plan=value("plan") or sent.plan, valid_until=sent.valid_until,
        source="card",
    )  # fmt: skip


def _invalid(side: str, reason: str) -> ProblemError:
    return ProblemError(422, "card_image_invalid", f"The card's {side} side is not a usable JPEG image ({reason}).",
                        field=f"insurance_card.{side}_jpeg")  # fmt: skip


def jpeg_size(data: bytes, side: str = "front") -> tuple[int, int]:
    """(width, height) of a JPEG that decodes whole; ProblemError 422 for anything else."""
    if not data.startswith(b"\xff\xd8\xff"):
        raise _invalid(side, "not JPEG data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
                width, height = image.size
                if not (MIN_SIDE_PX <= min(width, height) and max(width, height) <= MAX_SIDE_PX):
                    raise _invalid(side, f"{width} x {height} pixels")
                if width * height > MAX_PIXELS:
                    raise _invalid(side, f"{width} x {height} pixels")
                image.load()  # the whole image: a truncated or corrupt file fails here
    except ProblemError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _invalid(side, "it does not decode") from None
    return width, height


def check_scan(scan: InsuranceCardScan) -> CheckedScan:
    """Blocking (decodes both images): call it in a thread."""
    front = jpeg_size(scan.front_jpeg, "front")
    back = jpeg_size(scan.back_jpeg, "back") if scan.back_jpeg is not None else None
    return CheckedScan(scan, front, back)


def _size(size: tuple[int, int] | None) -> str | None:
    return None if size is None else f"{size[0]}x{size[1]}"


def insert_card(conn: sqlite3.Connection, store: Store, checkin_id: str, checked: CheckedScan) -> None:
    """Inside the check-in's transaction (its arrival row must exist)."""
    scan = checked.scan
    fields = {name: reading.model_dump(mode="json") for name, reading in scan.fields.items()}
    conn.execute(
        "INSERT INTO insurance_cards(checkin_id, front_sealed, back_sealed, fields_sealed, front_size, back_size,"
        " review_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            checkin_id,
            store.key.seal(scan.front_jpeg, front_context(checkin_id).encode()),
            None if scan.back_jpeg is None else store.key.seal(scan.back_jpeg, back_context(checkin_id).encode()),
            store.seal_json(fields, fields_context(checkin_id)),
            _size(checked.front_size),
            _size(checked.back_size),
            checked.review_count,
            dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        ),
    )


def card_from_row(store: Store, row: sqlite3.Row) -> StoredCard | None:
    if not row["front_sealed"]:  # purged
        return None
    checkin_id = row["checkin_id"]
    fields = store.unseal_json(row["fields_sealed"], fields_context(checkin_id))
    return StoredCard(
        checkin_id=checkin_id,
        front_jpeg=store.key.unseal(row["front_sealed"], front_context(checkin_id).encode()),
        back_jpeg=store.key.unseal(row["back_sealed"], back_context(checkin_id).encode()) if row["back_sealed"] else None,
        fields={name: CardFieldReading.model_validate(value) for name, value in fields.items()},
        front_size=row["front_size"],
        back_size=row["back_size"],
    )


def load_card(store: Store, checkin_id: str) -> StoredCard | None:
    """The card stored with this check-in (blocking read), or None: none was scanned, or it was purged."""
    row = store.read_sync(
        lambda conn: conn.execute("SELECT * FROM insurance_cards WHERE checkin_id = ?", (checkin_id,)).fetchone()
    )
    return None if row is None else card_from_row(store, row)


def review_counts(conn: sqlite3.Connection, checkin_ids: list[str]) -> dict[str, int]:
    """{checkin_id: fields to check} for the arrivals that have a card (no unsealing: the count is no PHI)."""
    if not checkin_ids:
        return {}
    marks = ",".join("?" * len(checkin_ids))
    rows = conn.execute(
        f"SELECT checkin_id, review_count FROM insurance_cards WHERE checkin_id IN ({marks}) AND length(front_sealed) > 0",
        checkin_ids,
    ).fetchall()
    return {row[0]: row[1] for row in rows}


def purge_delivered(conn: sqlite3.Connection, delivered_checkins_sql: str, params: dict[str, object]) -> int:
    """Empty the sealed card of every check-in `delivered_checkins_sql` selects (retention)."""
    return conn.execute(
        "UPDATE insurance_cards SET front_sealed = :purged, back_sealed = NULL, fields_sealed = :purged"
        f" WHERE front_sealed != :purged AND checkin_id IN ({delivered_checkins_sql})",
        params,
    ).rowcount
