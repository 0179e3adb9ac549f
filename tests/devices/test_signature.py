"""Signature pad through a pty peer emitting Topaz-style pen packets; the stroke model; PNG/SVG rendering."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from lobby_core.site_config import DeviceConfig
from lobby_core.contract import PenPoint, Signature, Stroke
from kiosk.devices.base import DeviceState, SignatureCaptured
from kiosk.devices.pen_packets import PenPacketDecoder, PenSample, encode
from kiosk.devices.signature import SignatureBuilder, SignatureRefused, ink_length_mm, render_png, render_svg, require_acceptable
from kiosk.devices.signature_pad import PAD_MODELS, SignaturePad
from kiosk.simulators.serial_emitters import SimulatedSignaturePad, sample_signature_samples

from .conftest import wait_until


@pytest.fixture
def pad(tmp_path, events):
    sim = SimulatedSignaturePad(tmp_path / "pad.tty")
    sim.start()
    driver = SignaturePad(DeviceConfig(kind="signature_pad", port=str(sim.link), baudrate=19200), events)
    driver.complete_after_idle_s = 0.4
    driver.open()
    events.wait_state(DeviceState.ONLINE)
    yield sim, driver
    driver.close()
    sim.stop()


def test_signing_on_the_pad_yields_one_acceptable_signature_in_millimetres(pad, events):
    sim, _ = pad
    sim.sign()
    event = events.wait_for(lambda e: isinstance(e, SignatureCaptured))
    signature = event.signature
    geometry = PAD_MODELS["topaz-1x5"]
    assert (signature.width_mm, signature.height_mm, signature.device) == (geometry.width_mm, geometry.height_mm, "pad")
    assert len(signature.strokes) == 3
    assert len(signature.strokes[0].points) == 61
    first = signature.strokes[0].points[0]
    assert first.x_mm == pytest.approx(0.05 * geometry.width_mm, abs=0.1)
    times = [p.t_ms for s in signature.strokes for p in s.points]
    assert times == sorted(times)
    assert require_acceptable(signature) is signature


def test_noise_and_cut_packets_between_strokes_are_skipped(pad, events):
    sim, _ = pad
    samples = sample_signature_samples()
    sim.send_raw(b"\x01\x02\x7f" + encode(samples[0])[:3])  # noise, then a packet cut short
    sim.send(samples)
    event = events.wait_for(lambda e: isinstance(e, SignatureCaptured))
    assert len(event.signature.strokes) == 3


def test_pad_unplug_and_replug(pad, events):
    sim, _ = pad
    mark = events.mark()
    sim.stop()
    events.wait_state(DeviceState.OFFLINE, mark)
    mark = events.mark()
    sim.start()
    events.wait_state(DeviceState.ONLINE, mark)
    sim.sign()
    events.wait_for(lambda e: isinstance(e, SignatureCaptured), mark)


def signature_of(*strokes):
    return Signature(
        width_mm=100, height_mm=30, device="touch",
        strokes=[Stroke(points=[PenPoint(x_mm=x, y_mm=y, t_ms=i * 10) for i, (x, y) in enumerate(s)]) for s in strokes],
    )


def test_empty_and_trivially_short_signatures_are_refused_with_message_keys():
    with pytest.raises(SignatureRefused) as empty:
        require_acceptable(signature_of())
    assert empty.value.key == "signature.empty"
    with pytest.raises(SignatureRefused) as dot:
        require_acceptable(signature_of([(10, 10), (11, 10)]))
    assert dot.value.key == "signature.too_short"


def test_touch_builder_makes_the_same_model():
    builder = SignatureBuilder(100, 30, "touch")
    for i in range(50):
        builder.add(5 + i, 15 + (i % 5), i * 8, True)
    builder.add(0, 0, 400, False)
    signature = builder.build()
    assert len(signature.strokes) == 1 and ink_length_mm(signature) > 40
    require_acceptable(signature)


def test_png_and_svg_render_the_strokes():
    signature = signature_of([(10, 10), (90, 20)], [(10, 25), (50, 5)])
    image = Image.open(io.BytesIO(render_png(signature, px_per_mm=4))).convert("L")
    assert image.size == (400, 120)
    assert image.getpixel((200, 60)) < 128  # ink along the first stroke (50 mm, 15 mm)
    assert image.getpixel((390, 5)) == 255
    svg = ElementTree.fromstring(render_svg(signature))
    paths = [element.get("d") for element in svg.iter("{http://www.w3.org/2000/svg}path")]
    assert paths == ["M10.00 10.00 L90.00 20.00", "M10.00 25.00 L50.00 5.00"]


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=400))
def test_pen_packet_decoder_never_crashes_on_any_bytes(data):
    decoder = PenPacketDecoder()
    for sample in decoder.feed(data[: len(data) // 2]) + decoder.feed(data[len(data) // 2 :]):
        assert 0 <= sample.x < 4096 and 0 <= sample.y < 4096


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 4095), st.booleans()), max_size=50), st.binary(max_size=8))
def test_pen_packets_round_trip_after_noise(samples, noise):
    expected = [PenSample(x, y, down) for x, y, down in samples]
    decoded = PenPacketDecoder().feed(bytes(b & 0x7F for b in noise) + b"".join(encode(s) for s in expected))
    assert decoded == expected


def test_finish_delivers_at_once_and_clear_forgets(pad, events):
    sim, driver = pad
    driver.complete_after_idle_s = 30  # only `finish()` can complete it now
    samples = sample_signature_samples()
    sim.send(samples[:40])
    wait_until(lambda: driver.strokes_drawn == 1)
    driver.clear()
    assert not driver.finish()  # cleared: nothing to deliver
    sim.send(samples)
    wait_until(lambda: driver.strokes_drawn == 3 and driver.pen_resting)
    assert driver.finish()
    event = events.wait_for(lambda e: isinstance(e, SignatureCaptured))
    assert len(event.signature.strokes) == 3
