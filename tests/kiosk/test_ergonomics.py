"""Every screen, both themes, both languages, at the configured panel's geometry: measured from the real
app's widget tree under Xvfb. One app process per orientation (kiosk.autopilot.tour walks the screens), en and es in full, Arabic
(right to left) on a few screens.

Fails on any control under 19 mm in either direction (physical mm of the configured 21.5" panel, not
Kivy's 96-dpi unit), outside 380-1,220 mm above the floor (bottom edge mounted at 800 mm), outside the
window, on a palette pairing under 4.5:1 (text) / 3:1 (controls), or on text drawn in a colour that is
not one of the palette's checked text colours.
"""

from __future__ import annotations

import pytest

from kiosk.theme import MIN_TARGET_MM, REACH_MM
from tests.kiosk.samples import RTL_SPOT_CHECK
from tests.kiosk.test_window import Scenario

pytestmark = pytest.mark.window
SIZES = {"portrait": "1080x1920", "landscape": "1920x1080"}


@pytest.mark.parametrize("orientation", sorted(SIZES))
def test_every_screen_meets_the_size_reach_and_contrast_rules(tmp_path, orientation):
    scenario = Scenario(tmp_path, "every_screen", None, orientation=orientation, panel_diagonal_in=21.5, panel_bottom_mm=800)
    site = scenario.workdir / "site.toml"
    site.write_text(site.read_text().replace("[site]\n", '[site]\nlanguages = ["en", "es", "ar"]\n', 1))
    (scenario.workdir / "window-size").write_text(SIZES[orientation])
    screens = [event for event in scenario.run(timeout_s=300) if event["event"] == "screen"]
    assert len(screens) == 4 * 24 + len(RTL_SPOT_CHECK) and {s["theme"] for s in screens} == {"standard", "high_contrast"}
    assert {s["name"] for s in screens if s["language"] == "ar"} == RTL_SPOT_CHECK
    assert {s["large_text"] for s in screens} == {True, False}
    breaches = []
    for screen in screens:
        where = f"{screen['name']}/{screen['theme']}/{screen['language']}"
        assert screen["controls"], f"{where}: no controls found"
        for control in screen["controls"]:
            if control["min_mm"] < MIN_TARGET_MM:
                breaches.append(f"{where}: {control['text']!r} is {control['min_mm']} mm")
            if control["low_mm"] < REACH_MM[0] or control["high_mm"] > REACH_MM[1]:
                breaches.append(f"{where}: {control['text']!r} spans {control['low_mm']}-{control['high_mm']} mm above the floor")
            if not control["inside"]:
                breaches.append(f"{where}: {control['text']!r} is partly outside the window")
        breaches += [f"{where}: {problem}" for problem in screen["contrast"]]
        breaches += [f"{where}: text {text!r} in an unchecked colour {colour}" for text, colour in screen["off_palette"]]
    assert breaches == []
    smallest = min(control["min_mm"] for screen in screens for control in screen["controls"])
    highest = max(control["high_mm"] for screen in screens for control in screen["controls"])
    print(f"{orientation}: {len(screens)} screens, smallest control {smallest} mm, highest control edge {highest} mm")
