"""How long a patient spends from the attract screen to the ticket: a keystroke-level model (KLM) over the
real flow, beside the same model over the flow before issue 12.

    .venv/bin/python bench/patient_time.py [--base-commit 926e863]

The touches, card scans, signatures and words on each screen are not guessed: a worker process runs the
real kiosk app (1080x1920 under Xvfb) against a real edge agent and the simulated lobby, drives it with
the autopilot's synthetic touches, and counts them; it also measures each wait for the system (lookup,
check-in) from the touch or scan to the next screen drawn. The same worker drives the base commit's app
(checked out with `git worktree add --detach` into a temporary folder), with scenarios written for its
screens; both run against an agent from this checkout.

The nothing-due scenarios are a returning patient who confirmed their details on file last week, within
`[kiosk] review_details_every_days` (default 90): the agent does not ask "Is this still right?" again
(edge_agent/details_review.py; the confirmation is seeded into the agent's store before the kiosk runs).
Each is also run, and printed beside it, with the review due (the first visit of the period).

Operators (older adults; Card, Moran & Newell 1983 for the structure, times lengthened per the ageing
literature): tap = point + touch 1.1 s; mental preparation 1.35 s per screen; reading at 200 words a
minute (instructions, titles, buttons on each screen shown; the consent documents' own text is counted
separately, because patients read it at very different depths); presenting a card at the scanner 5 s;
signing 5 s.

What is read: the words of every label and button the patient can see on the screen shown, counted from
the widget tree with the same test of "shown" as the screen reader (kiosk/screen_reader.py): a widget
counts only if it and every widget above it are opaque and it has a size, so a hidden keyboard, an
empty notice strip or a collapsed row says nothing (until 3d3c268 the bench counted a hidden date pad's
ten digits and any label under a transparent parent). Key caps are not prose: nobody reads a keyboard,
they look for the next key as they press it, so no key cap counts as a word; finding the key is part of
the tap, as KLM's keystroke for a typist unfamiliar with the keyboard (1.2 s per key, Card, Moran &
Newell) includes finding it. When a screen changes under the patient without a new screen (the typing
screen going from the name to the birth date, or the base's date pad in place of the letters), the
patient prepares again (one mental operator, a new chunk of work) and reads only the words that were
not there before.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE_COMMIT = "926e863"  # main's HEAD before issue 12's kiosk rework
SIZE = (1080, 1920)
TAP_S, MENTAL_S, WPM, SCAN_S, SIGN_S = 1.1, 1.35, 200, 5.0, 5.0
SCENARIOS = {  # name: (target s, needs forms)
    "scan_nothing_due": (20, False),
    "typed_nothing_due": (45, False),
    "scan_three_forms": (120, True),
    "licence scan with insurance card": (None, False),  # no target: its "base" is scan_nothing_due now
}
CARD_SCENARIO = "licence scan with insurance card"
# A returning patient who confirmed their details on file within [kiosk] review_details_every_days: "Is
# this still right?" is not due (edge_agent/details_review.py). Each is also measured with the review due.
DETAILS_CONFIRMED = {"scan_nothing_due", "typed_nothing_due"}
CONFIRMED_DAYS_AGO = 7  # last week's visit
CARD_SEED = 3  # tools/card_corpus.py: a card that reads cleanly (the patient confirms it as read)
FAMILY, GIVEN, BIRTH = "ROSSI", "GIULIA", (1962, 3, 3)


def model_seconds(counts: dict) -> float:
    """Attract screen to ticket in hand (the issue's measure): the counts when the done screen was drawn,
    which is when the receipt printer prints; `counts` itself runs on to the done screen read."""
    return _seconds(counts.get("at_ticket", counts))


def _seconds(counts: dict) -> float:
    return (
        counts["taps"] * TAP_S
        + counts["screens"] * MENTAL_S
        + counts["words"] / WPM * 60
        + counts["scans"] * SCAN_S
        + counts["signatures"] * SIGN_S
        + counts["system_s"]
    )


# --- the worker: runs inside Xvfb, against the checkout at --repo -----------------------------------


def worker(repo: Path, flavour: str, scenario_name: str, workdir: Path) -> None:
    sys.path.insert(0, str(repo))  # ahead of the editable install's finder: that checkout's kiosk
    from lobby_core import site_config
    from kiosk import window

    site = site_config.load(workdir / "site.toml", site_config.KioskSiteConfig)
    window.configure(site.kiosk.orientation, windowed=True, size=SIZE)
    from kivy.clock import Clock
    from kivy.uix.label import Label

    from kiosk import autopilot
    from kiosk.app import KioskApp
    from kiosk.simulators.lobby import SimulatedLobby
    from kiosk.simulators.licence import licence_text
    import datetime as dt

    counts = {"taps": 0, "screens": 0, "words": 0, "document_words": 0, "scans": 0, "signatures": 0, "system_s": 0.0,
              "steps": [], "texts": [], "waits": []}  # fmt: skip
    seen: dict[str, set] = {}  # per screen: the (widget, text) pairs already read there

    class CountingDriver(autopilot.Driver):
        def tap(self, widget) -> None:
            counts["taps"] += 1
            super().tap(widget)

        def draw(self, area) -> None:
            counts["signatures"] += 1
            super().draw(area)

        def scan(self) -> None:
            counts["scans"] += 1
            address = json.loads((workdir / "address.json").read_text())  # the one on file: nothing to review
            self.lobby.command("scan", [licence_text(FAMILY.title(), GIVEN.title(), dt.date(*BIRTH), **address)])

        def scan_card(self) -> None:
            """The patient puts the insurance card in the scanner: a synthetic card in its hot folder."""
            from tools.card_corpus import make_card, write_to_folder

            counts["scans"] += 1
            write_to_folder(make_card(CARD_SEED), self.lobby.card_folder)

        def read(self, step: str, document: str = "", again: bool = False) -> None:
            """The patient reads the screen now shown: the words of every label and button they can see on it
            (key caps are not read: see the module's docstring); `again`: the same screen changed, only what
            is new there is read."""
            screen = self.screen(step)
            words = 0
            already = seen.get(step, set()) if again else set()
            shown_now = set()
            for widget in _shown_widgets(screen):
                if isinstance(widget, Label) and widget.text.strip():
                    text = widget.text
                    if document and widget is getattr(screen.ids.get("text"), "__self__", None):  # the consent itself
                        counts["document_words"] += len(text.split())
                        continue
                    shown_now.add((id(widget), text))
                    if (id(widget), text) not in already:
                        words += _word_count(text)
                        counts["texts"].append(f"{step}: {_plain(text)!r}")
            seen[step] = shown_now
            counts["screens"] += 1
            counts["words"] += words
            counts["steps"].append(f"{step}{' again' if again else ''} ({words} words)")

        def ticket_in_hand(self) -> None:
            counts["at_ticket"] = {key: value for key, value in counts.items() if not isinstance(value, (list, dict))}

        def wait_for_system(self, condition):
            """A wait the patient sits through: measured from now to the condition being met."""
            started = time.monotonic()

            def met() -> bool:
                if condition():
                    counts["system_s"] += time.monotonic() - started
                    counts["waits"].append(f"{getattr(condition, 'description', '?')} {time.monotonic() - started:.2f}s")
                    return True
                return False

            return self.until(met, getattr(condition, "description", "the system"))

    scenario = (BASE_SCENARIOS if flavour == "base" else CURRENT_SCENARIOS)[scenario_name]
    lobby_dir = Path(tempfile.mkdtemp(prefix="lobby-"))
    card = scenario_name == CARD_SCENARIO
    lobby = (SimulatedLobby(lobby_dir, with_card_reader=False, with_card_scanner=True) if card else
             SimulatedLobby(lobby_dir, with_card_reader=False)).start()  # fmt: skip
    failed: list[str] = []
    try:
        app = KioskApp(site, device_configs=lobby.devices)
        driver = CountingDriver(app, scenario, lobby=lobby, quit_when_done=True,
                                report=lambda event, **details: failed.append(details.get("why", "")) if event == "failed" else None)  # fmt: skip
        driver.start_on_first_frame()
        Clock.schedule_once(lambda _dt: driver.fail("watchdog"), 120)
        app.run()
    finally:
        lobby.stop()
        shutil.rmtree(lobby_dir, ignore_errors=True)
    (workdir / "result.json").write_text(json.dumps({**counts, "failed": failed}))


def _shown_widgets(root):
    """What the patient can see under `root`, in layout order: a transparent or collapsed widget hides
    itself and everything in it (kiosk/screen_reader.py's `visible`, applied to whole branches)."""
    for child in reversed(root.children):
        if child.opacity <= 0 or child.width <= 2 or child.height <= 1:
            continue
        yield child
        if not _is_keyboard(child):
            yield from _shown_widgets(child)


def _is_keyboard(widget) -> bool:
    """A grid of key caps (both commits give every key button a `key` attribute)."""
    return getattr(widget, "speak_role", "") == "keys" or (
        len(widget.children) > 3 and sum(hasattr(c, "key") for c in widget.children) >= len(widget.children) - 1
    )


def _word_count(text: str) -> int:
    """Words as read: markup dropped, a bare mark such as the base's '>' field cursor is not a word."""
    return sum(1 for token in _plain(text).split() if any(char.isalnum() for char in token))


def _plain(text: str) -> str:
    import re

    return re.sub(r"\[/?[a-z]+(=[^\]]*)?\]", "", text)


# --- scenarios: the base commit's screens ------------------------------------------------------------


def _base_to_ticket(d, forms: bool):
    yield from _settle(d, "confirm")
    d.read("confirm")
    d.tap(d.screen("confirm").ids.yes)
    yield d.wait_for_system(d.until(lambda: d.app.view.step in ("review", "forms", "done"), "after confirm"))
    if d.app.view.step == "review":
        yield from _settle(d, "review")
        d.read("review")
        d.tap(d.screen("review").ids.continue_)
        yield d.wait_for_system(d.until(lambda: d.app.view.step in ("forms", "done"), "after review"))
    while d.app.view.step == "forms":
        number = d.app.view.form_number
        yield 2
        d.read("forms", document=d.app.view.form_text)
        d.draw(d.screen("forms").ids.signature)
        yield 2
        d.tap(d.screen("forms").ids.sign)
        yield d.wait_for_system(d.until(lambda: d.app.view.step != "forms" or d.app.view.form_number != number, "next form"))
    yield d.wait_for_system(d.at("done"))
    d.ticket_in_hand()  # the printer prints as the done screen is drawn
    yield 2
    d.read("done")


def _settle(d, step: str):
    yield d.at(step)
    yield 2


def base_scan(d):
    yield from _settle(d, "attract")
    d.read("attract")
    d.scan()
    yield d.wait_for_system(d.at("confirm"))
    yield from _base_to_ticket(d, forms=True)


def _type_family_name(d):
    """Attract → identify → the typing screen, the family name keyed in (the base's only way to type)."""
    yield from _settle(d, "attract")
    d.read("attract")
    d.tap(d.screen("attract").ids.start)
    yield from _settle(d, "identify")
    d.read("identify")
    d.tap(d.screen("identify").ids.type_by_hand)
    yield from _settle(d, "manual")
    d.read("manual")
    for char in FAMILY:
        d.tap(d.key(char))
        yield 1


def base_typed(d):
    yield from _type_family_name(d)
    d.tap(d.screen("manual").ids.birth)
    yield 2
    d.read("manual", again=True)  # the date pad in place of the letters
    for char in d.birth_digits(__import__("datetime").date(*BIRTH)):
        d.tap(d.key(char))
        yield 1
    d.tap(d.screen("manual").ids.search)
    yield d.wait_for_system(d.at("confirm"))
    yield from _base_to_ticket(d, forms=False)


BASE_SCENARIOS = {"scan_nothing_due": base_scan, "typed_nothing_due": base_typed, "scan_three_forms": base_scan}


# --- scenarios: this checkout's screens (confirm onwards keeps the base's ids) ------------------------


def current_typed(d):
    """"Type my name" on the welcome screen goes straight to the keyboard."""
    yield from _settle(d, "attract")
    d.read("attract")
    d.tap(d.screen("attract").ids.type_name)
    yield from _settle(d, "manual")
    d.read("manual")
    for char in FAMILY:
        d.tap(d.key(char))
        yield 1
    d.tap(d.screen("manual").ids.search)  # Next: the date pad replaces the keys, the field stays put
    yield 2
    d.read("manual", again=True)  # the birth date's title and the pad
    for char in d.birth_digits(__import__("datetime").date(*BIRTH)):
        d.tap(d.key(char))
        yield 1
    d.tap(d.screen("manual").ids.search)
    yield d.wait_for_system(d.at("confirm"))
    yield from _base_to_ticket(d, forms=False)


def current_scan_card(d):
    """The licence scanned, then "Do you have an insurance card?" yes, the card scanned, its fields confirmed as read."""
    yield from _settle(d, "attract")
    d.read("attract")
    d.scan()
    yield d.wait_for_system(d.at("confirm"))
    yield from _settle(d, "confirm")
    d.read("confirm")
    d.tap(d.screen("confirm").ids.yes)
    yield d.wait_for_system(d.until(lambda: d.app.view.step in ("review", "card_ask"), "after confirm"))
    if d.app.view.step == "review":
        yield from _settle(d, "review")
        d.read("review")
        d.tap(d.screen("review").ids.continue_)
    yield from _settle(d, "card_ask")
    d.read("card_ask")
    d.tap(d.screen("card_ask").ids.yes)
    yield from _settle(d, "card_scan")
    d.read("card_scan")
    d.tap(d.screen("card_scan").ids.scan)
    d.scan_card()
    yield d.wait_for_system(d.at("card_confirm"))  # the scanner's and Tesseract's time, as the patient waits it
    yield from _settle(d, "card_confirm")
    d.read("card_confirm")
    d.tap(d.screen("card_confirm").ids.right)
    yield d.wait_for_system(d.at("done"))
    d.ticket_in_hand()
    yield 2
    d.read("done")


CURRENT_SCENARIOS = {"scan_nothing_due": base_scan, "typed_nothing_due": current_typed, "scan_three_forms": base_scan,
                     CARD_SCENARIO: current_scan_card}  # fmt: skip


# --- the runner -------------------------------------------------------------------------------------


def measure(repo: Path, flavour: str, scenario: str, with_forms: bool, tmp: Path, *, details_confirmed: bool = False) -> dict:
    """One run of `scenario`; `details_confirmed` (this checkout's agent only): the patient confirmed
    their details on file last week, so the review is not due."""
    sys.path.insert(0, str(REPO))
    from tests.agent.launcher import site_toml

    start_agent = _launcher(repo).start_agent  # each flow against its own commit's agent and consents

    workdir = tmp / f"{flavour}-{scenario}{'-confirmed' if details_confirmed else ''}"
    workdir.mkdir()
    overrides = {}
    if not with_forms:
        (workdir / "no-consents").mkdir()
        overrides[""] = {"consents_dir": str(workdir / "no-consents")}
    agent = start_agent(workdir / "agent", **overrides)
    (workdir / "address.json").write_text(json.dumps(address_on_file(agent)))
    if details_confirmed:
        confirm_details_on_file(agent)
    try:
        kiosk = {"id": "kiosk-1", "agent_url": agent.base_url, "token": agent.token, "spool_dir": str(workdir / "spool"), "ticket_prefix": "K1"}
        (workdir / "site.toml").write_text(site_toml({"site": {"name": "Test Clinic"}, "kiosk": kiosk}))
        env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(workdir / "kivy-home"), "KIVY_NO_CONSOLELOG": "1"}
        command = ["xvfb-run", "-a", "-s", f"-screen 0 {SIZE[0]}x{SIZE[1]}x24", sys.executable, __file__,
                   "--worker", flavour, scenario, str(workdir), "--repo", str(repo)]  # fmt: skip
        subprocess.run(command, env=env, timeout=240, check=False, stdout=subprocess.DEVNULL, stderr=(workdir / "app.log").open("wb"))
    finally:
        agent.stop()
    result_path = workdir / "result.json"
    if not result_path.exists():
        raise RuntimeError(f"{flavour} {scenario}: no result\n{(workdir / 'app.log').read_text(errors='replace')[-3000:]}")
    result = json.loads(result_path.read_text())
    if result["failed"]:
        raise RuntimeError(f"{flavour} {scenario}: {result['failed']}")
    return result


def _launcher(repo: Path):
    """tests/agent/launcher.py of `repo`: it starts `python -m edge_agent.cli` in that checkout (the base
    kiosk's wire models forbid fields the current agent sends, so each flow talks to its own agent)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"launcher_{abs(hash(str(repo)))}", repo / "tests" / "agent" / "launcher.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def address_on_file(agent) -> dict:
    """The demo schedule's address for the patient (deterministic per site and day), as a licence prints it."""
    address = _appointment_on_file().demographics.address
    return {"street": address.street.upper(), "city": address.city.upper(), "state": address.state, "postal_code": address.postal_code}


def _appointment_on_file():
    import datetime as dt
    import zoneinfo

    from edge_agent.schedule import demo_appointments

    day = dt.datetime.now(dt.UTC).date()
    [appointment] = [a for a in demo_appointments("test-site", day, zoneinfo.ZoneInfo("UTC")) if a.family.upper() == FAMILY]
    return appointment


def confirm_details_on_file(agent) -> None:
    """Into the running agent's store, through edge_agent/details_review.py: the patient answered "Yes,
    that's right" CONFIRMED_DAYS_AGO days ago (the test site's day is UTC's)."""
    import datetime as dt

    from edge_agent import details_review, matching
    from edge_agent.keys import SiteKey
    from edge_agent.store import Store

    appointment = _appointment_on_file()
    store = Store(agent.store_path, SiteKey.load(agent.key_file))
    try:
        key = matching.patient_key(store.key, appointment.family, appointment.given, appointment.birth_date)
        day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=CONFIRMED_DAYS_AGO)
        seen = details_review.hints_digest(store.key, matching.on_file_hints(appointment.demographics, appointment.coverage))
        store.write_sync(lambda conn: details_review.record_confirmed(conn, key, day, seen))
    finally:
        store.close()


def base_checkout(commit: str, tmp: Path) -> Path:
    path = tmp / "base"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), commit], check=True, capture_output=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-commit", default=BASE_COMMIT)
    parser.add_argument("--only", choices=sorted(SCENARIOS))
    parser.add_argument("--texts", action="store_true", help="also print every text counted and every wait measured")
    parser.add_argument("--worker", nargs=3, metavar=("FLAVOUR", "SCENARIO", "WORKDIR"), help=argparse.SUPPRESS)
    parser.add_argument("--repo", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        flavour, scenario, workdir = args.worker
        worker(args.repo, flavour, scenario, Path(workdir))
        return 0
    names = [args.only] if args.only else list(SCENARIOS)
    with tempfile.TemporaryDirectory(prefix="patient-time-") as folder:
        tmp = Path(folder)
        base = base_checkout(args.base_commit, tmp)
        try:
            rows = []
            review_due: dict[str, dict] = {}  # the nothing-due scenarios with the review due (first visit of the period)

            def with_review_due(name: str, forms: bool) -> dict:
                if name not in review_due:
                    review_due[name] = measure(REPO, "current", name, forms, tmp)
                return review_due[name]

            for name in names:
                target, forms = SCENARIOS[name]
                confirmed = name in DETAILS_CONFIRMED
                now = measure(REPO, "current", name, forms, tmp, details_confirmed=confirmed)
                if confirmed:
                    with_review_due(name, forms)
                # the card's scenario has no base flow: beside it, the same licence scan without the card, now
                # (the card's patient has the review due too)
                before = with_review_due("scan_nothing_due", forms) if name == CARD_SCENARIO else \
                    measure(base, "base", name, forms, tmp)  # fmt: skip
                rows.append((name, target, now, before))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], check=False, capture_output=True)
    print(f"{'scenario':<20} {'target':>7} {'now':>7} {'base':>7}   to ticket in hand; with the done screen read too: now / base")
    for name, target, now, before in rows:
        def parts(c: dict) -> str:
            return f"{c['taps']}/{c['screens']}/{c['words']}/{c['scans']}/{c['signatures']}/{c['system_s']:.2f}s"

        goal = "<= " + str(target) if target is not None else "-"
        print(f"{name:<20} {goal:>7} {model_seconds(now):6.1f}s {model_seconds(before):6.1f}s   "
              f"{_seconds(now):.1f}s / {_seconds(before):.1f}s")  # fmt: skip
        print(f"{'':<20} taps/screens/words/scans/signs/system, done screen read: now {parts(now)}, base {parts(before)}")
        if name in DETAILS_CONFIRMED:
            due = review_due[name]
            print(f"{'':<20} now: details confirmed {CONFIRMED_DAYS_AGO} days ago (review_details_every_days 90); "
                  f"with the review due (first visit of the period): {model_seconds(due):.1f}s, "
                  f"{_seconds(due):.1f}s with the done screen read, {parts(due)}")  # fmt: skip
            print(f"{'':<20} screens with the review due: {' > '.join(due['steps'])}")
        if name == CARD_SCENARIO:
            print(f"{'':<20} base here: the licence scan without the card, this checkout (the card adds "
                  f"{model_seconds(now) - model_seconds(before):.1f} s)")  # fmt: skip
        if now["document_words"]:
            print(f"{'':<20} consent documents shown: {now['document_words']} words now, {before['document_words']} before "
                  f"(read in full: +{now['document_words'] / WPM * 60:.0f} s), not in the totals")  # fmt: skip
        print(f"{'':<20} screens now: {' > '.join(now['steps'])}")
        print(f"{'':<20} screens before: {' > '.join(before['steps'])}")
        if args.texts:
            for flavour, counted in (("now", now), ("before", before)):
                print(f"{'':<20} {flavour} read: " + "; ".join(counted["texts"]))
                print(f"{'':<20} {flavour} waits: " + "; ".join(counted["waits"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
