"""The signed consent as a PDF: the text as shown, the signature drawn from its strokes, the record.

Rendering is deterministic (reportlab's invariant mode, the creation date set to the signing time), so
the same record always gives the same bytes. Fonts are DejaVu TrueType, embedded, so accented and
other non-ASCII letters print as they were shown. The metadata (document, version, language, text
hash, signer, time, kiosk, site, check-in) sits in the PDF's Info dictionary; the whole file is then
sealed with the site key (see seal.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import re
from pathlib import Path
from typing import Mapping

from pypdf import PdfReader, PdfWriter
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..config import DEFAULT_TRANSLATIONS_DIR
from lobby_core import catalogue
from lobby_core.contract import Signature
from ..keys import SiteKey
from .records import SignedConsent
from .seal import seal

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
SIGNATURE_BOX_MM = (120.0, 45.0)
INK_WIDTH_MM = 0.5

# Metadata keys in the PDF's Info dictionary, read back by verify.py.
META = {
    "consent_id": "/ConsentId",
    "document_id": "/ConsentDocumentId",
    "version": "/ConsentDocumentVersion",
    "language": "/ConsentLanguage",
    "text_sha256": "/ConsentTextSHA256",
    "decision": "/ConsentDecision",
    "signed_at": "/ConsentSignedAt",
    "signer": "/ConsentSigner",
    "signer_birth_date": "/ConsentSignerBirthDate",
    "kiosk_id": "/ConsentKiosk",
    "site_id": "/ConsentSite",
    "checkin_id": "/ConsentCheckinId",
}


class FontMissing(RuntimeError):
    pass


@functools.cache
def _register_fonts() -> None:
    for name, file in ((FONT, "DejaVuSans.ttf"), (FONT_BOLD, "DejaVuSans-Bold.ttf")):
        path = next((d / file for d in FONT_DIRS if (d / file).exists()), None)
        if path is None:
            raise FontMissing(f"{file} not found in {', '.join(map(str, FONT_DIRS))} (apt-get install fonts-dejavu-core)")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


def labels(language: str, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> Mapping[str, str]:
    """The PDF's own words in `language` (consent-pdf.<lang>.json; lobby_core.catalogue's fallback rule)."""
    return catalogue.load(Path(translations_dir), "consent-pdf").messages(language)


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=14.5, spaceAfter=6)
    return {
        "h1": ParagraphStyle("h1", parent=body, fontName=FONT_BOLD, fontSize=15, leading=19, spaceAfter=10),
        "h2": ParagraphStyle("h2", parent=body, fontName=FONT_BOLD, fontSize=12, leading=16, spaceBefore=4),
        "body": body,
        "bullet": ParagraphStyle("bullet", parent=body, leftIndent=6 * mm, bulletIndent=1.5 * mm, spaceAfter=3),
        "small": ParagraphStyle("small", parent=body, fontSize=9, leading=12, spaceAfter=0),
        "site": ParagraphStyle("site", parent=body, fontName=FONT_BOLD, fontSize=9, textColor=HexColor("#555555")),
    }


def _inline(text: str) -> str:
    """Markdown `**bold**` to reportlab markup, everything else escaped."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text, quote=False))


def markdown_flowables(text: str, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The Markdown subset consent texts use: headings, paragraphs, `- ` bullet items, bold."""
    flowables: list[Flowable] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            flowables.append(Paragraph(_inline(" ".join(paragraph)), styles["body"]))
            paragraph.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("## "):
            flush()
            flowables.append(Paragraph(_inline(stripped[3:]), styles["h2"]))
        elif stripped.startswith("# "):
            flush()
            flowables.append(Paragraph(_inline(stripped[2:]), styles["h1"]))
        elif stripped.startswith(("- ", "* ")):
            flush()
            flowables.append(Paragraph(_inline(stripped[2:]), styles["bullet"], bulletText="•"))
        else:
            paragraph.append(stripped)
    flush()
    return flowables


class SignatureDrawing(Flowable):
    """The strokes as vector lines, scaled into a box that keeps the signing area's proportions."""

    def __init__(self, signature: Signature, box_mm: tuple[float, float] = SIGNATURE_BOX_MM):
        super().__init__()
        scale = min(box_mm[0] / signature.width_mm, box_mm[1] / signature.height_mm)
        self.signature = signature
        self.scale = scale * mm  # points per millimetre of signing area
        self.width = signature.width_mm * self.scale
        self.height = signature.height_mm * self.scale

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setStrokeColor("#999999")
        canvas.setLineWidth(0.5)
        canvas.rect(0, 0, self.width, self.height)
        canvas.setStrokeColor("#0b1f4d")
        canvas.setFillColor("#0b1f4d")
        canvas.setLineWidth(INK_WIDTH_MM * mm)
        canvas.setLineCap(1)
        canvas.setLineJoin(1)
        for stroke in self.signature.strokes:
            points = [(p.x_mm * self.scale, self.height - p.y_mm * self.scale) for p in stroke.points]
            if len(points) == 1:
                canvas.circle(*points[0], INK_WIDTH_MM * mm / 2, stroke=0, fill=1)
            elif points:
                path = canvas.beginPath()
                path.moveTo(*points[0])
                for point in points[1:]:
                    path.lineTo(*point)
                canvas.drawPath(path, stroke=1, fill=0)


def _when(moment: dt.datetime) -> str:
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M:%S} (UTC{offset[:3]}:{offset[3:]})" if offset else f"{moment:%Y-%m-%d %H:%M:%S}"


def _record_table(signed: SignedConsent, text: Mapping[str, str], styles: dict[str, ParagraphStyle]) -> Table:
    record, document, patient = signed.record, signed.document, signed.patient
    rows = [
        (text["record.patient"], f"{patient.given} {patient.family}".strip()),
        (text["record.birth_date"], patient.birth_date.isoformat()),
        (text["record.decision"], text["record.accepted" if signed.accepted else "record.declined"]),
        (text["record.signed_at"], _when(record.signed_at)),
        (text["record.kiosk"], record.kiosk_id),
        (text["record.site"], f"{signed.site_name} ({signed.site_id})"),
        (
            text["record.document"],
            text["record.version"].format(document=document["id"], version=document["version"], effective=document["effective"])
            + f" [{record.language}]",
        ),
        (text["record.checkin"], signed.checkin_id),
    ]
    table = Table(
        [[Paragraph(_inline(k), styles["small"]), Paragraph(_inline(v), styles["small"])] for k, v in rows],
        colWidths=[38 * mm, 132 * mm],
        hAlign="LEFT",
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEABOVE", (0, 0), (-1, 0), 0.5, "#999999")]))
    return table


def metadata(signed: SignedConsent) -> dict[str, str]:
    record = signed.record
    values = {
        "consent_id": signed.consent_id,
        "document_id": record.document_id,
        "version": record.version,
        "language": record.language,
        "text_sha256": record.text_sha256,
        "decision": record.decision,
        "signed_at": record.signed_at.isoformat(),
        "signer": f"{signed.patient.given} {signed.patient.family}".strip(),
        "signer_birth_date": signed.patient.birth_date.isoformat(),
        "kiosk_id": record.kiosk_id,
        "site_id": signed.site_id,
        "checkin_id": signed.checkin_id,
    }
    return {META[name]: value for name, value in values.items()}


def _pdf_date(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.timezone.utc)
    return f"D:{moment:%Y%m%d%H%M%S}Z"


def render_pdf(signed: SignedConsent, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> bytes:
    """The unsealed PDF of one signed record; the same record always gives the same bytes."""
    _register_fonts()
    styles = _styles()
    text = labels(signed.record.language, translations_dir)
    document = signed.document
    footer = text["footer.hash"].format(language=signed.record.language, sha256=document["sha256"])

    def on_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor("#444444")
        canvas.drawString(20 * mm, 12 * mm, footer)
        canvas.drawRightString(A4[0] - 20 * mm, 8 * mm, text["footer.page"].format(page=doc.page))
        canvas.drawString(20 * mm, 8 * mm, f"{signed.consent_id}")
        canvas.restoreState()

    story: list[Flowable] = [Paragraph(_inline(signed.site_name), styles["site"]), Spacer(1, 3 * mm)]
    story += markdown_flowables(document["text"], styles)
    signature_block: list[Flowable] = [Spacer(1, 6 * mm), Paragraph(_inline(text["record.heading"]), styles["h2"])]
    signature_block.append(_record_table(signed, text, styles))
    signature_block.append(Spacer(1, 4 * mm))
    if signed.accepted and signed.record.signature is not None:
        signature_block += [Paragraph(_inline(text["record.signature"]), styles["small"]), SignatureDrawing(signed.record.signature)]
    else:
        signature_block.append(Paragraph(_inline(text["record.not_signed"]), styles["body"]))
    story.append(KeepTogether(signature_block))

    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=22 * mm,
        title=document["title"],
        author=signed.site_name,
        subject=f"{document['id']} {document['version']} ({signed.record.language})",
        creator="lobby-checkin edge agent",
        invariant=1,
    )
    template.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return _with_metadata(buffer.getvalue(), signed)


def _with_metadata(pdf: bytes, signed: SignedConsent) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    info = {**metadata(signed), "/CreationDate": _pdf_date(signed.record.signed_at), "/ModDate": _pdf_date(signed.record.signed_at)}
    writer.add_metadata(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render_sealed_pdf(signed: SignedConsent, key: SiteKey, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> bytes:
    return seal(render_pdf(signed, translations_dir), key)
