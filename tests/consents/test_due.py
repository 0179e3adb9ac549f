"""Due-rules against the agent's real store: new patients, yearly renewal, new versions, declines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from edge_agent.consents.due import PriorDecision, decisions_from_fhir, forms_due, policy_uri

from .conftest import record_for, store_consents
from .test_documents import _bump

TODAY = dt.date(2026, 11, 23)
ADULT = dt.date(1961, 4, 9)


def due_ids(store, library, patient_key="patient-1", *, new_patient=False, birth_date=ADULT, today=TODAY, central=None):
    forms = forms_due(store, library, patient_key, new_patient=new_patient, birth_date=birth_date, today=today, central=central)
    return [form.document_id for form in forms]


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 30), tzinfo=dt.timezone.utc)


def test_a_new_patient_gets_every_form_including_new_patient_only_ones(store, library):
    assert due_ids(store, library, new_patient=True) == [
        "consent-to-treat", "financial-responsibility", "privacy-notice", "telehealth",
    ]
    assert due_ids(store, library, new_patient=False) == ["consent-to-treat", "financial-responsibility", "privacy-notice"]


def test_the_form_due_carries_the_exact_text_and_hash_per_language(store, library):
    form = forms_due(store, library, "patient-1", new_patient=False, birth_date=ADULT, today=TODAY)[0]
    document = library.get(form.document_id)
    assert form.version == document.version and form.text == document.text and form.sha256 == document.sha256
    assert form.may_decline is False and form.title["es"] == "Consentimiento para recibir tratamiento"


def test_signed_forms_are_not_asked_again_and_yearly_ones_renew_after_a_year(store, library):
    signed = TODAY - dt.timedelta(days=364)
    store_consents(store, library, [
        record_for(library, "consent-to-treat", signed_at=at(signed)),
        record_for(library, "privacy-notice", language="es", signed_at=at(signed)),
    ])  # fmt: skip
    assert due_ids(store, library) == ["financial-responsibility"]
    # consent-to-treat is yearly: due again once the signature is more than a year old; privacy-notice is once
    assert due_ids(store, library, today=TODAY + dt.timedelta(days=2)) == ["consent-to-treat", "financial-responsibility"]
    # another patient's signatures count for nobody else
    assert due_ids(store, library, patient_key="patient-2") == ["consent-to-treat", "financial-responsibility", "privacy-notice"]


def test_a_new_version_published_while_running_is_asked_again(store, library, consents_dir: Path):
    store_consents(store, library, [record_for(library, "privacy-notice")])
    assert "privacy-notice" not in due_ids(store, library)
    _bump(consents_dir, "privacy-notice", "2026.1", "\n- I understand the new clause.\n")
    forms = forms_due(store, library, "patient-1", new_patient=False, birth_date=ADULT, today=TODAY)
    notice = next(form for form in forms if form.document_id == "privacy-notice")
    assert notice.version == "2026.1" and "new clause" in notice.text["en"]


def test_an_editorial_version_can_keep_earlier_signatures_valid(store, library, consents_dir: Path):
    store_consents(store, library, [record_for(library, "privacy-notice")])
    _bump(consents_dir, "privacy-notice", "2025.1a", "\n")
    meta = consents_dir / "privacy-notice" / "document.toml"
    meta.write_text(meta.read_text().replace("still_valid_versions = []", 'still_valid_versions = ["2025.1"]'))
    assert library.get("privacy-notice").version == "2025.1a"
    assert "privacy-notice" not in due_ids(store, library)


def test_a_declined_form_is_asked_again_at_the_next_visit(store, library):
    store_consents(store, library, [record_for(library, "privacy-notice", decision="declined")])
    assert "privacy-notice" in due_ids(store, library)


def test_every_visit_and_minors_guardians_rules(store, library, consents_dir: Path):
    meta = consents_dir / "financial-responsibility" / "document.toml"
    meta.write_text(meta.read_text().replace('frequency = "yearly"', 'frequency = "every_visit"'))
    meta = consents_dir / "telehealth" / "document.toml"
    meta.write_text(meta.read_text().replace('signers = "new_patients"', 'signers = "minors_guardians"'))
    store_consents(store, library, [record_for(library, "financial-responsibility")])
    assert "financial-responsibility" in due_ids(store, library)
    seventeen = TODAY.replace(year=TODAY.year - 17)
    assert "telehealth" in due_ids(store, library, birth_date=seventeen + dt.timedelta(days=1))
    assert "telehealth" not in due_ids(store, library, birth_date=seventeen.replace(year=seventeen.year - 1))


def test_decisions_held_by_the_central_system_count_and_an_unreachable_one_is_skipped(store, library):
    document = library.get("consent-to-treat")
    central_consents = [
        {"resourceType": "Consent", "status": "active", "dateTime": at(TODAY - dt.timedelta(days=30)).isoformat(),
         "policy": [{"uri": policy_uri(document.id, document.version)}]},
        {"resourceType": "Consent", "status": "active", "dateTime": "2026-10-01T10:00:00Z",
         "policy": [{"uri": "http://example.org/some-other-policy"}]},
    ]  # fmt: skip
    decisions = decisions_from_fhir(central_consents)
    assert decisions == [PriorDecision("consent-to-treat", document.version, "accepted", at(TODAY - dt.timedelta(days=30)))]
    assert "consent-to-treat" not in due_ids(store, library, central=lambda: decisions)

    def unreachable():
        raise ConnectionError("central system down")

    assert "consent-to-treat" in due_ids(store, library, central=unreachable)
