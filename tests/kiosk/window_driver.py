"""Run the real kiosk app in this process and drive it with the autopilot's synthetic touches (one scenario per process).

    python tests/kiosk/window_driver.py SCENARIO WORKDIR

WORKDIR holds `site.toml` (the kiosk's config). The driver starts the simulated lobby (real drivers
against simulators speaking the wire protocols), runs the app, starts the scenario from the first
`Window.on_flip` (kiosk/autopilot.py: the stepping, tapping and reusable steps; screenshots go to
WORKDIR/screens), and writes `events.jsonl` (one JSON object
per line: milestones and findings) for the test to read. The test can hand it commands by creating
files in WORKDIR (`proceed-<name>`). A watchdog stops a hung app.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SCENARIO, WORKDIR = sys.argv[1], Path(sys.argv[2])
WATCHDOG_S = 120
LONG_SCENARIOS = {"every_screen": 420, "three_languages": 260, "blind_checkin": 300}  # watchdog seconds for scenarios that walk many screens
STEP_TIMEOUT_S = 30
PHI_MARKERS = ("ROSSI", "Rossi", "Giulia", "GIULIA", "1962", "03/03/")
EVENTS = (WORKDIR / "events.jsonl").open("a", encoding="utf-8")


def report(event: str, **details) -> None:
    EVENTS.write(json.dumps({"event": event, "t": round(time.monotonic(), 3), **details}) + "\n")
    EVENTS.flush()


from lobby_core import site_config  # noqa: E402
from kiosk import window  # noqa: E402

SITE = site_config.load(WORKDIR / "site.toml", site_config.KioskSiteConfig)
SIZE = tuple(int(n) for n in (WORKDIR / "window-size").read_text().split("x")) if (WORKDIR / "window-size").exists() else (540, 960)
window.configure(SITE.kiosk.orientation, windowed=True, size=SIZE)

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.graphics import Line  # noqa: E402
from kivy.metrics import Metrics  # noqa: E402
from kivy.uix.button import Button  # noqa: E402

from kiosk import autopilot  # noqa: E402
from kiosk.app import KioskApp  # noqa: E402
from kiosk.screens.overlays import StaffOverlay  # noqa: E402
from kiosk.simulators.lobby import SimulatedLobby  # noqa: E402
from kivy.uix.behaviors import ButtonBehavior  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

from kiosk import theme as themes  # noqa: E402
from kiosk.screens.signature_area import SignatureArea  # noqa: E402
from kiosk.screens.steps import _shown as shown  # noqa: E402


class Driver(autopilot.Driver):
    """The autopilot's driver, with what only the tests look at."""

    def proceed(self, name: str):
        """Wait for the test to create `proceed-<name>` in WORKDIR."""
        return self.until(lambda: (WORKDIR / f"proceed-{name}").exists(), f"the test's go-ahead {name!r}")

    def ergonomics(self) -> dict:
        """Every visible button's size in mm, and where the screen's primary buttons sit (0 bottom, 1 top)."""
        px_per_mm = self.app.theme.px_per_mm  # the configured panel's, not Kivy's 96-dpi mm
        buttons = [w for w in self.app.root.walk() if isinstance(w, Button) and w.opacity > 0 and not w.disabled and w.width > 2]
        smallest = min(buttons, key=lambda b: min(b.width, b.height))
        primary = [b for b in buttons if type(b).__name__ == "PrimaryButton"]
        return {
            "step": self.app.view.step,
            "smallest_mm": round(min(smallest.width, smallest.height) / px_per_mm, 1),
            "smallest_text": smallest.text,
            "primary_heights": [round(b.to_window(*b.center)[1] / Window.height, 2) for b in primary],
        }

    def measure(self) -> dict:
        """The screen as shown, from the widget tree: every enabled control's size in physical mm and its
        height above the floor (the configured panel), and every colour drawn for text."""
        theme, panel, size = self.app.theme, self.app.panel, tuple(Window.size)
        controls = []
        for root in Window.children:
            for widget in root.walk():
                if not isinstance(widget, (ButtonBehavior, SignatureArea)) or widget.disabled or not shown(widget):
                    continue
                x, y = widget.to_window(*widget.pos)
                controls.append({
                    "text": getattr(widget, "text", type(widget).__name__)[:40],
                    "min_mm": round(min(widget.width, widget.height) / theme.px_per_mm, 1),
                    "low_mm": round(panel.height_above_floor_mm(y, size)), "high_mm": round(panel.height_above_floor_mm(y + widget.height, size)),
                    "inside": x >= -1 and y >= -1 and x + widget.width <= size[0] + 1 and y + widget.height <= size[1] + 1,
                })  # fmt: skip
        text_colours = {tuple(getattr(theme.palette, name)) for name in ("fg", "muted", "primary_text", "notice_fg")}
        off_palette = sorted({
            (w.text[:30], tuple(round(c, 3) for c in w.color))
            for root in Window.children for w in root.walk()
            if isinstance(w, Label) and w.text.strip() and shown(w) and not w.disabled and tuple(w.color) not in text_colours
        })  # fmt: skip
        return {"step": self.app.view.step, "theme": theme.palette.name, "large_text": theme.large_text,
                "controls": controls, "off_palette": [list(item) for item in off_palette],
                "contrast": themes.contrast_problems(theme.palette)}  # fmt: skip

    def texts_everywhere(self) -> list[str]:
        """The text of every widget: the window's tree (overlays too) and every screen, shown or not."""
        roots = list(Window.children) + list(self.app.root.ids.steps.screens)
        texts = []
        for root in roots:
            for widget in root.walk():
                text = getattr(widget, "text", "")
                if isinstance(text, str) and text:
                    texts.append(text)
        return texts


# --- scenarios ---------------------------------------------------------------------------------------


def type_patient(d: Driver, family: str = "ROSSI", digits: str = "03031962", measure: bool = False):
    on_screen = (lambda: report("ergonomics", **d.ergonomics())) if measure else (lambda: None)
    yield from autopilot.type_patient(d, family, digits, on_screen)


def pad_then_clear_ink(d: Driver, number: int):
    """Form 1 on the pad; form 2: 'sign' with nothing drawn, draw, clear, draw again, sign; others by finger."""
    if number != 2:
        yield from autopilot.sign_first_on_pad(d, number)
        return
    forms = d.screen("forms").ids
    d.tap(forms.sign)  # nothing drawn yet
    yield 2
    unsigned = forms.notice.text
    d.draw(forms.signature)
    yield 2
    d.tap(forms.clear_ink)
    yield 2
    report("cleared", notice=unsigned, ink=len([i for i in forms.signature.canvas.children if isinstance(i, Line)]), strokes=d.app.flow.session.signature_strokes,
           still_on_form=d.app.view.form_number)  # fmt: skip
    d.draw(forms.signature)
    yield 2
    d.tap(forms.sign)


def confirm_and_sign(d: Driver, first_on_pad: bool = False):
    yield from autopilot.confirm_and_sign(d, pad_then_clear_ink if first_on_pad else autopilot.sign_by_finger)


def full_checkin(d: Driver):
    yield from type_patient(d)
    d.tap(d.screen("manual").ids.search)
    yield from confirm_and_sign(d, first_on_pad=True)
    done = d.screen("done").ids
    yield d.until(lambda: d.app.flow.ticket is not None and (d.app.flow.ticket.printed or d.app.flow.ticket.on_screen), "the printer's verdict")
    report("done", ticket=done.ticket.text, on_screen=d.app.flow.ticket.on_screen, printed=d.app.flow.ticket.printed,
           font_size=done.ticket.font_size, instruction=done.instruction.text,
           receipts=[getattr(r, "text", str(r)) for r in d.lobby.receipt_printer.printed])  # fmt: skip
    yield d.proceed("finish")
    d.tap(done.finish)
    yield d.at("attract")
    yield 2
    report("after", phi=[t for t in d.texts_everywhere() if any(m in t for m in PHI_MARKERS)],
           signature_ink=len([i for i in d.screen("forms").ids.signature.canvas.children if isinstance(i, Line)]))  # fmt: skip


def language_switch(d: Driver):
    yield from type_patient(d, digits="")
    manual = d.screen("manual").ids
    before = manual.family_done.text
    d.tap(d.app.root.ids.languages.button_for("es"))
    yield 2
    report("switched", family_before=before, family_after=manual.family_done.text, search=manual.search.text,
           step=d.app.view.step)  # fmt: skip
    for char in "03031962":
        d.tap(d.key(char))
        yield 1
    d.tap(manual.search)
    yield d.at("confirm")
    yield 2
    d.tap(d.app.root.ids.read_aloud)
    yield d.until(lambda: d.app.speech.idle, "read aloud to be spoken")
    report("read_aloud", voice=d.app.voice_for(d.app.flow.language).voice)
    yes = d.screen("confirm").ids.yes
    normal = (yes.font_size, d.app.theme.palette.name)
    d.tap(d.app.root.ids.large_text)
    yield 2
    larger = (yes.font_size, d.app.theme.palette.name)
    d.tap(d.app.root.ids.high_contrast)
    yield 2
    x_windows = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, timeout=10).stdout
    report("large_text", title=x_windows, before=normal, larger=larger, after=(yes.font_size, d.app.theme.palette.name),
           label=d.app.root.ids.large_text.text)  # fmt: skip
    yield from confirm_and_sign(d)
    report("done", ticket=d.screen("done").ids.ticket.text, title=d.screen("done").ids.title.text)


def idle_timeout(d: Driver):
    yield from type_patient(d, measure=True)
    report("typed", texts=[t for t in d.texts_everywhere() if any(m in t for m in PHI_MARKERS)])
    yield d.until(lambda: bool(d.app.view.idle_warning), "the idle warning")
    yield 2
    report("warning", texts=[w.text for w in Window.children[0].walk() if getattr(w, "text", "")])
    yield d.at("attract")
    yield 2
    report("after", phi=[t for t in d.texts_everywhere() if any(m in t for m in PHI_MARKERS)])


def printer_out_of_paper(d: Driver):
    d.lobby.command("printer", ["paper-out"])
    yield from full_checkin(d)
    yield from staff_overlay(d)


def staff_overlay(d: Driver):
    """Long press in the top-left corner, a wrong PIN, then the right one: the device states."""
    corner = d.press(5, Window.height - 5)
    pressed = time.monotonic()
    yield d.until(lambda: time.monotonic() - pressed > 2.3, "a long press")
    corner.touch_up()
    yield d.until(lambda: isinstance(Window.children[0], StaffOverlay), "the staff overlay")
    yield 2
    overlay = Window.children[0]
    digits = {b.text: b for b in overlay.walk() if isinstance(b, Button) and b.text in list("0123456789")}
    digits["OK"] = overlay.ids.enter
    for char in "1111":
        d.tap(digits[char])
        yield 1
    d.tap(digits["OK"])
    yield 2
    wrong = overlay.problem
    for char in SITE.kiosk.staff_pin:
        d.tap(digits[char])
        yield 1
    d.tap(digits["OK"])
    yield 2
    report("staff", wrong=wrong, status=d.app.staff_status, shown=[w.text for w in overlay.walk() if getattr(w, "text", "")])


def agent_killed(d: Driver):
    yield from type_patient(d)
    d.tap(d.screen("manual").ids.search)
    yield d.at("confirm")
    report("at_confirm")
    yield d.proceed("agent-killed")
    yield from confirm_and_sign(d)
    report("done", ticket=d.screen("done").ids.ticket.text, offline=d.app.flow.ticket.offline,
           spooled=d.app.spool.depth(), instruction=d.screen("done").ids.instruction.text)  # fmt: skip
    yield d.until(lambda: d.app.spool.depth() == 0, "the spool to drain")
    report("spool_empty")
    yield d.proceed("finish")


def demo_patient(d: Driver):
    """The demo's scripted patient, once: a scanned licence, the pad, the forms, the ticket."""
    yield from autopilot.demo_patients(d, 1, pause_s=0.5)


def language_picker(d: Driver):
    """Twelve languages: the bar's one button opens the grid; Arabic is chosen and the identify screen
    is drawn right to left (tests/i18n/test_picker.py). Heights in physical mm of the configured panel."""
    bar = d.app.root.ids.languages
    opener = bar.children[0]
    report("bar", opens_picker=bar.opens_picker, text=opener.logical_text, buttons=len(bar.children))
    d.tap(opener)
    yield 2
    buttons = list(reversed(bar.picker.ids.grid.children))
    report("picker", order=[b.language for b in buttons], names=[b.logical_text for b in buttons],
           heights_mm=[round(b.height / d.app.theme.px_per_mm, 1) for b in buttons], fonts=[b.font_name for b in buttons])  # fmt: skip
    d.snapshot("language-picker")
    d.tap(bar.picker.button_for("ar"))
    yield d.until(lambda: bar.picker.parent is None and d.app.view.language == "ar", "the picker to close on Arabic")
    yield 5
    d.tap(d.screen("attract").ids.start)
    yield d.at("identify")
    yield 2
    title = d.screen("identify").ids.type_by_hand
    report("arabic", language=d.app.view.language, logical=title.logical_text, drawn=title.text, font=title.font_name,
           picker_open=bool(bar.picker.parent))  # fmt: skip
    d.snapshot("identify-ar")


PATIENTS_BY_LANGUAGE = [("vi", "OKAFOR", dt.date(1995, 10, 10)), ("ar", "HADDAD", dt.date(1959, 8, 19)),
                         ("de", "MULLER", dt.date(1948, 1, 30))]  # fmt: skip


def three_languages(d: Driver):
    """A Vietnamese, an Arabic and a German patient, one after another: each picks their language on the
    welcome screen, types their name and birth date, signs what is due and gets the ticket."""
    for language, family, birth in PATIENTS_BY_LANGUAGE:
        yield from autopilot.settle(d, "attract")
        bar = d.app.root.ids.languages
        if bar.opens_picker:
            d.tap(bar.children[0])
            yield 2
            d.tap(bar.picker.button_for(language))
        else:
            d.tap(bar.button_for(language))
        yield d.until(lambda: d.app.view.language == language, f"the screens in {language}")
        yield from type_patient(d, family, d.birth_digits(birth))
        d.tap(d.screen("manual").ids.search)
        yield from confirm_and_sign(d)
        yield d.until(lambda: d.app.flow.ticket is not None and (d.app.flow.ticket.printed or d.app.flow.ticket.on_screen), "the printer's verdict")
        done = d.screen("done").ids
        report("done", language=d.app.flow.language, title=getattr(done.title, "logical_text", done.title.text),
               ticket=done.ticket.text, shot=str(d.snapshot(f"done-{language}")))  # fmt: skip
        d.tap(done.finish)
        yield d.at("attract")


def every_screen(d: Driver):
    """Every screen (kiosk.autopilot.tour) in both themes and both languages, then Arabic (right to left)
    on a few screens, measured as drawn. Each is measured once its layout has settled: two frames in a row
    with the same measurement (labels size their textures a frame after their text changes)."""
    from dataclasses import replace

    from kiosk.devices.base import DeviceState, DeviceStatus
    from tests.kiosk.samples import RTL_SPOT_CHECK

    flow = d.app.flow
    flow.settings = replace(flow.settings, device_kinds={"scanner": "id_scanner"})
    rounds = [(False, "en", None), (True, "es", None), (False, "es", None), (True, "en", None), (False, "ar", RTL_SPOT_CHECK)]
    for high_contrast, language, only in rounds:
        if d.app.high_contrast != high_contrast:
            d.app.toggle_high_contrast()
        for name, online in autopilot.tour(d.app, language):
            if only is not None and name not in only:
                continue
            flow.agent_online = online
            flow.devices["scanner"] = DeviceStatus(DeviceState.ONLINE)
            d.app.refresh()
            measured: list[dict] = []

            def settled() -> bool:
                measured.append(d.measure())
                return len(measured) >= 2 and measured[-1] == measured[-2]

            yield d.until(settled, f"the {name} screen's layout to settle")
            report("screen", name=name, language=language, frames=len(measured), **measured[-1])


from tests.kiosk.keypad_scenarios import SCENARIOS as KEYPAD_SCENARIOS  # noqa: E402
from tests.kiosk.card_scenarios import SCENARIOS as CARD_SCENARIOS  # noqa: E402

SCENARIOS = {
    **KEYPAD_SCENARIOS,
    **CARD_SCENARIOS,
    "language_picker": language_picker,
    "every_screen": every_screen,
    "full_checkin": full_checkin,
    "language_switch": language_switch,
    "idle_timeout": idle_timeout,
    "printer_out_of_paper": printer_out_of_paper,
    "agent_killed": agent_killed,
    "demo_patient": demo_patient,
    "three_languages": three_languages,
}


def main() -> int:
    lobby_dir = Path(tempfile.mkdtemp(prefix="lobby-"))  # short: the control socket's path has a length limit
    lobby = SimulatedLobby(lobby_dir, with_card_reader=False, with_card_scanner=SCENARIO in CARD_SCENARIOS).start()
    try:
        app = KioskApp(SITE, device_configs=lobby.devices)
        driver = Driver(app, SCENARIOS[SCENARIO], lobby=lobby, screenshots=WORKDIR / "screens", report=report,
                        quit_when_done=True, step_timeout_s=STEP_TIMEOUT_S).start_on_first_frame()  # fmt: skip
        Clock.schedule_once(lambda _dt: driver.fail("watchdog"), LONG_SCENARIOS.get(SCENARIO, WATCHDOG_S))
        report("starting", scenario=SCENARIO)
        app.run()
    finally:
        lobby.stop()
        shutil.rmtree(lobby_dir, ignore_errors=True)
    report("exit", failed=driver.failed)
    return 1 if driver.failed else 0


if __name__ == "__main__":
    sys.exit(main())
