"""A Vietnamese, an Arabic and a German patient each finish a check-in in their own language, in the real
kiosk app under Xvfb against a real agent; the done screens are the README's screenshots."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.kiosk.conftest import agent  # noqa: F401 - the fixture
from tests.kiosk.test_window import Scenario

pytestmark = pytest.mark.window

REPO = Path(__file__).resolve().parents[2]
CATALOGUES = REPO / "config" / "translations"


def catalogue(language: str) -> dict[str, str]:
    return json.loads((CATALOGUES / f"kiosk.{language}.json").read_text(encoding="utf-8"))


def test_a_vietnamese_an_arabic_and_a_german_patient_check_in_in_their_language(tmp_path, agent):  # noqa: F811
    scenario = Scenario(tmp_path, "three_languages", agent)
    site = scenario.workdir / "site.toml"
    site.write_text(re.sub(r"^(\[site\]\n)", r'\1languages = ["en", "vi", "ar", "de"]\n', site.read_text(), count=1, flags=re.M))
    scenario.run(timeout_s=280)  # three check-ins: ~60 s here
    done = [event for event in scenario.events if event["event"] == "done"]
    assert [event["language"] for event in done] == ["vi", "ar", "de"]
    for event in done:
        assert event["title"] == catalogue(event["language"])["done.title"] != catalogue("en")["done.title"]
        assert Path(event["shot"]).stat().st_size > 10_000
    with sqlite3.connect(f"file:{agent.current.store_path}?mode=ro", uri=True) as db:
        languages = [row[0] for row in db.execute("SELECT language FROM arrivals ORDER BY arrived_at")]
    assert languages[-3:] == ["vi", "ar", "de"]  # the agent recorded each patient's language
    tickets = {event["ticket"] for event in done}
    assert len(tickets) == 3
