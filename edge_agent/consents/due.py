"""Which consent documents a patient must sign at this check-in.

A document applies to the patient when its `signers` say so (everyone, new patients, or the guardians
of patients under 18). It is due unless a decision on file satisfies its `frequency`:

- `once`: an acceptance of the current version (or of a version it lists as still valid);
- `yearly`: such an acceptance signed less than a year ago;
- `every_visit`: never satisfied.

A declined form is asked again at the next visit: a refusal is recorded (and sent to the central
system), but it is not a signature, and people change their minds.

Decisions come from the agent's own `consents` table and, when the central connector can provide them,
from the central system's Consent resources (a patient may have signed at another site).
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from typing import Callable, Iterable

from lobby_core.appointments import Decision, PriorDecision
from lobby_core.contract import FormDue
from ..json_types import JsonObject
from ..store import Store
from .documents import ConsentDocument, ConsentLibrary

log = logging.getLogger(__name__)

ADULT_AGE = 18
POLICY_URN_PREFIX = "urn:lobby-checkin:consent-document:"


# The central connector's hook: the patient's decisions held by the central system. It may raise
# (the central system is down); the agent then decides from its own records alone.
CentralDecisions = Callable[[], Iterable[PriorDecision]]


def policy_uri(document_id: str, version: str) -> str:
    return f"{POLICY_URN_PREFIX}{document_id}:{version}"


def decisions_from_fhir(consents: Iterable[JsonObject]) -> list[PriorDecision]:
    """Decisions found in FHIR R4 Consent resources (as JSON), e.g. a `Consent?patient=...` search.

    Only Consents that name one of our documents in `policy.uri` count; others are skipped.
    """
    decisions = []
    for consent in consents:
        status = consent.get("status")
        when = consent.get("dateTime")
        if status not in ("active", "rejected") or not when:
            continue
        for policy in consent.get("policy") or []:
            uri = policy.get("uri") or ""
            if not uri.startswith(POLICY_URN_PREFIX):
                continue
            document_id, sep, version = uri.removeprefix(POLICY_URN_PREFIX).partition(":")
            if not sep:
                continue
            signed_at = dt.datetime.fromisoformat(when)
            if signed_at.tzinfo is None:
                signed_at = signed_at.replace(tzinfo=dt.timezone.utc)
            decision: Decision = "accepted" if status == "active" else "declined"
            decisions.append(PriorDecision(document_id, version, decision, signed_at))
    return decisions


def decisions_on_file(conn: sqlite3.Connection, patient_key: str) -> list[PriorDecision]:
    """The patient's decisions in the agent's own `consents` table (a `store.read` query)."""
    rows = conn.execute(
        "SELECT document_id, version, decision, signed_at FROM consents WHERE patient_key = ?", (patient_key,)
    ).fetchall()
    return [
        PriorDecision(row["document_id"], row["version"], row["decision"], dt.datetime.fromisoformat(row["signed_at"]))
        for row in rows
    ]


def age_on(birth_date: dt.date, day: dt.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def one_year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def applies_to(document: ConsentDocument, *, new_patient: bool, birth_date: dt.date, today: dt.date) -> bool:
    if document.signers == "new_patients":
        return new_patient
    if document.signers == "minors_guardians":
        return age_on(birth_date, today) < ADULT_AGE
    return True


def is_satisfied(document: ConsentDocument, history: Iterable[PriorDecision], today: dt.date) -> bool:
    if document.frequency == "every_visit":
        return False
    acceptances = [
        prior.signed_at.date()
        for prior in history
        if prior.document_id == document.id and prior.decision == "accepted" and document.accepts_signature_of(prior.version)
    ]
    if not acceptances:
        return False
    if document.frequency == "yearly":
        return max(acceptances) > one_year_before(today)
    return True


def due_documents(
    documents: Iterable[ConsentDocument],
    history: Iterable[PriorDecision],
    *,
    new_patient: bool,
    birth_date: dt.date,
    today: dt.date,
) -> list[ConsentDocument]:
    history = list(history)
    return [
        document
        for document in sorted(documents, key=lambda d: d.id)
        if applies_to(document, new_patient=new_patient, birth_date=birth_date, today=today)
        and not is_satisfied(document, history, today)
    ]


def _with_central(history: list[PriorDecision], central: CentralDecisions | None) -> list[PriorDecision]:
    if central is None:
        return history
    try:
        return history + list(central())
    except Exception as exc:  # noqa: BLE001 - the central system is optional here, never a reason to fail
        log.warning("central consent history unavailable, deciding from local records: %s", type(exc).__name__)
        return history


def _forms(
    library: ConsentLibrary, history: list[PriorDecision], central: CentralDecisions | None, *,
    new_patient: bool, birth_date: dt.date, today: dt.date,
) -> list[FormDue]:
    due = due_documents(library.current().values(), _with_central(history, central),
                        new_patient=new_patient, birth_date=birth_date, today=today)
    return [document.as_form() for document in due]


def forms_due(
    store: Store,
    library: ConsentLibrary,
    patient_key: str,
    *,
    new_patient: bool,
    birth_date: dt.date,
    today: dt.date,
    central: CentralDecisions | None = None,
) -> list[FormDue]:
    """The forms to put in this patient's lookup answer (blocking; see `forms_due_async`)."""
    history = store.read_sync(lambda conn: decisions_on_file(conn, patient_key))
    return _forms(library, history, central, new_patient=new_patient, birth_date=birth_date, today=today)


async def forms_due_async(
    store: Store,
    library: ConsentLibrary,
    patient_key: str,
    *,
    new_patient: bool,
    birth_date: dt.date,
    today: dt.date,
    central: CentralDecisions | None = None,
) -> list[FormDue]:
    """`forms_due` for an asyncio handler: the read runs on the store's reader pool."""
    history = await store.read(lambda conn: decisions_on_file(conn, patient_key))
    return _forms(library, history, central, new_patient=new_patient, birth_date=birth_date, today=today)
