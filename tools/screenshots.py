"""PNG screenshots of every kiosk screen, in every catalogue language, portrait and landscape.

    .venv/bin/python tools/screenshots.py [--out docs/screenshots]

Runs the real app under Xvfb (one process per orientation, each on its own display) and walks the
check-in flow through every step with sample data, then saves `<orientation>-<language>-<nn>-<step>.png`.
No agent is needed: the tool drives the flow directly and does not carry out its effects.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = {"portrait": (720, 1280), "landscape": (1280, 720)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--worker", choices=sorted(SIZES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        return worker(args.worker, args.out)
    for orientation, (width, height) in SIZES.items():
        with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as home:
            env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": home, "KIVY_NO_CONSOLELOG": "1"}
            command = ["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", sys.executable, __file__,
                       "--worker", orientation, "--out", str(args.out)]  # fmt: skip
            subprocess.run(command, env=env, check=True, timeout=300)
    print(f"{len(list(args.out.glob('*.png')))} screenshots in {args.out}")
    return 0


def worker(orientation: str, out: Path) -> int:
    sys.path.insert(0, str(REPO))
    from lobby_core import site_config
    from kiosk import window

    with tempfile.TemporaryDirectory(prefix="kiosk-shots-spool-") as spool:
        site = site_config.from_mapping({"kiosk": {"spool_dir": spool, "orientation": orientation, "agent_url": "http://127.0.0.1:9"}}, site_config.KioskSiteConfig)
        window.configure(orientation, windowed=True, size=SIZES[orientation])
        from kivy.clock import Clock
        from kivy.core.window import Window

        from kiosk.app import KioskApp

        app = KioskApp(site, device_configs=[])
        app.flow.agent_reachable = lambda reachable: []  # the tool decides which shots show the offline banner
        shots = walk_through(app, orientation, out)

        def next_shot(_dt):
            try:
                delay = next(shots)
            except StopIteration:
                app.stop()
                return
            Clock.schedule_once(next_shot, delay)

        def start(*_args):
            Window.unbind(on_flip=start)
            Clock.schedule_once(next_shot, 0.5)

        Window.bind(on_flip=start)
        Clock.schedule_once(lambda _dt: app.stop(), 240)  # watchdog
        app.run()
    return 0


def walk_through(app, orientation: str, out: Path):
    """Put the flow in each state, let a few frames draw, save the window. Yields seconds to wait."""
    from kivy.core.window import Window

    from lobby_core.contract import BoardCall, BoardState, CheckinResponse, LookupResponse
    from kiosk.devices.base import CardInserted

    flow = app.flow
    number = 0

    def shot(name: str, online: bool = True):
        nonlocal number
        flow.agent_online = online
        app.refresh()
        yield 0.4  # layout and text textures settle over a few frames
        number += 1
        saved = Window.screenshot(name=str(out / "shot.png"))
        target = out / f"{orientation}-{flow.language}-{number:02d}-{name}.png"
        shutil.move(saved, target)
        yield 0

    for language in flow.settings.languages:
        number = 0
        flow.finish()
        flow.board_updated(BoardState(
            clinic_name=app.site.site.name, now_calling=[BoardCall(ticket="A-012", room="Room 2", called_at=dt.datetime.now(dt.timezone.utc))],
            waiting=["A-013", "A-014", "K1-002", "A-015"], languages=list(flow.settings.languages), updated_at=dt.datetime.now(dt.timezone.utc),
        ))  # fmt: skip
        flow.choose_language(language)
        yield from shot("attract")
        flow.start()
        flow.choose_language(language)
        yield from shot("identify")
        app.toggle_large_text()
        yield from shot("identify_large_text_high_contrast")
        app.toggle_large_text()
        flow.type_by_hand()
        for char in "GARCÍA":
            flow.key(char)
        flow.focus("birth")
        for char in {"MDY": "0314", "DMY": "1403", "YMD": "1956"}[app.catalogues.locale(language).date_order]:
            flow.key(char)
        yield from shot("manual")
        flow.back()
        flow.device_event(CardInserted("card-reader", sample_identity()))
        yield from shot("looking_up")
        flow.lookup_answered(sample_lookup())
        yield from shot("confirm")
        flow.confirm()
        yield from shot("review")
        flow.review_done()
        yield from shot("forms")
        flow.ask_for_help()
        yield from shot("help")
        flow.dismiss_help()
        flow.idle_warning_left = 9
        yield from shot("idle_warning")
        flow.still_here()
        while flow.current_form is not None:
            flow.sign(sample_signature())
        yield from shot("submitting")
        flow.checkin_answered(CheckinResponse(checkin_id=flow.session.checkin_id, ticket="A-016", position=4, estimated_wait_min=18), offline=False)
        yield from shot("done_ticket_on_screen")
        flow.finish()
        flow.choose_language(language)
        flow.start()
        flow.device_event(CardInserted("card-reader", sample_identity()))
        flow.lookup_answered(LookupResponse(outcome="ambiguous"))
        yield from shot("see_desk")
        flow.finish()
        flow.choose_language(language)
        flow.start()
        flow.device_event(CardInserted("card-reader", sample_identity()))
        flow.lookup_failed(unreachable=True)
        yield from shot("offline", online=False)
        flow.check_in_offline()
        flow.checkin_answered(CheckinResponse(checkin_id=flow.session.checkin_id, ticket="K1-003", position=0, estimated_wait_min=0), offline=True)
        yield from shot("done_offline", online=False)
    flow.finish()


def sample_identity():
    from kiosk.devices.identity import Identity

    return Identity(source="smartcard", family_name="García López", given_names="María José", birth_date=dt.date(1956, 3, 14),
                    address_street="48 Willow Lane", address_city="Springfield", postal_code="62704",
                    payor="Evergreen Mutual", member_id="EM-55501234")  # fmt: skip


def sample_lookup():
    from lobby_core.contract import Address, AppointmentMatch, CoverageInfo, Demographics, FormDue, LookupResponse

    texts = {
        "en": "Notice of privacy practices\n\n" + "This notice describes how medical information about you may be used and disclosed, and how you can get access to it. " * 12,
        "es": "Aviso de prácticas de privacidad\n\n" + "Este aviso describe cómo se puede usar y divulgar su información médica y cómo puede acceder a ella. " * 12,
    }
    form = FormDue(document_id="privacy-notice", version="2026-01", title={"en": "Privacy notice", "es": "Aviso de privacidad"},
                   text=texts, sha256={k: hashlib.sha256(v.encode()).hexdigest() for k, v in texts.items()}, may_decline=True)  # fmt: skip
    start = dt.datetime.now(dt.timezone.utc).replace(hour=14, minute=30, second=0, microsecond=0)
    return LookupResponse(outcome="matched", appointment=AppointmentMatch(
        appointment_id="demo-1", start=start, clinician="Dr. Patel", location="Room 1", display_name="María G.",
        on_file=Demographics(address=Address(street="12 Elm St", postal_code="62701")),
        coverage_on_file=CoverageInfo(payor="Blue Harbor Health", member_id="XG00001234", source="file"), forms_due=[form],
    ))  # fmt: skip


def sample_signature():
    from lobby_core.contract import PenPoint, Signature, Stroke

    points = [PenPoint(x_mm=5 + 10 * i, y_mm=10 + (15 if i % 2 else 0), t_ms=40 * i) for i in range(10)]
    return Signature(width_mm=120, height_mm=40, strokes=[Stroke(points=points)], device="touch")


if __name__ == "__main__":
    sys.exit(main())
