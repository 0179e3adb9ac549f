"""The AAMVA parser against a corpus of synthetic barcodes (every version, both countries, broken
layouts as real scanners send them), one test per class of real-world breakage, and property tests:
no input crashes it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from kiosk.devices.aamva import parse
from kiosk.simulators.licence import build, elements_for, with_noise_around_separators

from .aamva_samples.corpus import HERE as SAMPLES, TODAY, expectations, mismatches, sample_text

EXPECTED = expectations()
SAMPLE_PERSON = ("SAMPLE", "ALEX", "JORDAN", (1985, 7, 4), "2", "123 MAIN ST", "SACRAMENTO", "CA", "958110000", "F1234567")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_reads_as_expected(name):
    assert mismatches(parse(sample_text(name), today=TODAY), EXPECTED[name]) == []


def test_corpus_covers_every_version_both_countries_and_both_subfiles():
    versions = {expected["aamva_version"] for expected in EXPECTED.values()}
    assert versions == set(range(1, 12))
    assert {expected["country"] for expected in EXPECTED.values()} - {""} == {"USA", "CAN"}
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


# -- real-world breakage, one class per test ------------------------------------------------------------


def sample(name: str):
    return parse(sample_text(name), today=TODAY)


def clean_v10() -> str:
    return build(10, "636014", "DL", elements_for(10, SAMPLE_PERSON, False, "DL"))


@pytest.mark.parametrize("name", [
    "suffix_full_name_words.txt", "suffix_full_name_empty_middle.txt", "suffix_full_name_no_middle.txt",
    "suffix_in_family_name_and_dcu.txt",
])
def test_a_name_suffix_is_never_read_as_the_family_name_or_a_given_name(name):
    identity = sample(name).identity
    assert identity.family_name == "SAMPLE"
    assert identity.extra["name_suffix"] in ("JR", "III")
    assert identity.extra["name_suffix"] not in identity.given_names.split()


def test_a_suffix_found_only_by_its_word_is_reported_one_in_its_own_element_is_not():
    assert any("name suffix" in problem for problem in sample("suffix_full_name_no_middle.txt").problems)
    assert sample("suffix_in_family_name_and_dcu.txt").problems == []


@pytest.mark.parametrize("name, kind", [("subfile_type_missing.txt", "DL"), ("subfile_type_own_line.txt", "ID")])
def test_the_subfile_type_survives_a_missing_or_lone_prefix(name, kind):
    result = sample(name)
    assert result.subfile_types == [kind] and result.identity.extra["document_type"] == kind
    assert result.identity.document_number == "F1234567"


def test_a_version_1_header_with_a_jurisdiction_version_does_not_swallow_the_first_element():
    text = sample_text("v01_header_with_jurisdiction_version.txt")
    assert "ANSI 636014010002DL" in text
    result = sample("v01_header_with_jurisdiction_version.txt")
    assert result.identity.document_number == "F1234567" and result.identity.aamva_version == 1
    assert result.problems == []


def test_the_version_and_document_type_are_kept_when_no_element_is_readable():
    result = sample("no_readable_element.txt")
    assert result.identity.aamva_version == 10 and result.identity.extra["document_type"] == "DL"
    assert any("no licence data" in problem for problem in result.problems)


def test_given_names_come_from_dct_when_dac_is_absent_and_dad_present():
    assert sample("given_names_in_dct_middle_in_dad.txt").identity.given_names == "ALEX JORDAN"
    both = [(k, "ALEX JORDAN" if k == "DCT" else v) for k, v in elements_for(3, SAMPLE_PERSON, False, "DL")]
    assert parse(build(3, "636014", "DL", both + [("DAD", "JORDAN")])).identity.given_names == "ALEX JORDAN"


@pytest.mark.parametrize("name, field, value", [
    ("run_on_street_with_element_id.txt", "address_street", "123 DDA ROAD"),
    ("run_on_family_name_starting_with_element_id.txt", "family_name", "DACOSTA"),
    ("run_on_v01_street_with_element_id.txt", "address_street", "12 DACEY ST"),
])
def test_run_on_values_holding_element_id_lookalikes_stay_whole(name, field, value):
    identity = sample(name).identity
    assert getattr(identity, field) == value
    assert (identity.given_names, identity.address_city) == ("ALEX JORDAN", "SACRAMENTO")


@pytest.mark.parametrize("noisy", [
    clean_v10().replace("\n", "|").replace("\r", "|"),
    with_noise_around_separators(clean_v10(), "\x90", "\x90"),
    with_noise_around_separators(clean_v10(), "\x85\x07", "\x1b\x04"),
    with_noise_around_separators(clean_v10(), "\ufffd", "\ufffd"),  # a lone 0x90 byte after UTF-8 decoding
    " " + clean_v10(),
], ids=["pipe", "c1-controls", "c0-controls", "undecodable-bytes", "leading-space"])
def test_scanner_noise_around_separators_reads_like_the_clean_barcode(noisy):
    result = parse(noisy, today=TODAY)
    assert result.identity == parse(clean_v10(), today=TODAY).identity
    assert result.problems == []


def test_an_undecodable_character_inside_a_value_is_reported_not_dropped():
    text = clean_v10().replace("DCSSAMPLE", "DCSSAMP\ufffdLE")
    result = parse(text, today=TODAY)
    assert result.identity.family_name == "SAMP\ufffdLE"
    assert any("could not be decoded" in problem for problem in result.problems)
