"""The signed consent as a PDF: the text as shown, the signature drawn from its strokes, the record.

Rendering is deterministic (reportlab's invariant mode, the creation date set to the signing time), so
the same record always gives the same bytes. Fonts are TrueType, embedded (lobby_core.fonts.pdf_face:
DejaVu Sans, WenQuanYi Zen Hei for Chinese and Korean), so every letter prints as it was shown; Arabic
is joined and put in right-to-left line order by lobby_core.text_shaping, since reportlab does neither. The metadata (document, version, language, text
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
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..config import DEFAULT_TRANSLATIONS_DIR
from lobby_core import catalogue, fonts, locale, text_shaping
from lobby_core.contract import Signature
from ..keys import SiteKey
from .records import SignedConsent
from .seal import seal

TEXT_WIDTH = A4[0] - 40 * mm
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
def _register_fonts(language: str) -> tuple[str, str]:
    """Register the language's PDF face (regular, bold) with reportlab; their names."""
    face = fonts.pdf_face(language)
    if face.missing:
        raise FontMissing(f"{', '.join(map(str, face.missing))} not found (scripts/setup.sh installs the font packages)")
    regular, bold = face.name, f"{face.name}-Bold"
    pdfmetrics.registerFont(TTFont(regular, str(face.regular), subfontIndex=face.index))
    pdfmetrics.registerFont(TTFont(bold, str(face.bold), subfontIndex=face.index))
    pdfmetrics.registerFontFamily(regular, normal=regular, bold=bold, italic=regular, boldItalic=bold)
    return regular, bold


def labels(language: str, translations_dir: Path = DEFAULT_TRANSLATIONS_DIR) -> Mapping[str, str]:
    """The PDF's own words in `language` (consent-pdf.<lang>.json; lobby_core.catalogue's fallback rule)."""
    return catalogue.load(Path(translations_dir), "consent-pdf").messages(language)


def _styles(language: str = "en") -> dict[str, ParagraphStyle]:
    regular, bold = _register_fonts(language)
    body = ParagraphStyle("body", fontName=regular, fontSize=10.5, leading=14.5, spaceAfter=6)
    if locale.direction(language) == "rtl":
        body.alignment = TA_RIGHT
    if language.startswith("zh"):  # no spaces between words: reportlab's CJK wrapping breaks between characters
        body.wordWrap = "CJK"
    return {
        "h1": ParagraphStyle("h1", parent=body, fontName=bold, fontSize=15, leading=19, spaceAfter=10),
        "h2": ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12, leading=16, spaceBefore=4),
        "body": body,
        "bullet": ParagraphStyle("bullet", parent=body, leftIndent=6 * mm, bulletIndent=1.5 * mm, spaceAfter=3),
        "small": ParagraphStyle("small", parent=body, fontSize=9, leading=12, spaceAfter=0),
        "site": ParagraphStyle("site", parent=body, fontName=bold, fontSize=9, textColor=HexColor("#555555")),
        "bold": ParagraphStyle("bold", parent=body, fontName=bold),
    }


def _paragraph(text: str, style: ParagraphStyle, width: float = TEXT_WIDTH, bold: ParagraphStyle | None = None) -> Paragraph:
    """A Paragraph of Markdown-inline `text`; right-to-left text is broken into lines here, each shaped,
    because reportlab would break the reordered glyphs in the wrong order. Bold survives for a wholly
    bold paragraph (the sample-text warning) only."""
    if not text_shaping.is_rtl(text):
        return Paragraph(_inline(text), style)
    if bold is not None and text.startswith("**") and text.endswith("**"):
        style = bold
    plain = text.replace("**", "")
    width -= style.leftIndent + style.rightIndent
    lines = text_shaping.visual_lines(plain, width, lambda line: pdfmetrics.stringWidth(line, style.fontName, style.fontSize))
    return Paragraph("<br/>".join(html.escape(line, quote=False) for line in lines), style)


def _inline(text: str) -> str:
    """Markdown `**bold**` to reportlab markup, everything else escaped."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text, quote=False))


def markdown_flowables(text: str, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The Markdown subset consent texts use: headings, paragraphs, `- ` bullet items, bold."""
    flowables: list[Flowable] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            flowables.append(_paragraph(" ".join(paragraph), styles["body"], bold=styles["bold"]))
            paragraph.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("## "):
            flush()
            flowables.append(_paragraph(stripped[3:], styles["h2"]))
        elif stripped.startswith("# "):
            flush()
            flowables.append(_paragraph(stripped[2:], styles["h1"]))
        elif stripped.startswith(("- ", "* ")):
            flush()
            if text_shaping.is_rtl(stripped):  # the bullet leads the line: at its right end
                flowables.append(_paragraph("• " + stripped[2:], styles["body"]))
            else:
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
    cells = [[_paragraph(k, styles["small"], 36 * mm), _paragraph(v, styles["small"], 130 * mm)] for k, v in rows]
    widths = [38 * mm, 132 * mm]
    if locale.direction(record.language) == "rtl":  # read from the right: the label column on the right
        cells, widths = [row[::-1] for row in cells], widths[::-1]
    table = Table(cells, colWidths=widths, hAlign="LEFT")
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
    language = signed.record.language
    styles = _styles(language)
    text = labels(language, translations_dir)
    document = signed.document
    footer = text_shaping.shape_line(text["footer.hash"].format(language=language, sha256=document["sha256"]))

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(styles["body"].fontName, 7.5)
        canvas.setFillColor("#444444")
        canvas.drawString(20 * mm, 12 * mm, footer)
        canvas.drawRightString(A4[0] - 20 * mm, 8 * mm, text_shaping.shape_line(text["footer.page"].format(page=doc.page)))
        canvas.drawString(20 * mm, 8 * mm, f"{signed.consent_id}")
        canvas.restoreState()

    story: list[Flowable] = [_paragraph(signed.site_name, styles["site"]), Spacer(1, 3 * mm)]
    story += markdown_flowables(document["text"], styles)
    signature_block: list[Flowable] = [Spacer(1, 6 * mm), _paragraph(text["record.heading"], styles["h2"])]
    signature_block.append(_record_table(signed, text, styles))
    signature_block.append(Spacer(1, 4 * mm))
    if signed.accepted and signed.record.signature is not None:
        signature_block += [_paragraph(text["record.signature"], styles["small"]), SignatureDrawing(signed.record.signature)]
    else:
        signature_block.append(_paragraph(text["record.not_signed"], styles["body"]))
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
