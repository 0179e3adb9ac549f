"""The parts of edge_agent/metrics.py that turn free text and site settings into bounded gauges."""

from __future__ import annotations

import datetime as dt

import pytest

from edge_agent import config
from edge_agent.metrics import REASONS, reason_label, safe_label, site_open


@pytest.mark.parametrize("text, expected", [
    ("", "none"), ("paper low", "paper_low"), ("Paper out", "paper_out"), ("cover open", "cover_open"),
    ("head open", "head_open"), ("ribbon out", "ribbon_out"), ("paused", "paused"), ("offline", "disconnected"),
    ("not connected", "disconnected"), ("no card reader", "disconnected"), ("status unknown", "status_unknown"),
    ("not opened", "status_unknown"), ("printer error", "device_error"), ("Maria Garcia 1984-03-02", "other"),
])  # fmt: skip
def test_free_text_reasons_map_onto_the_fixed_set(text: str, expected: str) -> None:
    assert reason_label(text) == expected and expected in REASONS


def test_kiosk_supplied_names_become_short_plain_labels() -> None:
    assert safe_label('Lobby "left" printer\n{x}') == "Lobby left printerx"
    assert len(safe_label("x" * 100)) == 40 and safe_label("***") == "unnamed"


def test_site_open_follows_the_opening_hours_in_site_time() -> None:
    site = config.from_mapping({"site": {"timezone": "America/Chicago",
                                         "opening_hours": {"mon": "07:00-12:00,13:00-19:00", "sat": "08:00-12:00"}}})  # fmt: skip
    monday = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)  # a Monday; Chicago is UTC-6 in winter
    assert site_open(site, monday.replace(hour=13))  # 07:00 local
    assert not site_open(site, monday.replace(hour=12, minute=59))  # 06:59
    assert not site_open(site, monday.replace(hour=18, minute=30))  # 12:30: lunch
    assert not site_open(site, monday + dt.timedelta(days=1, hours=15))  # Tuesday: not listed, closed
    assert site_open(site, monday + dt.timedelta(days=5, hours=15))  # Saturday 09:00
    assert site_open(config.from_mapping({}), monday)  # no opening hours: always open


@pytest.mark.parametrize("hours, message", [
    ({"mo": "07:00-19:00"}, "unknown weekday 'mo'"),
    ({"mon": "7-19"}, "must be HH:MM-HH:MM"),
    ({"mon": "19:00-07:00"}, "must end after it starts"),
])  # fmt: skip
def test_bad_opening_hours_name_the_key(hours: dict, message: str) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.from_mapping({"site": {"opening_hours": hours}})
    assert str(caught.value).startswith("site.opening_hours") and message in str(caught.value)
