"""The 270 writer and the 271 reader against pyx12 with the derived 005010X279A1 maps: every 270 built
for the demo patients passes, the simulator's 271 fixtures pass and read as intended, and pyx12 really
refuses broken files (wrong SE01, missing NM109, impossible DMG date)."""

from __future__ import annotations

import datetime as dt

import pytest

from edge_agent.eligibility.request_270 import Inquiry, Parties, build_270
from edge_agent.eligibility.response_271 import parse_271
from edge_agent.eligibility.x12 import X12Error, split_segments
from tools.clearinghouse_sim import SCENARIOS, build_271, read_270
from tools.x12_maps import derive_x279
from tools.x12_maps.validate import validate

from .conftest import NPI, PAYER_IDS, appointments_on

PARTIES = Parties("ZZ", "CLINIC01", "ZZ", "CLEARHOUSE", "Riverside Family Clinic", NPI, "9" + NPI[-9:], "T")
NOW = dt.datetime(2025, 3, 3, 18, 0, tzinfo=dt.UTC)
SERVICE_DAY = dt.date(2025, 3, 4)


def inquiries() -> list[Inquiry]:
    return [
        Inquiry(payer_name=a.coverage.payor, payer_id=PAYER_IDS[a.coverage.payor], member_id=a.coverage.member_id,
                family=a.family, given=a.given, birth_date=a.birth_date, date_of_service=SERVICE_DAY,
                service_types=("30", "98"), trace=f"LC{i:09d}", visit_service_type="98")
        for i, a in enumerate(appointments_on(SERVICE_DAY)) if a.coverage
    ]  # fmt: skip


def one_270(control: int = 42) -> str:
    return build_270(inquiries()[0], PARTIES, control, NOW)


def test_committed_maps_are_a_fresh_derivation_of_pyx12s_maps():
    for name in derive_x279.MAPS:
        assert (derive_x279.HERE / name).read_text(encoding="utf-8") == derive_x279.render(name), f"re-run derive_x279 for {name}"


def test_every_demo_patients_270_is_valid_with_right_counts_and_control_numbers():
    for control, inquiry in enumerate(inquiries(), start=1000):
        text = build_270(inquiry, PARTIES, control, NOW)
        assert validate(text) == [], inquiry.trace
        _, segments = split_segments(text)
        ids = [s[0] for s in segments]
        st, se = segments[ids.index("ST")], segments[ids.index("SE")]
        assert int(se[1]) == ids.index("SE") - ids.index("ST") + 1 and se[2] == st[2]
        assert segments[0][13] == segments[-1][2] == f"{control:09d}"
        assert segments[1][6] == segments[ids.index("GE")][2] == str(control)
        nm1_il = next(s for s in segments if s[:2] == ["NM1", "IL"])
        assert nm1_il[8:10] == ["MI", inquiry.member_id]
        assert ["DTP", "291", "D8", "20250304"] in segments and ["EQ", "98"] in segments


def test_names_are_reduced_to_the_basic_character_set():
    text = one_270()
    assert "NM1*IL*1*GARCIA LOPEZ*MARIA JOSE****MI*" in text  # from García López, María José


@pytest.mark.parametrize("break_it, expected", [
    (lambda t: t.replace("SE*14*", "SE*13*"), "SE count"),
    (lambda t: __import__("re").sub(r"(NM1\*IL\*[^~]*\*MI)\*[A-Z0-9]+~", r"\1~", t), "P0809"),
    (lambda t: __import__("re").sub(r"DMG\*D8\*\d{8}", "DMG*D8*19561399", t), "invalid date"),
    (lambda t: t.replace("ST*270*0042*005010X279A1", "ST*270*0042"), "ST03"),
])  # fmt: skip
def test_pyx12_refuses_broken_270s(break_it, expected):
    text = one_270()
    assert "SE*14*" in text
    broken = break_it(text)
    assert broken != text
    problems = validate(broken)
    assert problems and any(expected.lower() in p.lower() for p in problems), problems


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_simulators_271s_are_valid(scenario):
    answer = build_271(read_270(one_270()), scenario, 7001, NOW)
    assert validate(answer) == []


def test_271_summaries():
    request = read_270(one_270())

    def summary(scenario):
        return parse_271(build_271(request, scenario, 7001, NOW), "98", trace="LC000000000")

    active = summary("active")
    assert (active.status, str(active.copay), str(active.coinsurance_percent), str(active.deductible_remaining)) == (
        "active", "25", "20", "350")
    assert active.network == "Y" and active.plan_name == "GOLD PPO 500" and active.group_number == "GRP-204"
    assert (active.plan_begin, active.plan_end) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    inactive = summary("inactive")
    assert inactive.status == "inactive" and inactive.plan_end == dt.date(2025, 2, 28)
    assert inactive.reason == "Coverage inactive (ended 2025-02-28)"
    invalid = summary("invalid_id")
    assert invalid.status == "rejected" and invalid.reason == "Invalid member ID"
    assert invalid.rejections[0].loop == "2100C" and invalid.rejections[0].follow_up == "C" and not invalid.retryable
    busy = summary("busy")
    assert busy.rejections[0].loop == "2100A" and busy.retryable
    assert summary("not_found").reason == "Subscriber not found"
    many = summary("many")
    assert len(many.benefits) == 9 and str(many.copay) == "30" and str(many.deductible_remaining) == "1200"
    assert any(b.covers("UC") and str(b.amount) == "75" for b in many.benefits)
    assert str(parse_271(build_271(request, "many", 7001, NOW), "UC").copay) == "75"  # the visit's service type decides


def test_271_reader_refuses_garbage_and_answers_for_other_inquiries():
    with pytest.raises(X12Error):
        parse_271("<html>gateway timeout</html>", "98")
    with pytest.raises(X12Error):
        parse_271(one_270(), "98")  # a 270 is not an answer
    answer = build_271(read_270(one_270()), "active", 7001, NOW)
    with pytest.raises(X12Error):
        parse_271(answer, "98", trace="LC999999999")
    with pytest.raises(X12Error):
        parse_271(answer.replace("EB*B*IND*98*HM**27*25", "EB*B*IND*98*HM**27*2X5"), "98")
