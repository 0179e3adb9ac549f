"""Name normalisation and matching rules (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest

from edge_agent import matching
from edge_agent.keys import SiteKey


@pytest.mark.parametrize(
    "raw, words",
    [
        ("  Núñez-O'Brien ", ("nunez", "o", "brien")),
        ("MÜLLER", ("muller",)),
        ("Strauß", ("strauss",)),
        ("van  der   Berg", ("van", "der", "berg")),
        ("Nguyễn", ("nguyen",)),
        ("Ø. Łukasz", ("o", "lukasz")),
    ],
)
def test_name_words(raw: str, words: tuple) -> None:
    assert matching.name_words(raw) == words


@pytest.mark.parametrize(
    "typed, scheduled, expected",
    [
        ("garcia lopez", "García López", True),
        ("Garcia-Lopez", "García López", True),
        ("GarciaLopez", "García López", True),
        ("Garcia", "García López", True),  # first surname of a compound
        ("Lopez", "García López", False),  # not the leading surname
        ("Garcias", "García", False),
        ("", "García", False),
    ],
)
def test_family_matches(typed: str, scheduled: str, expected: bool) -> None:
    assert matching.family_matches(typed, scheduled) is expected


@pytest.mark.parametrize(
    "typed, scheduled, expected",
    [
        ("", "María José", True),  # surname + birth date only
        ("M", "María José", True),
        ("m.", "María José", True),
        ("J", "María José", False),
        ("Maria", "María José", True),
        ("Maria Jose", "María José", True),
        ("Mariajose", "María José", True),
        ("Mario", "María José", False),
    ],
)
def test_given_matches(typed: str, scheduled: str, expected: bool) -> None:
    assert matching.given_matches(typed, scheduled) is expected


def test_birth_date_must_be_exact() -> None:
    kwargs = {"scheduled_family": "Smith", "scheduled_given": "John", "scheduled_birth_date": dt.date(1975, 4, 1)}
    assert matching.identity_matches("smith", "j", dt.date(1975, 4, 1), **kwargs)
    assert not matching.identity_matches("smith", "j", dt.date(1975, 1, 4), **kwargs)


def test_patient_key_is_stable_across_spellings_and_keyed() -> None:
    key = SiteKey(b"k" * 32)
    born = dt.date(1956, 3, 14)
    assert matching.patient_key(key, "García López", "María José", born) == matching.patient_key(
        key, "GARCIA-LOPEZ", "maria", born
    )
    assert matching.patient_key(key, "García López", "María", born) != matching.patient_key(SiteKey(b"x" * 32), "García López", "María", born)
    assert "garcia" not in matching.patient_key(key, "García López", "María", born)


def test_display_name_shows_first_name_and_initial_only() -> None:
    assert matching.display_name("García López", "María José") == "María G."


from hypothesis import given, strategies as st  # noqa: E402

LETTERS = "abcdefghijklmnopqrstuvwxyzáéíóúñüçàèâêôäöëïÁÉÍÓÚÑÜÇ"
names = st.text(alphabet=LETTERS + " -'", min_size=1, max_size=30).filter(lambda n: any(c.isalpha() for c in n))


@given(names)
def test_a_name_matches_itself_however_it_is_typed(name: str) -> None:
    for typed in (name, name.upper(), name.replace("-", " "), name.replace(" ", ""), name.replace("'", "")):
        if matching.name_words(typed):
            assert matching.family_matches(typed, name), typed
    assert matching.given_matches(name[0] if name[0].isalpha() else "", name) or not name[0].isalpha()


@given(names, names)
def test_normalisation_is_stable(first: str, second: str) -> None:
    assert matching.name_words(matching.normalise(first)) == matching.name_words(first)
    assert matching.family_matches(first, second) == matching.family_matches(second, first)


def test_on_file_hints_are_endings_only() -> None:
    from lobby_core.contract import Address, CoverageInfo, Demographics

    file = Demographics(address=Address(street="401 River Rd", postal_code="62704"), phone="(555) 010-1242")
    hints = matching.on_file_hints(file, CoverageInfo(payor="Evergreen Mutual", member_id="XG-0012 3303", source="file"))
    assert (hints.street_ending, hints.phone_ending, hints.member_id_ending, hints.payer) == ("01", "42", "303", "Evergreen Mutual")
    short = matching.on_file_hints(Demographics(address=Address(street="Main Street"), phone="1242"),
                                   CoverageInfo(payor="", member_id="Z1303", source="file"))  # fmt: skip
    assert (short.street_ending, short.phone_ending, short.member_id_ending) == ("", "", "")  # too short to hint at
    assert not matching.on_file_hints(None, None).present


def test_what_the_id_and_card_said_is_kept_only_where_it_differs_from_the_file() -> None:
    import uuid

    from edge_agent.checkin import compared_with_file
    from edge_agent.schedule import demo_appointments
    from lobby_core.contract import Address, CheckinRequest, CoverageInfo, Demographics, PatientIdentity

    appointment = demo_appointments("test-site", dt.date(2026, 11, 23), __import__("zoneinfo").ZoneInfo("UTC"))[0]
    assert appointment.coverage is not None and appointment.demographics.address is not None
    same_card = CoverageInfo(payor=appointment.coverage.payor.upper(), member_id=appointment.coverage.member_id, source="card")
    same_id = Demographics(address=Address(street=appointment.demographics.address.street.upper(),
                                           postal_code=appointment.demographics.address.postal_code))  # fmt: skip
    request = CheckinRequest(
        checkin_id=uuid.uuid4(), kiosk_id="kiosk-1", appointment_id=appointment.appointment_id, identity_source="aamva",
        patient=PatientIdentity(family=appointment.family, birth_date=appointment.birth_date), coverage=same_card,
        demographics=same_id,
    )  # fmt: skip
    kept = compared_with_file(request, appointment)
    assert (kept.coverage, kept.demographics) == (None, None)
    moved = request.model_copy(update={"demographics": Demographics(address=Address(street="1 New Rd", postal_code="62799"))})
    assert compared_with_file(moved, appointment).demographics == moved.demographics
    assert compared_with_file(request, None) == request  # no file: everything is kept for the desk
