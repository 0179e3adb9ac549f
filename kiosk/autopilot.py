"""A scripted patient: drives the running kiosk app with synthetic touches, as a person at the screen would.

    kiosk run --simulate --windowed --autopilot 3 --screenshots DIR

A scenario is a generator that takes the `Driver` and yields what to wait for: a condition (a callable,
named with `driver.until` or `driver.at`) or a number of frames to let pass (layout settles on the next
frame). The driver starts it from the window's first frame and steps it once per frame; it taps at
`widget.to_window(*widget.center)`, so a touch goes through the same widget tree a finger's would.
Import only after `kiosk.window.configure(...)`: importing Kivy's window creates it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.input.motionevent import MotionEvent
from kivy.uix.widget import Widget

from lobby_core.demo import DEMO_PATIENTS
from lobby_core.site_config import DEFAULT_CONSENTS_DIR

from .simulators.licence import licence_text

log = logging.getLogger("kiosk.autopilot")
STEP_TIMEOUT_S = 30.0
PAUSE_BETWEEN_PATIENTS_S = 4.0
# Demo patients with one unambiguous match and a family name of plain letters (the keyboard has no accents).
DEMO_WALK = ("Rossi", "Okafor", "Haddad", "Johnson", "Tanaka", "Kowalski", "Schmidt", "Dubois")

Condition = Callable[[], bool]
Scenario = Iterator["Condition | int"]


class SyntheticTouch(MotionEvent):
    """One finger on the window, at window coordinates; dispatched through Kivy's event loop."""

    def __init__(self, x: float, y: float):
        super().__init__("autopilot", 99, self._relative(x, y), is_touch=True, type_id="touch")
        self.profile = ["pos"]

    @staticmethod
    def _relative(x: float, y: float) -> dict:
        return {"x": x / (Window.width - 1.0), "y": y / (Window.height - 1.0)}

    def depack(self, args: dict) -> None:
        self.sx, self.sy = args["x"], args["y"]
        super().depack(args)

    def touch_down(self) -> None:
        EventLoop.post_dispatch_input("begin", self)

    def touch_move(self, x: float, y: float) -> None:
        self.move(self._relative(x, y))
        EventLoop.post_dispatch_input("update", self)

    def touch_up(self) -> None:
        EventLoop.post_dispatch_input("end", self)


class Driver:
    """Runs a scenario one step per frame from the window's first frame.

    `report(event, **details)` hears the milestones (first_frame, finished, failed) and what scenarios
    report; `quit_when_done` stops the app when the scenario ends (tests), else the app keeps running.
    """

    def __init__(self, app, scenario: Callable[["Driver"], Scenario], *, lobby=None, screenshots: Path | None = None,
                 report: Callable[..., None] | None = None, quit_when_done: bool = False,
                 step_timeout_s: float = STEP_TIMEOUT_S):  # fmt: skip
        self.app, self.lobby = app, lobby
        self.screenshots = screenshots
        self.report = report or (lambda event, **_details: log.info("autopilot: %s", event))
        self.quit_when_done = quit_when_done
        self.step_timeout_s = step_timeout_s
        self.failed = False
        self._scenario = scenario(self)
        self._waiting: Condition | None = None
        self._deadline = 0.0
        self._frames = 0
        self._shots = 0

    def start_on_first_frame(self) -> "Driver":
        Window.bind(on_flip=self._first_frame)
        return self

    def _first_frame(self, *_args) -> None:
        Window.unbind(on_flip=self._first_frame)
        self.report("first_frame")
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
            self.report("finished")
            self.stop()
            return
        except Exception:
            self.fail(traceback.format_exc())
            return
        if isinstance(wanted, int):
            self._frames = wanted
        else:
            self._waiting, self._deadline = wanted, time.monotonic() + self.step_timeout_s

    def fail(self, why: str) -> None:
        self.failed = True
        self.report("failed", why=why, step=self.app.flow.step.value)
        self.stop()

    def stop(self) -> None:
        Clock.unschedule(self._step)
        if self.quit_when_done:
            self.app.stop()

    # --- what scenarios use ------------------------------------------------------------------------

    def screen(self, name: str):
        return self.app.root.ids.steps.get_screen(name)

    def tap(self, widget: Widget) -> None:
        assert widget.get_root_window() is not None, f"{widget} is not on screen"
        assert not widget.disabled and widget.opacity > 0, f"{widget} is hidden or disabled"
        touch = SyntheticTouch(*widget.to_window(*widget.center))
        touch.touch_down()
        touch.touch_up()

    def read_to_end(self, scroller: Widget) -> None:
        """The patient slides a long text up until its end shows (what a finger's swipe leaves behind)."""
        scroller.scroll_y = 0

    def press(self, x: float, y: float) -> SyntheticTouch:
        """A finger put down at window coordinates and left there: the caller lifts it."""
        touch = SyntheticTouch(x, y)
        touch.touch_down()
        return touch

    def draw(self, area: Widget) -> None:
        """A signature: one zigzag stroke across most of the area."""
        x0, y0 = area.to_window(area.x, area.y)
        points = [(x0 + area.width * (0.1 + 0.08 * i), y0 + area.height * (0.3 if i % 2 else 0.7)) for i in range(11)]
        touch = self.press(*points[0])
        for x, y in points[1:]:
            touch.touch_move(x, y)
        touch.touch_up()

    def at(self, step: str) -> Condition:
        return self.until(lambda: self.app.view.step == step and self.app.root.ids.steps.current == step, f"step {step}")

    def until(self, condition: Condition, description: str) -> Condition:
        condition.description = description
        return condition

    def pause(self, seconds: float) -> Condition:
        end = time.monotonic() + seconds
        return self.until(lambda: time.monotonic() >= end, f"a pause of {seconds} s")

    def key(self, char: str) -> Widget:
        keys = self.screen("manual").ids.letters if char.isalpha() else self.screen("manual").ids.digits
        return next(button for button in keys.children if getattr(button, "key", None) == char)

    def snapshot(self, name: str) -> Path | None:
        """A PNG of the window as shown now, when screenshots were asked for; returns where it went."""
        if self.screenshots is None:
            return None
        self.screenshots.mkdir(parents=True, exist_ok=True)
        self._shots += 1
        wanted = self.screenshots / f"{self._shots:02d}-{name}.png"
        taken = Path(Window.screenshot(name=str(wanted)))  # Kivy numbers the name: 01-attract0001.png
        return taken.replace(wanted)

    def birth_digits(self, birth: dt.date) -> str:
        """A birth date as the patient types it in the current language's date order."""
        order = self.app.catalogues.locale(self.app.flow.language).date_order
        parts = {"D": f"{birth.day:02d}", "M": f"{birth.month:02d}", "Y": f"{birth.year:04d}"}
        return "".join(parts[letter] for letter in order)


# --- reusable steps ----------------------------------------------------------------------------------


def settle(d: Driver, step: str, snapshot: bool = False) -> Scenario:
    """Wait for a step's screen, let its layout settle, and photograph it when asked."""
    yield d.at(step)
    yield 2
    if snapshot:
        d.snapshot(step)


def type_patient(d: Driver, family: str, digits: str, on_screen: Callable[[], None] = lambda: None,
                 snapshots: bool = False) -> Scenario:  # fmt: skip
    """From the attract screen: start, choose typing, type the family name, Next, the birth date digits.
    `on_screen` runs on each of the three screens once it has settled."""
    yield from settle(d, "attract", snapshots)
    on_screen()
    d.tap(d.screen("attract").ids.start)
    yield from settle(d, "identify", snapshots)
    on_screen()
    d.tap(d.screen("identify").ids.type_by_hand)
    yield from settle(d, "manual")
    on_screen()
    for char in family:
        d.tap(d.key(char))
        yield 1
    d.tap(d.screen("manual").ids.search)  # "Next": the date pad, right where the keyboard was
    yield 2
    for char in digits:
        d.tap(d.key(char))
        yield 1
    if snapshots:
        d.snapshot("manual")


def sign_by_finger(d: Driver, _number: int) -> Scenario:
    forms = d.screen("forms").ids
    if not d.app.view.form_can_sign:
        d.read_to_end(forms.scroller)
        yield d.until(lambda: d.app.view.form_can_sign, "signing enabled at the form's end")
    d.draw(forms.signature)
    yield 2
    d.tap(forms.sign)


def sign_first_on_pad(d: Driver, number: int) -> Scenario:
    """The first form on the simulated signature pad, the others with a finger on the screen."""
    if number == 1:
        d.lobby.command("sign", [])
    else:
        yield from sign_by_finger(d, number)


def sign_forms(d: Driver, sign_form: Callable[[Driver, int], Scenario] = sign_by_finger, snapshots: bool = False) -> Scenario:
    """Sign every form, each the way `sign_form` does it; reports `form_signed` for each."""
    while d.app.view.step == "forms":
        number = d.app.view.form_number
        yield 2
        if snapshots and number == 1:
            d.snapshot("forms")
        yield from sign_form(d, number)
        yield d.until(lambda: d.app.view.step != "forms" or d.app.view.form_number != number, "the next form")
        consent = d.app.flow.session.consents[-1] if d.app.flow.session.consents else None
        device = consent.signature.device if consent is not None and consent.signature else None
        d.report("form_signed", number=number, language=d.app.view.language, device=device)


def answer_card(d: Driver, scan: bool, snapshots: bool = False, feed: Callable[[], None] | None = None) -> Scenario:
    """On "Do you have an insurance card?": skip it, or scan the card and confirm the fields as read
    (`feed`: put the card in the scanner after "Scan my card"; a simulated scanner in the demo feeds itself).
    A card that is not read is skipped, as a patient would. Reports `card_read` or `card_failed`."""
    yield from settle(d, "card_ask", snapshots)
    ask = d.screen("card_ask").ids
    if not scan:
        d.tap(ask.skip)
        yield d.until(lambda: d.app.view.step != "card_ask", "the card question to go")
        return
    d.tap(ask.yes)
    yield from settle(d, "card_scan", snapshots)
    d.tap(d.screen("card_scan").ids.scan)
    if feed is not None:
        feed()
    yield d.until(lambda: d.app.view.step in ("card_confirm", "card_scan"), "the card to be read")
    if d.app.view.step == "card_scan":
        d.report("card_failed", notice=d.screen("card_scan").ids.notice.text)
        d.tap(d.screen("card_scan").ids.skip)
    else:
        yield from settle(d, "card_confirm", snapshots)
        d.report("card_read", fields=len([name for name, value in d.app.view.card_values.items() if value]))
        d.tap(d.screen("card_confirm").ids.right)
    yield d.until(lambda: not d.app.view.step.startswith("card_"), "the card screens to end")


def confirm_and_sign(d: Driver, sign_form: Callable[[Driver, int], Scenario] = sign_by_finger,
                     snapshots: bool = False, card: bool = False) -> Scenario:  # fmt: skip
    """'Yes, that's me', "Is this still right?" (yes) when asked, the insurance card when asked (scanned
    if `card`, else skipped), sign every form, and arrive at the ticket."""
    yield from settle(d, "confirm", snapshots)
    confirm = d.screen("confirm").ids
    d.report("confirm", texts=[confirm.name.text, confirm.when.text, confirm.yes.text])
    d.tap(confirm.yes)
    yield d.until(lambda: d.app.view.step in ("review", "card_ask", "forms", "done", "submitting"), "review, forms or done")
    if d.app.view.step == "review":
        yield from settle(d, "review", snapshots)
        review = d.screen("review").ids
        d.report("review", texts=[review.hints.text, review.continue_.text, review.changed.text])
        d.tap(review.continue_)
        yield d.until(lambda: d.app.view.step in ("card_ask", "forms", "done", "submitting"), "forms or done")
    if d.app.view.step == "card_ask":
        yield from answer_card(d, card, snapshots)
    yield from sign_forms(d, sign_form, snapshots)
    yield from settle(d, "done", snapshots)


# --- the demo -----------------------------------------------------------------------------------------


def demo_patients(d: Driver, count: int, pause_s: float = PAUSE_BETWEEN_PATIENTS_S) -> Scenario:
    """`count` patients of the demo schedule check in one after another, `pause_s` apart so that a viewer
    can follow: the first scans a driver's licence and their insurance card (when the kiosk has a card
    scanner) and signs on the pad, the others type their name and birth date, skip the card and sign with
    a finger. Reports `checked_in` for each."""
    people = {family: (given, dt.date.fromisoformat(born)) for family, given, born in DEMO_PATIENTS}
    walk = DEMO_WALK[:count]
    if count > len(walk):
        print(f"autopilot: the demo schedule has {len(walk)} patients to walk; walking those", flush=True)
    for number, family in enumerate(walk, start=1):
        given, birth = people[family]
        first = number == 1
        if first:
            yield from settle(d, "attract", snapshot=True)
            d.lobby.command("scan", [licence_text(family, given, birth)])
        else:
            yield from type_patient(d, family.upper(), d.birth_digits(birth))
            d.tap(d.screen("manual").ids.search)
        yield from confirm_and_sign(d, sign_first_on_pad if first else sign_by_finger, snapshots=first, card=first)
        yield d.until(lambda: d.app.flow.ticket is not None and (d.app.flow.ticket.printed or d.app.flow.ticket.on_screen),
                      "the printer's verdict")  # fmt: skip
        if first:
            d.snapshot("ticket")
        ticket = d.app.flow.ticket.ticket
        print(f"autopilot: patient {number} checked in, ticket {ticket}", flush=True)
        d.report("checked_in", patient=number, ticket=ticket)
        yield d.pause(pause_s / 2)
        d.tap(d.screen("done").ids.finish)
        yield from settle(d, "attract")
        yield d.pause(pause_s)
    photos = f"; screens of the first patient in {d.screenshots}" if d.screenshots else ""
    print(f"autopilot: {len(walk)} patients checked in{photos}; the kiosk stays on its welcome screen", flush=True)


# --- every screen, for screenshots and the ergonomics test -------------------------------------------


def tour(app, language: str) -> Iterator[tuple[str, bool]]:
    """Put the flow in each state a patient can see, one after another, with sample data; yields (screen
    name, agent online) after each, for the caller to refresh the app, let it draw and look. The flow's
    effects are not carried out (no agent, no printer): the states come from its inputs alone."""
    from lobby_core.contract import BoardCall, BoardState, CheckinResponse, LookupResponse
    from kiosk.devices.base import CardInserted

    flow = app.flow
    flow.finish()
    flow.board_updated(BoardState(
        clinic_name=app.site.site.name, now_calling=[BoardCall(ticket="A-012", room="Room 2", called_at=dt.datetime.now(dt.timezone.utc))],
        waiting=["A-013", "A-014", "K1-002", "A-015"], languages=list(flow.settings.languages), updated_at=dt.datetime.now(dt.timezone.utc),
    ))  # fmt: skip
    flow.choose_language(language)
    yield ("attract", True)
    flow.start()
    flow.choose_language(language)
    yield ("identify", True)
    app.toggle_large_text()
    yield ("identify_large_text", True)
    app.toggle_large_text()
    flow.type_by_hand()
    for char in "GARCÍA":
        flow.key(char)
    yield ("manual_name", True)
    flow.next_field()
    for char in {"MDY": "031419", "DMY": "140319", "YMD": "1956"}[app.catalogues.locale(language).date_order]:
        flow.key(char)
    yield ("manual_birth", True)
    for char in {"MDY": "56", "DMY": "56", "YMD": "0314"}[app.catalogues.locale(language).date_order]:
        flow.key(char)
    yield ("manual_birth_complete", True)
    flow.next_field()
    flow.lookup_answered(LookupResponse(outcome="none"))
    yield ("not_found", True)
    flow.finish()
    flow.choose_language(language)
    flow.start()
    flow.device_event(CardInserted("card-reader", sample_identity()))
    yield ("looking_up", True)
    flow.lookup_answered(sample_lookup())
    yield ("confirm", True)
    flow.confirm()
    yield ("review", True)
    card_scanner = flow.settings.card_scanner
    flow.settings = replace(flow.settings, card_scanner=True)
    flow.review_done()
    yield ("card_ask", True)
    flow.has_card()
    flow.notice = "card.failed"  # the longest the screen gets: a card that did not come
    yield ("card_scan", True)
    flow.notice = ""
    [capture] = flow.scan_card()
    yield ("card_reading", True)
    flow.card_read(capture.checkin_id, capture.attempt, *sample_card_reading())
    yield ("card_confirm", True)
    flow.change_card_field("member_id")
    yield ("card_edit", True)
    flow.card_field_done()
    flow.card_confirmed()
    flow.settings = replace(flow.settings, card_scanner=card_scanner)
    yield ("forms", True)
    app.toggle_large_text()
    yield ("forms_large_text", True)  # the text no longer fits: "more below", signing waits for the end
    app.toggle_large_text()
    flow.ask_for_help()
    yield ("help", True)
    flow.dismiss_help()
    flow.session.last_activity -= flow.idle_timeout_s + 6
    yield ("idle_warning", True)
    flow.still_here()
    while flow.current_form is not None:
        flow.form_scrolled_to_end()
        flow.sign(sample_signature())
    yield ("submitting", True)
    flow.checkin_answered(CheckinResponse(checkin_id=flow.session.checkin_id, ticket="A-016", position=4, estimated_wait_min=18,
                                          flags=["insurance_see_desk"]), offline=False)  # fmt: skip
    flow.printed(ok=False)
    yield ("done_ticket_on_screen", True)
    flow.finish()
    flow.choose_language(language)
    flow.start()
    flow.device_event(CardInserted("card-reader", sample_identity()))
    flow.lookup_answered(LookupResponse(outcome="ambiguous"))  # the desk is called
    yield ("see_desk", True)
    flow.finish()
    flow.choose_language(language)
    flow.start()
    flow.device_event(CardInserted("card-reader", sample_identity()))
    flow.lookup_failed(unreachable=True)
    yield ("offline", False)
    flow.check_in_offline()
    flow.checkin_answered(CheckinResponse(checkin_id=flow.session.checkin_id, ticket="K1-003", position=0, estimated_wait_min=0), offline=True)
    yield ("done_offline", False)
    flow.finish()


def sample_card_reading():
    """A read card for the tour: both sides blank, the fields of a made-up plan, one read with doubt."""
    from PIL import Image

    from kiosk.card_capture import CardReading, CardSides, FieldReading, encode_jpeg

    front, back = Image.new("RGB", (1011, 638), "white"), Image.new("RGB", (1011, 638), "white")
    fields = {"payer_name": FieldReading("Harbor Health Alliance", 93.0, False), "member_id": FieldReading("HHA 2231 0098 77", 61.0, True),
              "group_number": FieldReading("GRP55120", 90.0, False), "plan": FieldReading("Gold PPO 500", 88.0, False)}  # fmt: skip
    return CardReading(CardSides(front, back), fields), encode_jpeg(front), encode_jpeg(back)


def sample_identity():
    from kiosk.devices.identity import Identity

    return Identity(source="smartcard", family_name="García López", given_names="María José", birth_date=dt.date(1956, 3, 14),
                    address_street="48 Willow Lane", address_city="Springfield", postal_code="62704",
                    payor="Evergreen Mutual", member_id="EM-55501234")  # fmt: skip


def sample_lookup():
    from lobby_core.contract import AppointmentMatch, FormDue, LookupResponse, OnFileHints

    folder = DEFAULT_CONSENTS_DIR / "consent-to-treat"
    texts = {lang: (folder / f"{lang}.md").read_text(encoding="utf-8") for lang in ("en", "es")}
    form = FormDue(document_id="consent-to-treat", version="2026-01", title={"en": "Consent to Treat", "es": "Consentimiento para el tratamiento"},
                   text=texts, sha256={k: hashlib.sha256(v.encode()).hexdigest() for k, v in texts.items()}, may_decline=False,
                   require_scroll_to_end=True)  # fmt: skip
    start = dt.datetime.now(dt.timezone.utc).replace(hour=14, minute=30, second=0, microsecond=0)
    return LookupResponse(outcome="matched", appointment=AppointmentMatch(
        appointment_id="demo-1", start=start, clinician="Dr. Patel", location="Room 1", display_name="María G.",
        on_file=OnFileHints(street_ending="12", phone_ending="42", member_id_ending="234", payer="Blue Harbor Health"),
        forms_due=[form],
    ))  # fmt: skip


def sample_signature():
    from lobby_core.contract import PenPoint, Signature, Stroke

    points = [PenPoint(x_mm=5 + 10 * i, y_mm=10 + (15 if i % 2 else 0), t_ms=40 * i) for i in range(10)]
    return Signature(width_mm=120, height_mm=40, strokes=[Stroke(points=points)], device="touch")
