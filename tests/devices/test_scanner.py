"""The serial ID scanner through a pseudo-terminal peer: framing, split and garbage frames, unplug/replug."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from lobby_core.site_config import DeviceConfig
from kiosk.devices.aamva import parse
from kiosk.devices.base import DeviceState, Scanned
from kiosk.devices.framing import AAMVA_END_PAUSE_S, SILENCE_S, FrameSplitter
from kiosk.devices.scanner import IdScanner
from kiosk.simulators.serial_emitters import SimulatedScanner

SAMPLE = (Path(__file__).parent / "aamva_samples" / "v10_us_dl.txt").read_text(encoding="utf-8")
CRLF_SAMPLE = (Path(__file__).parent / "aamva_samples" / "broken_crlf.txt").read_text(encoding="utf-8")


@pytest.fixture
def scanner_pair(tmp_path, events):
    def make(suffix: str = ""):
        sim = SimulatedScanner(tmp_path / "scanner.tty", suffix="")
        sim.start()
        driver = IdScanner(DeviceConfig(kind="id_scanner", port=str(sim.link), baudrate=115200, suffix=suffix), events)
        driver.open()
        events.wait_state(DeviceState.ONLINE)
        made.append((sim, driver))
        return sim, driver

    made: list = []
    yield make
    for sim, driver in made:
        driver.close()
        sim.stop()


def scans(events, since=0):
    return [event.text for event in events.of_type(Scanned, since)]


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_line_endings_end_frames(scanner_pair, events, ending):
    sim, _ = scanner_pair()
    sim.send_raw(b"CHK1.first" + ending + b"SECOND" + ending)
    events.wait_for(lambda e: isinstance(e, Scanned) and e.text == "SECOND")
    assert scans(events) == ["CHK1.first", "SECOND"]


def test_configured_suffix_ends_frames_and_is_removed(scanner_pair, events):
    sim, _ = scanner_pair(suffix="#END#")
    sim.send_raw(b"ABC#END#DEF#END#")
    events.wait_for(lambda e: isinstance(e, Scanned) and e.text == "DEF")
    assert scans(events) == ["ABC", "DEF"]


def test_silence_ends_a_frame_without_terminator(scanner_pair, events):
    sim, _ = scanner_pair()
    sim.send_raw(b"NO-TERMINATOR")
    event = events.wait_for(lambda e: isinstance(e, Scanned))
    assert event.text == "NO-TERMINATOR"


def test_frames_split_across_reads_are_joined(scanner_pair, events):
    sim, _ = scanner_pair()
    payload = b"PART-ONE-PART-TWO\r\n"
    for piece in (payload[:4], payload[4:9], payload[9:17], payload[17:]):
        sim.send_raw(piece)
        time.sleep(0.06)  # longer than one serial read, shorter than the silence that ends a frame
    events.wait_for(lambda e: isinstance(e, Scanned))
    time.sleep(0.4)
    assert scans(events) == ["PART-ONE-PART-TWO"]


@pytest.mark.parametrize("suffix, sample", [("", SAMPLE), ("\r\n", CRLF_SAMPLE), ("#END#", CRLF_SAMPLE)])
def test_aamva_barcode_with_inner_line_breaks_arrives_whole(scanner_pair, events, suffix, sample):
    sim, _ = scanner_pair(suffix=suffix)
    data = sample.encode()
    sim.send_raw(data[:100])
    time.sleep(0.05)  # longer than one serial read (20 ms), shorter than the pause that ends an AAMVA frame
    sim.send_raw(data[100:] + (suffix or "\r\n").encode())
    event = events.wait_for(lambda e: isinstance(e, Scanned))
    assert parse(event.text).identity == parse(sample).identity
    assert parse(event.text).problems == []
    assert len(scans(events)) == 1



@pytest.mark.parametrize("lead", [b" ", b"  \t", b"\r\n "])
def test_aamva_barcode_with_whitespace_before_the_at_sign_arrives_whole(scanner_pair, events, lead):
    sim, _ = scanner_pair()
    data = lead + SAMPLE.encode()
    sim.send_raw(data[:60])
    time.sleep(0.05)  # longer than one serial read, shorter than the pause that ends an AAMVA frame
    sim.send_raw(data[60:] + b"\r\n")
    event = events.wait_for(lambda e: isinstance(e, Scanned))
    time.sleep(AAMVA_END_PAUSE_S * 2)
    assert len(scans(events)) == 1
    assert parse(event.text).identity == parse(SAMPLE).identity and parse(event.text).problems == []

def test_garbage_frames_do_not_stop_the_scanner(scanner_pair, events):
    sim, _ = scanner_pair()
    sim.send_raw(b"\x00\xff\xfe\x80garbage\r\n\r\n\n" + bytes(range(1, 32)) + b"\r\nGOOD\r\n")
    events.wait_for(lambda e: isinstance(e, Scanned) and e.text == "GOOD")
    assert "GOOD" in scans(events)


def test_unplug_reports_offline_and_replug_reconnects(scanner_pair, events):
    sim, driver = scanner_pair()
    mark = events.mark()
    sim.stop()
    events.wait_state(DeviceState.OFFLINE, mark)
    assert not driver.status.usable
    mark = events.mark()
    sim.start()
    events.wait_state(DeviceState.ONLINE, mark)
    sim.send_raw(b"AFTER-REPLUG\r\n")
    events.wait_for(lambda e: isinstance(e, Scanned) and e.text == "AFTER-REPLUG", mark)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.binary(max_size=64), max_size=20), st.sampled_from(["", "\t", "#END#"]))
def test_frame_splitter_never_crashes_and_never_returns_terminators(chunks, suffix):
    clock = iter(range(10_000))
    splitter = FrameSplitter(suffix=suffix, clock=lambda: next(clock) * 0.1)
    frames = []
    for chunk in chunks + [b"", b""]:
        frames += splitter.feed(chunk)
    assert all(frame and not frame.startswith(("\r", "\n")) and not frame.endswith(("\r", "\n")) for frame in frames)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_aamva_text_ending_in_a_line_break_ends_after_a_short_pause_anything_else_after_silence():
    clock = FakeClock()
    complete, partial = FrameSplitter(clock=clock), FrameSplitter(clock=clock)
    assert complete.feed(SAMPLE.encode()) == [] and partial.feed(SAMPLE.encode().rstrip(b"\r\n")[:-5]) == []
    clock.now = AAMVA_END_PAUSE_S - 0.01
    assert complete.feed(b"") == [] and partial.feed(b"") == []
    clock.now = AAMVA_END_PAUSE_S
    [frame] = complete.feed(b"")
    assert parse(frame).problems == [] and partial.feed(b"") == []
    clock.now = SILENCE_S
    assert len(partial.feed(b"")) == 1
