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
