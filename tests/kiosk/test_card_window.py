"""The insurance card in the real kiosk app under Xvfb, against a real agent: a synthetic card dropped into
the card scanner's hot folder is read, its fields shown large, one confirmed and one corrected by touch, the
check-in carries the card, and afterwards nothing of it is left in the app or on the kiosk's disk."""

from __future__ import annotations

import pytest

from tests.kiosk.test_window import Scenario, arrivals, finish_when_done

pytestmark = pytest.mark.window


def test_a_card_in_the_hot_folder_is_read_confirmed_corrected_sent_and_forgotten(tmp_path, agent):
    scenario = Scenario(tmp_path, "insurance_card", agent)
    scenario.run(finish_when_done(scenario))
    shown = scenario.event("card_shown")
    truth = shown["truth"]
    assert shown["values"] == {"payer_name": truth["payer_name"], "member_id": truth["member_id"],
                               "group_number": truth["group_number"], "plan": truth["plan"]}  # fmt: skip
    assert shown["marks"]["member_id"] == "The front desk will check this"  # read with Tesseract's doubt
    assert shown["marks"]["payer_name"] == shown["marks"]["plan"] == ""
    assert shown["folder"] == []  # the hot folder's files are gone once read
    assert shown["value_font"] > shown["body_font"]  # large
    assert scenario.event("typed")["field"] == "3036499"
    corrected = scenario.event("corrected")
    assert corrected["values"]["group_number"] == "3036499" and corrected["values"]["member_id"] == truth["member_id"]
    [request] = scenario.event("sent")["requests"]
    assert request["coverage"] == {"payor": truth["payer_name"], "member_id": truth["member_id"], "group": "3036499",
                                   "plan": truth["plan"], "valid_until": None, "source": "card"}  # fmt: skip
    fields = request["fields"]
    assert fields["group_number"] == {"value": "3036499", "needs_review": False, "corrected": True}
    assert fields["member_id"] == {"value": truth["member_id"], "needs_review": True, "corrected": False}  # confirmed as read
    assert fields["rx_bin"]["value"] == truth["rx_bin"] and not fields["rx_bin"]["corrected"]  # sent as read, not shown
    assert request["front"]["format"] == request["back"]["format"] == "JPEG"
    assert request["front"]["size"] == [1091, 718] and 20_000 < request["front"]["bytes"] < 2_000_000
    [arrival] = arrivals(agent)
    assert arrival["status"] == "waiting" and arrival["ticket"] == scenario.event("sent")["ticket"]
    after = scenario.event("after")
    assert after == {**after, "readings": 0, "images": [], "leaks": [], "texts": [], "view_card": {},
                     "held": {"insurance_card": False, "card_jpegs": False, "card_scan": False, "card_coverage": False}}
    assert not any(name.endswith((".jpg", ".png")) for name in after["files"]), after["files"]


def test_the_keypad_answers_the_card_question_hears_a_failed_scan_and_skips(tmp_path, agent):
    scenario = Scenario(tmp_path, "card_by_keypad", agent)
    scenario.run()
    assert scenario.event("scan_failed")["notice"].startswith("No card came to the scanner.")
    assert scenario.event("skipped")["step"] in ("forms", "submitting", "done")


def test_the_demo_patient_scans_the_licence_and_the_simulated_card(tmp_path, agent):
    scenario = Scenario(tmp_path, "demo_with_card", agent)
    scenario.run()
    assert scenario.event("card_read")["fields"] == 4
    sent = scenario.event("sent")
    [request] = sent["requests"]
    assert sent["fed"] == 1 and request["front"]["format"] == "JPEG" and request["coverage"]["source"] == "card"
    assert request["coverage"]["member_id"] and not any(field["corrected"] for field in request["fields"].values())
