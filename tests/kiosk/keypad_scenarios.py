"""Window scenarios for speech and the keypad (run by window_driver.py): key presses through Window.dispatch,
exactly the events a USB HID keypad produces, and no touches at all in the blind check-in."""

from __future__ import annotations

from pathlib import Path

from kivy.core.window import Window

from kiosk import autopilot


def press(code: int) -> None:
    Window.dispatch("on_key_down", code, 0, "", [])
    Window.dispatch("on_key_up", code, 0)


def keys(d) -> dict[str, int]:
    return d.app.site.kiosk.keypad_keys.model_dump()


def quiet(d):
    """Let the screen settle and the speech worker finish the sentence (as a listener waits)."""
    yield 4
    yield d.until(lambda: d.app.speech.idle and d.app.navigator._announce_in < 0 and d.app.navigator._after_action_in < 0,
                  "speech to finish")  # fmt: skip


def key(d, name: str):
    press(keys(d)[name])
    yield from quiet(d)


def count_touches(d) -> list:
    touches: list = []
    Window.bind(on_touch_down=lambda _w, touch: touches.append(touch.pos))
    return touches


def blind_checkin(d):
    """Headphones in, then only keypad keys: start, type by hand (the name on the letter wheel, the date on
    the digit keys), confirm, sign each form on the signature pad's pen, hear the ticket number."""
    touches = count_touches(d)
    yield from autopilot.settle(d, "attract")
    Path(d.app.site.kiosk.headphone_jack.removeprefix("file:")).write_text("1")
    yield d.until(lambda: d.app.navigator.speech_on, "headphone mode")
    yield from quiet(d)
    report_ring(d)
    yield from key(d, "help")
    yield from key(d, "select")  # "Check in"
    yield d.at("identify")
    yield from quiet(d)
    yield from key(d, "select")  # "Type my name and date of birth"
    yield d.at("manual")
    yield from quiet(d)
    yield from key(d, "select")  # into the last-name field: the letter wheel
    wheel = d.app.navigator._wheel
    for letter in "ROSSI":
        step = wheel.index(letter) - d.app.navigator._wheel_at
        for _ in range(abs(step)):
            yield from key(d, "down" if step > 0 else "up")
        yield from key(d, "select")
    yield from key(d, "back")  # a wrong letter is deleted ...
    yield from key(d, "select")  # ... and the I typed again
    steps_to_done = len(wheel) - 1 - d.app.navigator._wheel_at
    for _ in range(steps_to_done):
        yield from key(d, "down")
    yield from key(d, "select")  # "Done": on to the birth date
    d.report("typed_name", family=d.app.flow.session.typed.family, focus=d.app.navigator.focused.field_name)
    for digit in "03031962":
        yield from key_code(d, 48 + int(digit))
    d.report("typed_date", focused=d.app.navigator.focused.text)
    yield from key(d, "select")  # "Find my appointment"
    yield d.at("confirm")
    yield from quiet(d)
    yield from key(d, "select")  # "Yes, that's me"
    yield d.until(lambda: d.app.view.step in ("review", "forms", "submitting", "done"), "review or forms")
    if d.app.view.step == "review":
        yield from quiet(d)
        yield from key(d, "select")  # "Is this still right?" "Yes, that's right" (the first choice)
        yield d.until(lambda: d.app.view.step in ("forms", "submitting", "done"), "forms")
    while d.app.view.step == "forms":
        number = d.app.view.form_number
        yield from quiet(d)
        d.lobby.command("sign", [])  # the pen on the pad: a tactile device, not the screen
        yield d.until(lambda: d.app.view.step != "forms" or d.app.view.form_number != number, "the next form")
    yield d.at("done")
    yield from quiet(d)
    yield d.until(lambda: d.app.flow.ticket is not None, "the ticket")
    d.report("done", ticket=d.app.flow.ticket.ticket, touches=len(touches), volume=d.app.speech.volume)
    yield from key(d, "help")
    # hold help + up: louder; the kiosk says so at the new volume
    Window.dispatch("on_key_down", keys(d)["help"], 0, "", [])
    press(keys(d)["up"])
    Window.dispatch("on_key_up", keys(d)["help"], 0)
    yield from quiet(d)
    d.report("louder", volume=d.app.speech.volume)


def key_code(d, code: int):
    press(code)
    yield from quiet(d)


def report_ring(d) -> None:
    ring = d.app.navigator._ring
    focused = d.app.navigator.focused
    d.report("ring", shown=ring._inner_color.a == 1, focused=getattr(focused, "text", ""),
             rect=list(ring._inner.rectangle), widget=list(focused.to_window(*focused.pos)) + list(focused.size))  # fmt: skip


def read_aloud_manual(d):
    """By touch: 'Read aloud' on the typing screen mid-date, then with the whole date typed."""
    yield from autopilot.type_patient(d, "ROSSI", "0303")
    yield 2
    d.tap(d.app.root.ids.read_aloud)
    yield from quiet(d)
    for digit in "1962":
        d.tap(d.key(digit))
        yield 1
    yield 2
    d.tap(d.app.root.ids.read_aloud)
    yield from quiet(d)
    d.report("read", button=d.app.root.ids.read_aloud.text)


def no_audio(d):
    """No audio output: the read-aloud button says so; keys still move the ring (silently)."""
    yield from autopilot.settle(d, "attract")
    button = d.app.root.ids.read_aloud
    d.report("no_audio", text=button.text, disabled=button.disabled, opacity=button.opacity,
             health=[h.model_dump() for h in d.app._device_health() if h.kind in ("audio_output", "speech")])  # fmt: skip
    yield from key(d, "select")
    yield from key(d, "select")
    d.report("after_keys", step=d.app.view.step)
    yield d.until(lambda: d.app.backend._client is not None, "a heartbeat to the agent")
    yield d.pause(1.5)


SCENARIOS = {"blind_checkin": blind_checkin, "read_aloud_manual": read_aloud_manual, "no_audio": no_audio}
