"""Window scenarios for the insurance card (run by window_driver.py with a card scanner's hot folder in the
simulated lobby): a synthetic card (tools/card_corpus.py) dropped into the folder is read by the running app,
one field confirmed as read and one corrected on the on-screen keyboard, the card sent, then nothing left."""

from __future__ import annotations

import gc
import hashlib
import io

from kivy.core.window import Window

from kiosk import autopilot
from kiosk.agent_client import AgentClient
from tests.kiosk.keypad_scenarios import key, quiet

CARD_SEED = 5  # read in full; its member id with Tesseract's doubt (marked for the desk)
NEW_GROUP = "3036499"


def record_checkins(d) -> list[dict]:
    """What the kiosk sends the agent, summed up (the images as size and hash), on the way to the real agent."""
    sent: list[dict] = []
    real = AgentClient.checkin

    def checkin(client, request):
        card = request.insurance_card
        sent.append({
            "coverage": request.coverage.model_dump(mode="json") if request.coverage else None,
            "fields": {name: reading.model_dump() for name, reading in card.fields.items()} if card else None,
            "front": _image(card.front_jpeg) if card else None, "back": _image(card.back_jpeg) if card and card.back_jpeg else None,
            "wire_bytes": len(request.model_dump_json()),
        })  # fmt: skip
        return real(client, request)

    AgentClient.checkin = checkin
    return sent


def _image(data: bytes) -> dict:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    return {"format": image.format, "size": list(image.size), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def to_card_question(d):
    yield from autopilot.type_patient(d, "ROSSI", "03031962")
    d.tap(d.screen("manual").ids.search)
    yield from autopilot.settle(d, "confirm")
    d.tap(d.screen("confirm").ids.yes)
    yield from autopilot.settle(d, "review")
    d.tap(d.screen("review").ids.continue_)
    yield from autopilot.settle(d, "card_ask")


def insurance_card(d):
    from tools.card_corpus import make_card, write_to_folder

    card = make_card(CARD_SEED)
    sent = record_checkins(d)
    yield from to_card_question(d)
    d.tap(d.screen("card_ask").ids.yes)
    yield from autopilot.settle(d, "card_scan")
    d.snapshot("card_scan")
    d.tap(d.screen("card_scan").ids.scan)
    yield from autopilot.settle(d, "card_reading")
    d.report("reading", title=d.screen("card_reading").ids.message.text, ui_thread_free=True)
    write_to_folder(card, d.lobby.card_folder)  # the vendor scanner writes both sides
    yield d.at("card_confirm")
    yield 3
    d.snapshot("card_confirm")
    rows = d.screen("card_confirm").ids
    names = ("payer_name", "member_id", "group_number", "plan")
    d.report("card_shown", truth=card.truth.as_dict(), values={n: rows[n].ids.value.text for n in names},
             marks={n: rows[n].ids.mark.text for n in names}, folder=sorted(p.name for p in d.lobby.card_folder.iterdir()),
             value_font=rows["member_id"].ids.value.font_size, body_font=d.app.theme.font_body)  # fmt: skip
    d.tap(rows["group_number"].ids.change)  # the patient knows their group number better
    yield from autopilot.settle(d, "card_edit")
    edit = d.screen("card_edit").ids
    while d.app.flow.session.card_typed:
        d.tap(edit.delete)
        yield 1
    for char in NEW_GROUP:
        d.tap(next(b for b in edit.numbers.children if getattr(b, "key", None) == char))
        yield 1
    d.snapshot("card_edit")
    d.report("typed", field=edit.field.text)
    d.tap(edit.ok)
    yield from autopilot.settle(d, "card_confirm")
    d.report("corrected", values={n: rows[n].ids.value.text for n in names}, marks={n: rows[n].ids.mark.text for n in names})
    d.tap(rows.right)
    yield d.until(lambda: d.app.view.step == "forms", "the forms")
    yield from autopilot.sign_forms(d)
    yield from autopilot.settle(d, "done")
    yield d.until(lambda: d.app.flow.ticket is not None and (d.app.flow.ticket.printed or d.app.flow.ticket.on_screen), "the printer's verdict")
    d.report("sent", requests=sent, ticket=d.app.flow.ticket.ticket, insurance_line=d.screen("done").ids.insurance.text)
    d.tap(d.screen("done").ids.finish)
    yield from autopilot.settle(d, "attract")
    yield d.until(lambda: not d.app.card_worker.busy.is_set(), "the card worker to be idle")
    yield 5
    yield from after(d, card)


def after(d, card):
    """What is left of the card anywhere in the app, and in the kiosk's folders."""
    from PIL import Image

    from kiosk.card_capture import CardReading

    gc.collect()
    readings = [o for o in gc.get_objects() if isinstance(o, CardReading)]
    images = [o.size for o in gc.get_objects() if isinstance(o, Image.Image) and o.size[0] > 900]
    session = d.app.flow.session
    held = {name: getattr(session, name) is not None for name in ("insurance_card", "card_jpegs", "card_scan", "card_coverage")}
    secrets = [card.truth.member_id.encode(), card.truth.group_number.encode(), NEW_GROUP.encode(), card.front[:64], card.back[:64]]
    folders = [d.app.site.kiosk.spool_dir, d.lobby.card_folder]
    files, leaks = [], []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                files.append(str(path.relative_to(folder.parent)))
                data = path.read_bytes()
                leaks += [str(path) for secret in secrets if secret in data]
    texts = [t for t in d.texts_everywhere() if card.truth.member_id in t or NEW_GROUP in t or card.truth.payer_name in t]
    yield 1
    d.report("after", readings=len(readings), images=images, held=held, files=files, leaks=leaks, texts=texts,
             view_card=dict(d.app.view.card_values))  # fmt: skip


def card_by_keypad(d):
    """Up to the card question by touch, then keypad keys only: the question answered, "Scan my card" with
    no card coming, the failure said, and Skip on to the forms — the keypad never meets a dead end."""
    from dataclasses import replace

    d.app.card_worker.source = replace(d.app.card_worker.source, timeout_s=2.0)
    yield from to_card_question(d)
    yield from quiet(d)
    navigator = d.app.navigator
    d.report("ask_focus", focused=getattr(navigator.focused, "text", ""))
    seen = []
    for _ in range(14):  # down until "Yes, scan my card"
        if getattr(navigator.focused, "text", "") == d.app.view.t("card.ask_yes"):
            break
        yield from key(d, "down")
        seen.append(getattr(navigator.focused, "text", ""))
    yield from key(d, "select")
    yield d.at("card_scan")
    yield from quiet(d)
    for _ in range(14):
        if getattr(navigator.focused, "text", "") == d.app.view.t("card.scan_now"):
            break
        yield from key(d, "down")
    yield from key(d, "select")
    yield d.at("card_reading")
    yield d.until(lambda: d.app.view.step == "card_scan", "the capture to time out")
    yield from quiet(d)
    d.report("scan_failed", notice=d.screen("card_scan").ids.notice.text)
    for _ in range(14):
        if getattr(navigator.focused, "text", "") == d.app.view.t("card.skip"):
            break
        yield from key(d, "down")
    yield from key(d, "select")
    yield d.until(lambda: d.app.view.step in ("forms", "submitting", "done"), "the forms after Skip")
    d.report("skipped", step=d.app.view.step, seen=seen, touches_needed=0, window=list(Window.size))


def demo_with_card(d):
    """The demo's scripted patient (`kiosk run --simulate --autopilot 1`): the simulated scanner feeds a
    synthetic card when "Scan my card" is pressed, as kiosk/launch.py wires it."""
    d.app.card_worker._before_capture = d.lobby.feed_card
    sent = record_checkins(d)
    yield from autopilot.demo_patients(d, 1, pause_s=0.5)
    d.report("sent", requests=sent, fed=d.lobby.cards_fed)


SCENARIOS = {"insurance_card": insurance_card, "card_by_keypad": card_by_keypad, "demo_with_card": demo_with_card}
