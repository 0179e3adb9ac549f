"""The signed PDF: read back with pypdf, rendered by poppler, sealed so that any changed byte shows."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from edge_agent.consents.records import read_signed, sealed_pdf
from edge_agent.consents.seal import split
from edge_agent.consents.verify import verify_pdf
from edge_agent.keys import SiteKey

from .conftest import KIOSK, record_for, store_consents

SIGNED_AT = dt.datetime(2026, 11, 23, 9, 41, 7, tzinfo=dt.timezone(dt.timedelta(hours=-6)))


@pytest.fixture
def spanish_pdf(store, library) -> bytes:
    [consent_id] = store_consents(store, library, [record_for(library, "consent-to-treat", "es", signed_at=SIGNED_AT)])
    return sealed_pdf(store, consent_id)


def line_operators(page) -> int:
    operations = ContentStream(page.get_contents(), page.pdf).operations
    return sum(1 for _operands, operator in operations if operator == b"l")


def test_the_pdf_reads_back_with_text_metadata_and_the_drawn_signature(store, library, spanish_pdf):
    reader = PdfReader(io.BytesIO(spanish_pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    document = library.get("consent-to-treat")
    assert "Consentimiento para recibir tratamiento" in text
    assert "José Ángel Núñez Peña" in text and "1961-04-09" in text
    assert "2026-11-23 09:41:07 (UTC-06:00)" in text and KIOSK in text and "Clínica Riverside" in text
    assert document.sha256["es"] in text  # the footer names the hash of the text shown
    meta = reader.metadata
    assert meta["/ConsentDocumentId"] == "consent-to-treat" and meta["/ConsentDocumentVersion"] == document.version
    assert meta["/ConsentLanguage"] == "es" and meta["/ConsentTextSHA256"] == document.sha256["es"]
    assert meta["/ConsentSignedAt"] == SIGNED_AT.isoformat() and meta["/ConsentKiosk"] == KIOSK
    assert meta["/ConsentSite"] == "riverside" and meta["/ConsentCheckinId"]
    assert meta["/CreationDate"] == "D:20261123154107Z"

    declined = store_consents(store, library, [record_for(library, "telehealth", "es", decision="declined")])
    unsigned = PdfReader(io.BytesIO(sealed_pdf(store, declined[0])))
    assert "Rechazado: sin firma" in unsigned.pages[-1].extract_text()
    # the wave of 110 samples is drawn as 109 vector line segments; the declined form has no ink
    assert line_operators(reader.pages[-1]) - line_operators(unsigned.pages[-1]) >= 109


def test_the_pdf_is_rendered_once_and_is_reproducible(store, library, spanish_pdf):
    from edge_agent.consents.pdf import render_sealed_pdf

    consent_id = PdfReader(io.BytesIO(spanish_pdf)).metadata["/ConsentId"]
    stored = store.read_sync(lambda c: c.execute("SELECT pdf_sealed FROM consents WHERE consent_id = ?", (consent_id,)).fetchone())
    assert stored["pdf_sealed"] is not None and b"%PDF" not in stored["pdf_sealed"]  # kept encrypted
    assert sealed_pdf(store, consent_id) == spanish_pdf
    signed = store.read_sync(lambda c: read_signed(store, c, consent_id))
    assert render_sealed_pdf(signed, store.key) == spanish_pdf


def test_spanish_accents_are_embedded_glyphs_and_render(tmp_path: Path, spanish_pdf):
    reader = PdfReader(io.BytesIO(spanish_pdf))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    dejavu = [font.get_object() for font in fonts.values() if "DejaVu" in font.get_object()["/BaseFont"]]
    assert dejavu and all("/FontFile2" in font["/FontDescriptor"] for font in dejavu)  # TrueType, embedded
    text = reader.pages[0].extract_text()
    for word in ("atención", "médicos", "exámenes", "análisis", "imágenes", "Decisión", "Página", "Núñez"):
        assert word in text
    (tmp_path / "consent.pdf").write_bytes(spanish_pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "consent.pdf", "page"], cwd=tmp_path, check=True, timeout=60)
    png = next(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 20_000


def test_verify_passes_on_the_original_and_fails_on_any_one_byte_change(spanish_pdf, site_key):
    assert verify_pdf(spanish_pdf, site_key).intact
    body, seal_line = split(spanish_pdf)
    positions = [0, 9, 200, len(body) // 3, len(body) // 2, len(body) - 7, len(body) - 1,
                 len(body) + 5, len(spanish_pdf) - 10, len(spanish_pdf) - 1]  # fmt: skip
    for position in positions:
        altered = bytearray(spanish_pdf)
        altered[position] ^= 0x01
        verdict = verify_pdf(bytes(altered), site_key)
        assert not verdict.intact, f"a change at byte {position} went unnoticed"
    assert not verify_pdf(spanish_pdf + b" ", site_key).intact
    assert not verify_pdf(spanish_pdf[:1000] + spanish_pdf[1001:], site_key).intact
    assert not verify_pdf(body, site_key).intact  # seal cut off
    assert "not this site's key" in verify_pdf(spanish_pdf, SiteKey(b"\x07" * 32)).reason


def test_the_verify_consent_command(tmp_path: Path, spanish_pdf, site_key):
    key_file = tmp_path / "site.key"
    key_file.write_bytes(site_key.secret)
    config = tmp_path / "site.toml"
    config.write_text(f'[agent]\nkey_file = "{key_file}"\n')
    original = tmp_path / "original.pdf"
    original.write_bytes(spanish_pdf)
    altered = tmp_path / "altered.pdf"
    altered.write_bytes(spanish_pdf.replace(b"/ConsentDecision (accepted)", b"/ConsentDecision (acceptee)"))
    assert altered.read_bytes() != spanish_pdf

    def verify(path: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "edge_agent.cli", "verify-consent", str(path), "--config", str(config)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    ok = verify(original)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact" in ok.stdout and "José Ángel Núñez Peña" in ok.stdout
    assert "consent-to-treat version 2025.1, language es" in ok.stdout and "2026-11-23T09:41:07-06:00" in ok.stdout
    bad = verify(altered)
    assert bad.returncode == 1 and "ALTERED" in bad.stdout and "Núñez" not in bad.stdout
