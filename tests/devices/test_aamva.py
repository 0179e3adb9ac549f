"""The AAMVA parser against a corpus of synthetic barcodes (every version, both countries, broken
layouts), and property tests: no input crashes it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from kiosk.devices.aamva import parse

SAMPLES = Path(__file__).parent / "aamva_samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
TODAY = dt.date(2026, 6, 1)
FIELDS = ("family_name", "given_names", "sex", "address_street", "address_city", "address_state", "postal_code",
          "country", "document_number", "aamva_version")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_reads_as_expected(name):
    expected = EXPECTED[name]
    result = parse((SAMPLES / name).read_bytes().decode("utf-8"), today=TODAY)
    identity = result.identity
    for field in FIELDS:
        assert getattr(identity, field) == expected[field], field
    assert (identity.birth_date.isoformat() if identity.birth_date else None) == expected["birth_date"]
    assert result.expired == expected["expired"]
    for problem in expected["problems"]:
        assert any(problem in found for found in result.problems), (problem, result.problems)
    if not expected["problems"]:
        assert result.problems == []


def test_corpus_covers_every_version_both_countries_and_both_subfiles():
    versions = {expected["aamva_version"] for expected in EXPECTED.values()}
    assert versions == set(range(1, 12))
    assert {expected["country"] for expected in EXPECTED.values()} == {"USA", "CAN"}
    kinds = {parse((SAMPLES / name).read_text(encoding="utf-8")).subfile_types[0] for name in EXPECTED}
    assert kinds == {"DL", "ID"}


def test_canadian_dates_are_year_first_and_us_dates_month_first():
    canadian_text = (SAMPLES / "v10_ca_dl_on.txt").read_text(encoding="utf-8")
    american_text = (SAMPLES / "broken_crlf.txt").read_text(encoding="utf-8")
    assert "DBB19901201" in canadian_text and "DBB07041985" in american_text
    canadian, american = parse(canadian_text, today=TODAY), parse(american_text, today=TODAY)
    assert canadian.identity.birth_date == dt.date(1990, 12, 1)
    assert american.identity.birth_date == dt.date(1985, 7, 4)
    assert american.identity.expiry_date == dt.date(2031, 7, 4)


def test_expired_document_is_reported_not_refused():
    result = parse((SAMPLES / "expired_licence.txt").read_text(encoding="utf-8"), today=TODAY)
    assert result.expired
    assert result.identity.family_name == "SAMPLE"
    assert result.identity.birth_date == dt.date(1985, 7, 4)


@pytest.mark.parametrize("garbage", ["", "   ", "hello", "@", "@\n\x1e\rANSI ", "ANSI 63601410", "\x00" * 50, "DCS"])
def test_garbage_gives_problems_not_exceptions(garbage):
    result = parse(garbage)
    assert result.problems
    assert result.identity.source == "aamva"


def test_identity_repr_does_not_leak_the_name():
    result = parse((SAMPLES / "v10_us_dl.txt").read_text(encoding="utf-8"))
    assert "SAMPLE" not in repr(result) and "SAMPLE" not in repr(result.identity)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=600))
def test_any_text_parses_without_raising(text):
    result = parse(text)
    assert isinstance(result.problems, list)


@settings(max_examples=200, deadline=None, database=None)
@given(
    name=st.sampled_from(sorted(EXPECTED)),
    cut=st.integers(min_value=0, max_value=400),
    junk=st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x24F), max_size=20),
    position=st.integers(min_value=0, max_value=400),
)
def test_damaged_real_samples_parse_without_raising(name, cut, junk, position):
    text = (SAMPLES / name).read_text(encoding="utf-8")
    damaged = text[:position] + junk + text[position + cut % 7 :]
    result = parse(damaged[: max(1, len(damaged) - cut)])
    assert all(isinstance(problem, str) and problem for problem in result.problems)
