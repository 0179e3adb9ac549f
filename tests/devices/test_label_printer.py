"""ZPL patient labels and wristbands over TCP 9100 against a peer that parses ZPL and answers ~HS."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from lobby_core.site_config import DeviceConfig
from kiosk.devices.base import DeviceState, DeviceStatus, Printed
from kiosk.devices.label_printer import LabelPrinter
from kiosk.devices.zpl import LabelData, interpret_host_status
from kiosk.simulators.label_printer import SimulatedLabelPrinter, parse_label

from .conftest import wait_until

PATIENT = LabelData("Łukasiewicz-Ñúñez", "Zoë ^Ann~", dt.date(1948, 2, 29), "MRN_00042")


@pytest.fixture
def label_printer(events):
    sim = SimulatedLabelPrinter()
    sim.start()
    driver = LabelPrinter(DeviceConfig(kind="label_printer", transport="tcp", tcp_port=sim.port), events)
    driver.status_poll_s = 0.3
    driver.open()
    events.wait_state(DeviceState.ONLINE)
    yield sim, driver
    driver.close()
    sim.stop()


@pytest.mark.parametrize("template", ["print_label", "print_wristband"])
def test_label_carries_name_birth_date_and_mrn_as_code128_and_qr(label_printer, template):
    sim, driver = label_printer
    assert getattr(driver, template)(PATIENT)
    wait_until(lambda: len(sim.labels) == 1)
    [label] = sim.labels
    assert label.utf8
    texts = label.of_kind("text")
    assert "ŁUKASIEWICZ-ÑÚÑEZ, Zoë ^Ann~" in texts  # UTF-8 and ZPL control characters survive
    assert any("DOB 1948-02-29" in text and "MRN MRN_00042" in text for text in texts)
    assert label.of_kind("code128") == ["MRN_00042"]
    assert label.of_kind("qr") == ["MRN_00042"]


def test_paper_out_is_reported_and_refuses_the_label(label_printer, events):
    sim, driver = label_printer
    mark = events.mark()
    sim.paper_out = True
    events.wait_state(DeviceState.OFFLINE, mark, reason="paper out")
    assert not driver.print_label(PATIENT)
    assert sim.labels == []
    sim.paper_out, sim.head_open = False, True
    assert driver.refresh_status() == DeviceStatus(DeviceState.OFFLINE, "head open")


def test_unplug_and_replug(label_printer, events):
    sim, driver = label_printer
    mark = events.mark()
    sim.stop()
    events.wait_state(DeviceState.OFFLINE, mark)
    mark = events.mark()
    sim.start()
    events.wait_state(DeviceState.ONLINE, mark)
    assert driver.print_label(PATIENT)


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=200))
def test_host_status_parsing_never_crashes(answer):
    assert isinstance(interpret_host_status(answer), DeviceStatus)


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(max_size=300))
def test_zpl_parser_survives_any_text(text):
    parse_label("^XA" + text + "^XZ")


def test_serial_label_printer_through_a_pty_peer(tmp_path, events):
    sim = SimulatedLabelPrinter(pty_link=tmp_path / "zebra.tty")
    sim.start()
    driver = LabelPrinter(DeviceConfig(kind="label_printer", transport="serial", port=str(sim.transport.link)), events)
    driver.open()
    try:
        events.wait_state(DeviceState.ONLINE)
        assert driver.print_wristband(PATIENT)
        wait_until(lambda: len(sim.labels) == 1)
        assert sim.labels[0].of_kind("code128") == ["MRN_00042"]
    finally:
        driver.close()
        sim.stop()


def test_label_printer_on_a_transport_it_cannot_use_says_so(events):
    driver = LabelPrinter(DeviceConfig(kind="label_printer", transport="file", port="/dev/usb/lp0"), events)
    driver.open()
    try:
        events.wait_state(DeviceState.OFFLINE, reason="a label printer uses transport tcp or serial, not 'file'")
        assert not driver.print_label(PATIENT)
    finally:
        driver.close()


def test_paper_running_out_during_the_label_is_not_reported_printed(label_printer, events):
    sim, driver = label_printer
    sim.run_out_of_paper_after(1)
    assert driver.print_label(PATIENT)
    assert not driver.print_wristband(PATIENT)
    assert driver.status == DeviceStatus(DeviceState.OFFLINE, "paper out")
    assert len(sim.labels) == 1
    assert not [e for e in events.of_type(Printed) if e.job == "wristband"]
