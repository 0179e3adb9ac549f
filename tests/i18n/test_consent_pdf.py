"""Consent PDFs in every language: embedded fonts that have every glyph of the document and the PDF's
own words, Arabic joined and right to left, CJK drawn (poppler renders each page with ink)."""

from __future__ import annotations

import io
import subprocess

import pytest
from pypdf import PdfReader

from edge_agent.consents.records import sealed_pdf
from lobby_core import catalogue, fonts
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR
from tests.consents.conftest import consents_dir, library, record_for, site_key, store, store_consents  # noqa: F401

from .test_catalogues import LANGUAGES
from .test_glyphs import uncovered


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_pdf_face_has_every_glyph_of_every_document_and_label(language: str, library):  # noqa: F811
    face = fonts.pdf_face(language)
    labels = catalogue.read(DEFAULT_TRANSLATIONS_DIR, "consent-pdf")
    texts = [labels.text(language, key) for key in labels.keys("en")]
    for document_id in ("consent-to-treat", "financial-responsibility", "privacy-notice", "telehealth"):
        document = library.get(document_id)
        texts += document.text[language].replace("**", "").splitlines() + [document.title[language]]
    assert {text: gaps for text in texts if (gaps := uncovered(text, face))} == {}


@pytest.mark.parametrize("language", ["ar", "zh-Hant", "zh-Hans", "ko", "ru", "vi"])
def test_the_pdf_embeds_its_face_and_renders_with_ink(language: str, store, library, tmp_path):  # noqa: F811
    [consent_id] = store_consents(store, library, [record_for(library, "privacy-notice", language)])
    pdf = sealed_pdf(store, consent_id)
    reader = PdfReader(io.BytesIO(pdf))
    embedded = {
        font["/BaseFont"].split("+")[-1]
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
        if "/BaseFont" in font.get_object()
    }
    assert any(name.startswith(fonts.pdf_face(language).name) for name in embedded), embedded
    text = "".join(page.extract_text() for page in reader.pages)
    if language == "ar":
        assert any(0xFE70 <= ord(char) <= 0xFEFF for char in text), "Arabic letters are drawn joined"
    else:
        title = library.get("privacy-notice").title[language]
        assert " ".join(title.split()) in " ".join(text.split()) or title.replace(" ", "") in text.replace(" ", "").replace("\n", "")
    (tmp_path / "consent.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-gray", "-f", "1", "-l", "1", str(tmp_path / "consent.pdf"), str(tmp_path / "page")], check=True, timeout=60)
    [page] = tmp_path.glob("page*.pgm")
    from PIL import Image

    dark = sum(Image.open(page).histogram()[:128])
    assert dark > 1500, "the page has text drawn on it"
