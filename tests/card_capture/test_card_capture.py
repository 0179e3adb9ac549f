"""Card capture end to end on real parts: Pillow-drawn cards, Tesseract, SANE's own `test` backend."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from kiosk.card_capture import CaptureFailed, CardCapture, HotFolderSource, SaneSource, TesseractReader, read_fields
from kiosk.card_capture.fields import REVIEW_BELOW, extract
from kiosk.card_capture.ocr import Line, Word
from tools.card_corpus import make_card, write_to_folder


@pytest.fixture(scope="module")
def reader():
    reader = TesseractReader()
    yield reader
    reader.close()


@pytest.fixture
def sane_test_backend(tmp_path, monkeypatch):
    """SANE with only its `test` backend enabled (Debian ships it commented out in dll.conf)."""
    config = tmp_path / "sane.d"
    config.mkdir()
    (config / "dll.conf").write_text("test\n")
    (config / "test.conf").write_text(Path("/etc/sane.d/test.conf").read_text())
    monkeypatch.setenv("SANE_CONFIG_DIR", str(config))


def test_cards_from_the_hot_folder_are_read_and_leave_nothing_behind(tmp_path, reader):
    cards = [make_card(seed) for seed in range(100, 106)]
    exact: dict[str, int] = {}
    for index, card in enumerate(cards):
        write_to_folder(card, tmp_path, stem=f"scan{index}")
        reading = CardCapture(HotFolderSource(tmp_path, timeout_s=2), reader).read_card()
        assert list(tmp_path.iterdir()) == []  # both sides deleted once read
        for name, value in card.truth.as_dict().items():
            got = reading.fields[name]
            exact[name] = exact.get(name, 0) + (got.value == value)
            assert 0.0 <= got.confidence <= 100.0
            assert got.needs_review or got.value is None or got.confidence >= REVIEW_BELOW
        reading.wipe()
        assert reading.fields == {}
    assert exact["member_id"] >= 4 and exact["group_number"] >= 5, exact  # bench/card_ocr.py: ~95% / 100%
    assert sum(exact.values()) >= 0.75 * 12 * len(cards), exact


def test_ids_on_rows_the_page_layout_analysis_drops_are_found_by_the_second_look(reader):
    # seeds 2 and 38: Tesseract's page analysis skips the bold id rows under the header (bench/card_ocr.py)
    for seed in (2, 38):
        card = make_card(seed)
        front, back = (Image.open(io.BytesIO(side)) for side in (card.front, card.back))
        assert extract(reader.read(front), reader.read(back))["member_id"].value is None
        fields = read_fields(reader, front, back)
        for name in ("member_id", "group_number"):
            assert fields[name].value == card.truth.as_dict()[name], (seed, name, fields[name])
            assert fields[name].words and all(word.box for word in fields[name].words)


def test_ids_beside_pale_grey_labels_are_found_by_the_darker_look(reader):
    card = make_card(1045)  # grey "Member ID:" and "GRP:" labels, dropped by the page read and the sparse look
    front, back = (Image.open(io.BytesIO(side)) for side in (card.front, card.back))
    plain = extract(reader.read(front) + reader.read(front, sparse=True), reader.read(back))
    assert plain["member_id"].value is None and plain["group_number"].value is None
    fields = read_fields(reader, front, back)
    assert (fields["member_id"].value, fields["group_number"].value) == (card.truth.member_id, card.truth.group_number)


def test_labels_are_found_as_tesseract_misreads_them_and_their_values_are_not_corrected():
    front = [Line((Word("Member", 95), Word("Ip", 60), Word("786469479", 93))),
             Line((Word("Identi", 90), Word("fication", 90), Word("No", 92), Word("0983257", 91), Word("9493G", 90))),
             Line((Word("Group", 95), Word("#:", 90), Word("G", 88), Word("RP326670", 91)))]
    fields = extract(front, [])
    assert fields["member_id"].value == "786469479" and not fields["member_id"].needs_review
    assert fields["group_number"].value == "GRP326670"
    split = extract(front[1:], [])["member_id"]
    assert split.value == "09832579493G" and [word.text for word in split.words] == ["0983257", "9493G"]


def test_an_id_read_with_a_glyph_no_id_has_is_never_kept_as_read(reader, monkeypatch):
    card = make_card(1068)  # Tesseract's page read: "S$G8578034645B"
    front, back = (Image.open(io.BytesIO(side)) for side in (card.front, card.back))
    page = extract(reader.read(front), reader.read(back))["member_id"]
    assert "$" in page.value and page.needs_review and page.confidence == 0
    assert read_fields(reader, front, back)["member_id"].value == card.truth.member_id  # read again closer
    monkeypatch.setattr(reader, "read_id", lambda image, box: None)  # the closer read finds nothing
    unreadable = read_fields(reader, front, back)["member_id"]
    assert unreadable.value is None and unreadable.needs_review


def test_a_side_scanned_after_the_patient_left_is_wiped(tmp_path):
    card = make_card(7)
    front, back = write_to_folder(card, tmp_path)
    source = HotFolderSource(tmp_path, timeout_s=0.2)
    source.wipe()
    assert not front.exists() and not back.exists()
    with pytest.raises(CaptureFailed, match="no card"):
        source.capture()


def test_a_label_without_a_readable_value_is_for_the_desk_and_nothing_is_guessed():
    front = [Line((Word("Member", 95), Word("ID:", 95), Word("~~~", 30))),
             Line((Word("Group:", 96), Word("GRP12345", 41)))]
    fields = extract(front, [])
    assert fields["member_id"].value is None and fields["member_id"].needs_review
    assert fields["group_number"].value == "GRP12345" and fields["group_number"].needs_review
    assert fields["rx_bin"].value is None and not fields["rx_bin"].needs_review  # not on this card


def test_sane_test_backend_scans_front_and_back_card_sized(sane_test_backend, reader):
    source = SaneSource("test:0", resolution=300)
    sides = source.capture()
    for side in (sides.front, sides.back):
        assert side is not None
        assert abs(side.size[0] - 1011) < 10 and abs(side.size[1] - 638) < 10  # 85.6 x 54 mm at 300 dpi
    fields = extract(reader.read(sides.front), reader.read(sides.back))
    assert all(reading.value is None for reading in fields.values())  # a black page reads as nothing


AFTER_A_SCAN_WRITE_TO_A_CLOSED_SOCKET = """
import socket, threading
from kiosk.card_capture import SaneSource
scan = threading.Thread(target=SaneSource("test:0").capture)  # the kiosk scans off its main thread
scan.start(); scan.join()
ours, agent = socket.socketpair()
agent.close()
try:
    ours.sendall(b"x" * 65536)
except BrokenPipeError:
    print("BrokenPipeError")
"""


def test_a_scan_leaves_the_kiosk_alive_when_the_agent_closes_its_socket(sane_test_backend):
    # SANE's reader thread resets SIGPIPE to its default action; the kiosk must still get an exception,
    # not be killed, at its next write to a socket the agent has closed.
    run = subprocess.run([sys.executable, "-c", AFTER_A_SCAN_WRITE_TO_A_CLOSED_SOCKET],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.strip() == "BrokenPipeError"


def test_kiosk_doctor_probes_each_card_scanner(sane_test_backend, tmp_path):
    """With no kiosk running, `kiosk doctor` opens the SANE device (no scan) and looks for the hot folder."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    site = tmp_path / "site.toml"
    site.write_text("".join(
        f'[[kiosk.devices]]\nkind = "card_scanner"\nname = "{name}"\n{where}\n\n' for name, where in (
            ("sane-feeder", 'transport = "sane"\nsane_device = "test:0"'),
            ("sane-gone", 'transport = "sane"\nsane_device = "test:9"'),
            ("folder", f'transport = "folder"\nfolder = "{inbox}"'),
            ("folder-gone", f'transport = "folder"\nfolder = "{tmp_path / "nowhere"}"'),
        )), encoding="utf-8")  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "doctor", "--config", str(site), "--json"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    report = json.loads(result.stdout)
    devices = {d["name"]: (d["kind"], d["state"], d["reason"]) for d in report["devices"]}
    assert devices["sane-feeder"] == devices["folder"] == ("card_scanner", "online", ""), devices
    assert devices["folder-gone"] == ("card_scanner", "offline", "hot folder missing")
    kind, state, reason = devices["sane-gone"]
    assert (kind, state) == ("card_scanner", "offline") and reason.startswith("scanner: "), reason
    assert result.returncode == 1 and report["ok"] is False


def test_sane_scanner_failure_is_a_capture_failure(sane_test_backend, monkeypatch):
    import sane

    original_open = sane.open

    def jamming(device):
        scanner = original_open(device)
        scanner.read_return_value = "SANE_STATUS_JAMMED"
        return scanner

    monkeypatch.setattr(sane, "open", jamming)
    with pytest.raises(CaptureFailed, match="scanner"):
        SaneSource("test:0").capture()
    with pytest.raises(CaptureFailed, match="scanner"):
        SaneSource("nosuch:0").capture()


def test_the_card_is_gone_from_the_kiosk_when_the_session_ends(tmp_path, reader):
    from kiosk.session import Session

    write_to_folder(make_card(3), tmp_path)
    session = Session()
    session.insurance_card = card = CardCapture(HotFolderSource(tmp_path, timeout_s=2), reader).read_card()
    assert card.fields["rx_pcn"].value is not None
    session.wipe()
    assert session.insurance_card is None and card.fields == {}
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        card.sides.front.tobytes()  # the image's pixels are released
