"""Run the real kiosk app in this process and drive it with synthetic touches (one scenario per process).

    python tests/kiosk/window_driver.py SCENARIO WORKDIR

WORKDIR holds `site.toml` (the kiosk's config). The driver starts the simulated lobby (real drivers
against simulators speaking the wire protocols), runs the app, starts the scenario from the first
`Window.on_flip`, taps at `widget.to_window(*widget.center)`, and writes `events.jsonl` (one JSON object
per line: milestones and findings) for the test to read. The test can hand it commands by creating
files in WORKDIR (`proceed-<name>`). A watchdog stops a hung app.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SCENARIO, WORKDIR = sys.argv[1], Path(sys.argv[2])
WATCHDOG_S = 120
STEP_TIMEOUT_S = 30
PHI_MARKERS = ("ROSSI", "Rossi", "Giulia", "GIULIA", "1962", "03/03/")
EVENTS = (WORKDIR / "events.jsonl").open("a", encoding="utf-8")


def report(event: str, **details) -> None:
    EVENTS.write(json.dumps({"event": event, "t": round(time.monotonic(), 3), **details}) + "\n")
    EVENTS.flush()


from edge_agent import config as site_config  # noqa: E402
from kiosk import window  # noqa: E402

SITE = site_config.load(WORKDIR / "site.toml")
SIZE = tuple(int(n) for n in (WORKDIR / "window-size").read_text().split("x")) if (WORKDIR / "window-size").exists() else (540, 960)
window.configure(SITE.kiosk.orientation, windowed=True, size=SIZE)

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.graphics import Line  # noqa: E402
from kivy.metrics import Metrics  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402
from kivy.uix.button import Button  # noqa: E402
from kivy.uix.widget import Widget  # noqa: E402

from kiosk.app import KioskApp  # noqa: E402
from kiosk.screens.overlays import StaffOverlay  # noqa: E402
from kiosk.simulators.lobby import SimulatedLobby  # noqa: E402


class Driver:
    """Runs a scenario generator one step per frame. A scenario yields a condition (callable) to wait
    for, or an int number of frames to let pass (layout settles on the next frame)."""

    def __init__(self, app: KioskApp, lobby: SimulatedLobby, scenario):
        self.app, self.lobby = app, lobby
        self._scenario = scenario(self)
        self._waiting = None
        self._deadline = 0.0
        self._frames = 0
        self.failed = False

    def first_frame(self, *_args) -> None:
        Window.unbind(on_flip=self.first_frame)
        report("first_frame")
        Clock.schedule_interval(self._step, 0)

    def _step(self, _dt) -> None:
        if self._frames > 0:
            self._frames -= 1
            return
        if self._waiting is not None:
            if not self._waiting():
                if time.monotonic() > self._deadline:
                    self.fail(f"timed out waiting for {getattr(self._waiting, 'description', self._waiting)} at step {self.app.flow.step.value}")
                return
            self._waiting = None
        try:
            wanted = next(self._scenario)
        except StopIteration:
            report("finished")
            self.stop()
            return
        except Exception:
            self.fail(traceback.format_exc())
            return
        if isinstance(wanted, int):
            self._frames = wanted
        else:
            self._waiting, self._deadline = wanted, time.monotonic() + STEP_TIMEOUT_S

    def fail(self, why: str) -> None:
        self.failed = True
        report("failed", why=why, step=self.app.flow.step.value)
        self.stop()

    def stop(self) -> None:
        Clock.unschedule(self._step)
        self.app.stop()

    # --- helpers for scenarios -------------------------------------------------------------------

    def screen(self, name: str):
        return self.app.root.ids.steps.get_screen(name)

    def tap(self, widget: Widget) -> None:
        assert widget.get_root_window() is not None, f"{widget} is not on screen"
        assert not widget.disabled and widget.opacity > 0, f"{widget} is hidden or disabled"
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def draw(self, area: Widget) -> None:
        """A signature: one zigzag stroke across most of the area."""
        x0, y0 = area.to_window(area.x, area.y)
        points = [(x0 + area.width * (0.1 + 0.08 * i), y0 + area.height * (0.3 if i % 2 else 0.7)) for i in range(11)]
        touch = UnitTestTouch(*points[0])
        touch.touch_down()
        for x, y in points[1:]:
            touch.touch_move(x, y)
        touch.touch_up()

    def at(self, step: str):
        condition = lambda: self.app.view.step == step and self.app.root.ids.steps.current == step  # noqa: E731
        condition.description = f"step {step}"
        return condition

    def until(self, condition, description: str):
        condition.description = description
        return condition

    def proceed(self, name: str):
        """Wait for the test to create `proceed-<name>` in WORKDIR."""
        return self.until(lambda: (WORKDIR / f"proceed-{name}").exists(), f"the test's go-ahead {name!r}")

    def key(self, char: str) -> Widget:
        keys = self.screen("manual").ids.letters if char.isalpha() else self.screen("manual").ids.digits
        return next(button for button in keys.children if getattr(button, "key", None) == char)

    def ergonomics(self) -> dict:
        """Every visible button's size in mm, and where the screen's primary buttons sit (0 bottom, 1 top)."""
        px_per_mm = Metrics.dpi / 25.4
        buttons = [w for w in self.app.root.walk() if isinstance(w, Button) and w.opacity > 0 and not w.disabled and w.width > 2]
        smallest = min(buttons, key=lambda b: min(b.width, b.height))
        primary = [b for b in buttons if type(b).__name__ == "PrimaryButton"]
        return {
            "step": self.app.view.step,
            "smallest_mm": round(min(smallest.width, smallest.height) / px_per_mm, 1),
            "smallest_text": smallest.text,
            "primary_heights": [round(b.to_window(*b.center)[1] / Window.height, 2) for b in primary],
        }

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
    yield d.at("attract")
    yield 2
    if measure:
        report("ergonomics", **d.ergonomics())
    d.tap(d.screen("attract").ids.start)
    yield d.at("identify")
    yield 2
    if measure:
        report("ergonomics", **d.ergonomics())
    d.tap(d.screen("identify").ids.type_by_hand)
    yield d.at("manual")
    yield 2
    if measure:
        report("ergonomics", **d.ergonomics())
    for char in family:
        d.tap(d.key(char))
        yield 1
    d.tap(d.screen("manual").ids.birth)
    yield 2
    for char in digits:
        d.tap(d.key(char))
        yield 1


def sign_forms(d: Driver, first_on_pad: bool = False):
    """Sign every form: with a finger on the screen, or the first one on the simulated signature pad."""
    while d.app.view.step == "forms":
        number = d.app.view.form_number
        yield 2
        if first_on_pad and number == 1:
            d.lobby.command("sign", [])
        elif first_on_pad and number == 2:
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
        else:
            d.draw(d.screen("forms").ids.signature)
            yield 2
            d.tap(d.screen("forms").ids.sign)
        yield d.until(lambda: d.app.view.step != "forms" or d.app.view.form_number != number, "the next form")
        consent = d.app.flow.session.consents[-1] if d.app.flow.session.consents else None
        device = consent.signature.device if consent is not None and consent.signature else None
        report("form_signed", number=number, language=d.app.view.language, device=device)


def confirm_and_sign(d: Driver, first_on_pad: bool = False):
    yield d.at("confirm")
    yield 2
    confirm = d.screen("confirm").ids
    report("confirm", texts=[confirm.when.text, confirm.clinician.text, confirm.yes.text])
    d.tap(confirm.yes)
    yield d.until(lambda: d.app.view.step in ("forms", "done", "submitting"), "forms or done")
    yield from sign_forms(d, first_on_pad)
    yield d.at("done")
    yield 2


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
    before = manual.family.text
    d.tap(d.app.root.ids.languages.button_for("es"))
    yield 2
    report("switched", family_before=before, family_after=manual.family.text, search=manual.search.text,
           step=d.app.view.step)  # fmt: skip
    for char in "03031962":
        d.tap(d.key(char))
        yield 1
    d.tap(manual.search)
    yield d.at("confirm")
    yield 2
    d.tap(d.app.root.ids.read_aloud)
    speech = d.app._speech
    report("read_aloud", command=list(speech.args) if speech else None)
    yes = d.screen("confirm").ids.yes
    normal = (yes.font_size, tuple(yes.background_color))
    d.tap(d.app.root.ids.large_text)
    yield 2
    x_windows = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, timeout=10).stdout
    report("large_text", title=x_windows, before=normal, after=(yes.font_size, tuple(yes.background_color)),
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
    corner = UnitTestTouch(5, Window.height - 5)
    corner.touch_down()
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


SCENARIOS = {
    "full_checkin": full_checkin,
    "language_switch": language_switch,
    "idle_timeout": idle_timeout,
    "printer_out_of_paper": printer_out_of_paper,
    "agent_killed": agent_killed,
}


def main() -> int:
    lobby_dir = Path(tempfile.mkdtemp(prefix="lobby-"))  # short: the control socket's path has a length limit
    lobby = SimulatedLobby(lobby_dir, with_card_reader=False).start()
    try:
        app = KioskApp(SITE, device_configs=lobby.devices)
        driver = Driver(app, lobby, SCENARIOS[SCENARIO])
        Window.bind(on_flip=driver.first_frame)
        Clock.schedule_once(lambda _dt: driver.fail("watchdog"), WATCHDOG_S)
        report("starting", scenario=SCENARIO)
        app.run()
    finally:
        lobby.stop()
        shutil.rmtree(lobby_dir, ignore_errors=True)
    report("exit", failed=driver.failed)
    return 1 if driver.failed else 0


if __name__ == "__main__":
    sys.exit(main())
