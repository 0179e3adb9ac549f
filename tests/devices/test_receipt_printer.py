"""The receipt printer through python-escpos against peers that parse ESC/POS and answer DLE EOT."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings, strategies as st

from lobby_core.site_config import DeviceConfig
from kiosk.devices import printer_status
from kiosk.devices.base import DeviceState, DeviceStatus, Printed, StatusChanged
from kiosk.devices.receipt_printer import PrintOutcome, ReceiptPrinter
from kiosk.devices.ticket import Ticket, display_name_for, render
from kiosk.simulators.escpos_interpreter import EscposInterpreter
from kiosk.simulators.receipt_printer import SimulatedReceiptPrinter
from kiosk.simulators.transports import TcpPeer

from .conftest import wait_until

ISSUED = dt.datetime(2026, 11, 23, 9, 41)


def ticket(number="K1-042", language="en", display_name=""):
    return Ticket("Riverside Family Clinic", number, f"https://checkin.example/q/{number}", ISSUED, language, display_name)


@pytest.fixture
def tcp_printer(events):
    sim = SimulatedReceiptPrinter()
    sim.start()
    driver = ReceiptPrinter(DeviceConfig(kind="receipt_printer", transport="tcp", host="127.0.0.1", tcp_port=sim.port), events)
    driver.status_poll_s = 0.3
    driver.open()
    events.wait_state(DeviceState.ONLINE)
    yield sim, driver
    driver.close()
    sim.stop()


def test_network_ticket_says_what_the_ticket_should(tcp_printer, events):
    sim, driver = tcp_printer
    outcome = driver.print_ticket(ticket(display_name=display_name_for("initials", "Maria José", "Specimen")))
    assert outcome.printed, outcome.reason
    events.wait_for(lambda e: isinstance(e, Printed))
    [receipt] = sim.printed
    texts = [line.text for line in receipt.lines]
    assert texts[0] == "Riverside Family Clinic"
    assert "Your number" in texts
    number_line = next(line for line in receipt.lines if line.text == "K1-042")
    assert (number_line.width, number_line.height) == (4, 4)  # the large ticket number
    assert "M. S." in texts  # the configured short display name, nothing more
    assert "Nov 23, 2026 9:41 AM" in texts  # the patient's locale (lobby_core.locale)
    assert receipt.qr_codes == ["https://checkin.example/q/K1-042"]
    assert "Specimen" not in receipt.text and "Maria" not in receipt.text


def test_ticket_is_printed_in_the_patients_language(tcp_printer):
    sim, driver = tcp_printer
    assert driver.print_ticket(ticket(language="es")).printed
    [receipt] = sim.printed
    assert "Su número" in receipt.text  # through ESC t code-page switching, decoded by the peer
    assert "Your number" not in receipt.text


@pytest.mark.parametrize("policy, expected", [("none", ""), ("initials", "A. S."), ("first_name", "Ana")])
def test_display_name_policy_limits_the_name(policy, expected):
    assert display_name_for(policy, "Ana Lucia", "Sample") == expected


def test_paper_out_before_printing_refuses_the_job(tcp_printer, events):
    sim, driver = tcp_printer
    sim.set_condition("paper-out")
    outcome = driver.print_ticket(ticket())
    assert (outcome.printed, outcome.reason) == (False, "paper out")
    assert sim.printed == [] and sim.all_receipts == []
    assert driver.status == DeviceStatus(DeviceState.OFFLINE, "paper out")
    assert not events.of_type(Printed)


def test_paper_running_out_during_the_print_is_reported(tcp_printer, events):
    sim, driver = tcp_printer
    sim.run_out_of_paper_after(60)
    outcome = driver.print_ticket(ticket())
    assert (outcome.printed, outcome.reason) == (False, "paper out")
    assert sim.printed == []
    assert sim.all_receipts and not sim.all_receipts[0].complete
    assert not events.of_type(Printed)


@pytest.mark.parametrize(
    "condition, state, reason",
    [
        ("paper-low", DeviceState.DEGRADED, "paper low"),
        ("cover-open", DeviceState.OFFLINE, "cover open"),
        ("offline", DeviceState.OFFLINE, "offline"),
        ("silent", DeviceState.UNKNOWN, "status unknown"),
        ("ok", DeviceState.ONLINE, ""),
    ],
)
def test_status_follows_the_printer_by_itself(tcp_printer, events, condition, state, reason):
    sim, driver = tcp_printer
    mark = events.mark()
    sim.set_condition(condition)
    if condition != "ok":
        events.wait_state(state, mark, reason=reason)  # the driver's own polling notices
    assert driver.refresh_status() == DeviceStatus(state, reason)


def test_printer_that_never_answers_is_unknown_and_still_prints(tcp_printer):
    sim, driver = tcp_printer
    sim.set_condition("silent")
    assert driver.refresh_status().state == DeviceState.UNKNOWN
    outcome = driver.print_ticket(ticket())
    assert outcome.printed and outcome.reason == "status unknown"
    wait_until(lambda: len(sim.printed) == 1)  # no status answer to order it after the job: wait for it


def test_unplug_and_replug_reconnects(tcp_printer, events):
    sim, driver = tcp_printer
    mark = events.mark()
    sim.stop()
    events.wait_state(DeviceState.OFFLINE, mark)
    assert not driver.print_ticket(ticket()).printed
    mark = events.mark()
    sim.start()
    events.wait_state(DeviceState.ONLINE, mark)
    assert driver.print_ticket(ticket("K1-043")).printed
    assert [r.lines[2].text for r in sim.printed] == ["K1-043"]


def test_serial_printer_through_a_pty_peer(tmp_path, events):
    sim = SimulatedReceiptPrinter(pty_link=tmp_path / "printer.tty")
    sim.start()
    driver = ReceiptPrinter(DeviceConfig(kind="receipt_printer", transport="serial", port=str(sim.transport.link)), events)
    driver.open()
    try:
        events.wait_state(DeviceState.ONLINE)
        sim.set_condition("paper-low")
        assert driver.refresh_status() == DeviceStatus(DeviceState.DEGRADED, "paper low")
        assert driver.print_ticket(ticket()).printed
        time.sleep(0.2)
        assert sim.printed and sim.printed[0].qr_codes == ["https://checkin.example/q/K1-042"]
    finally:
        driver.close()
        sim.stop()


def test_file_printer_writes_the_ticket_and_reports_unknown_status(tmp_path, events):
    target = tmp_path / "lp0"
    target.touch()
    driver = ReceiptPrinter(DeviceConfig(kind="receipt_printer", transport="file", port=str(target)), events)
    driver.open()
    try:
        events.wait_state(DeviceState.UNKNOWN, reason="status unknown")
        assert driver.print_ticket(ticket()).printed
    finally:
        driver.close()
    interpreter = EscposInterpreter()
    interpreter.feed(target.read_bytes())
    assert interpreter.printed[0].lines[2].text == "K1-042"


def test_dummy_rendering_matches_the_network_bytes():
    dummy = Dummy()
    render(ticket(), dummy)
    interpreter = EscposInterpreter()
    interpreter.feed(dummy.output)
    assert interpreter.printed[0].qr_codes == ["https://checkin.example/q/K1-042"]


@settings(max_examples=400, deadline=None, database=None)
@given(st.dictionaries(st.sampled_from(printer_status.QUERIES), st.one_of(st.none(), st.integers(-5, 300))))
def test_status_interpretation_never_crashes_and_silence_is_never_ok(answers):
    status = printer_status.interpret(answers)
    assert isinstance(status, DeviceStatus)
    if all(value is None for value in answers.values()):
        assert status.state == DeviceState.UNKNOWN


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_escpos_peer_survives_any_bytes(data):
    interpreter = EscposInterpreter()
    interpreter.feed(data)
    interpreter.feed(b"\n\x1dV\x00")


def test_printer_device_file_that_answers_reports_real_status(tmp_path, events):
    """transport = "file" on a character device (here a pty, like /dev/usb/lp0) reads DLE EOT answers back."""
    sim = SimulatedReceiptPrinter(pty_link=tmp_path / "lp0")
    sim.start()
    driver = ReceiptPrinter(DeviceConfig(kind="receipt_printer", transport="file", port=str(sim.transport.link)), events)
    driver.open()
    try:
        events.wait_state(DeviceState.ONLINE)
        sim.set_condition("cover-open")
        assert driver.refresh_status() == DeviceStatus(DeviceState.OFFLINE, "cover open")
        sim.set_condition("ok")
        assert driver.print_ticket(ticket()).printed
        wait_until(lambda: len(sim.printed) == 1)
    finally:
        driver.close()
        sim.stop()


def test_serial_printer_unplugged_and_plugged_back_reconnects(tmp_path, events):
    sim = SimulatedReceiptPrinter(pty_link=tmp_path / "printer.tty")
    sim.start()
    driver = ReceiptPrinter(DeviceConfig(kind="receipt_printer", transport="serial", port=str(sim.transport.link)), events)
    driver.status_poll_s = 0.2
    driver.open()
    try:
        events.wait_state(DeviceState.ONLINE)
        mark = events.mark()
        sim.stop()
        events.wait_state(DeviceState.OFFLINE, mark, reason="offline")
        assert driver.print_ticket(ticket()) == PrintOutcome(False, "offline")
        mark = events.mark()
        sim.start()
        events.wait_state(DeviceState.ONLINE, mark)
        assert driver.print_ticket(ticket("K1-044")).printed
        wait_until(lambda: [r.lines[2].text for r in sim.printed] == ["K1-044"])
    finally:
        driver.close()
        sim.stop()


def test_steady_status_is_reported_once_however_often_it_is_polled(events):
    queries = []

    def printer_that_counts(data: bytes) -> bytes:
        queries.append(data)
        return interpreter.feed(data)

    interpreter = EscposInterpreter()
    peer = TcpPeer(printer_that_counts)
    peer.start()
    driver = ReceiptPrinter(DeviceConfig(kind="receipt_printer", transport="tcp", tcp_port=peer.port), events)
    driver.status_poll_s = 0.02
    driver.open()
    try:
        wait_until(lambda: sum(query.count(b"\x10\x04\x01") for query in queries) >= 5)  # five polls or more
        changes = [(e.status.state, e.status.reason) for e in events.of_type(StatusChanged)]
        assert changes == [(DeviceState.UNKNOWN, "connecting"), (DeviceState.ONLINE, "")]
    finally:
        driver.close()
        peer.stop()


def test_usb_printer_that_is_not_plugged_in_is_offline(events):
    config = DeviceConfig(kind="receipt_printer", transport="usb", usb_vendor=0x0416, usb_product=0x5011)
    driver = ReceiptPrinter(config, events)
    driver.open()
    try:
        events.wait_state(DeviceState.OFFLINE, reason="offline")
        assert driver.print_ticket(ticket()) == PrintOutcome(False, "offline")
    finally:
        driver.close()
