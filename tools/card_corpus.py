"""Synthetic US insurance cards with known fields, for the OCR tests and bench/card_ocr.py.

Each card is drawn at 300 dpi (ID-1, 85.6 x 54 mm) in one of several layouts, with a logo shape, a
font from the Debian font packages, colours, dense small print, then degraded the way a kiosk scan is:
rotation up to +-5 degrees, blur, a glare spot, JPEG noise. Every value is random but reproducible
from the seed; `CardTruth` is what an extractor must find.
"""

from __future__ import annotations

import io
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CARD_PX = (1011, 638)  # 85.6 x 54 mm at 300 dpi
FONT_FILES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
]
PAYERS = ["Blue Meadow Health", "Cedar Mutual", "Summit Care Plans", "Harbor Health Alliance",
          "Keystone Benefit Co", "Prairie Shield", "Northwind Medical", "Liberty Crest Health"]
PLANS = ["PPO Choice", "HMO Select", "EPO Value", "POS Plus", "HDHP Silver", "Gold PPO 500"]
GIVEN = ["MARIA", "JAMES", "LINDA", "ROBERT", "SOFIA", "DAVID", "GRACE", "OMAR", "ELENA", "PETER"]
FAMILY = ["GARCIA", "JOHNSON", "NGUYEN", "SMITH", "OKAFOR", "MUELLER", "PATEL", "KOWALSKI", "REYES"]
ID_LABELS = ["Member ID", "ID", "Member ID#", "Subscriber ID", "Identification No"]
GROUP_LABELS = ["Group", "Group No", "Group #", "GRP", "Group Number"]
SMALL_PRINT = ("This card does not guarantee coverage. Members must present this card at the time of "
               "service. Possession of this card confers no right to services. Misuse is a crime. "
               "Providers: submit claims electronically. Precertification may be required for "
               "inpatient admissions, outpatient surgery and advanced imaging.")


@dataclass(frozen=True)
class CardTruth:
    payer_name: str
    member_id: str
    group_number: str
    plan: str
    subscriber_name: str
    rx_bin: str
    rx_pcn: str
    rx_group: str
    copay_pcp: str
    copay_specialist: str
    copay_er: str
    payer_phone: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Card:
    truth: CardTruth
    front: bytes  # JPEG, as a scanner's hot folder holds it
    back: bytes
    layout: str


def _font(rng: random.Random, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    candidates = [f for f in FONT_FILES if Path(f).exists() and (("Bold" in f) == bold)]
    return ImageFont.truetype(rng.choice(candidates or FONT_FILES[:1]), size)


def _fitting(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> ImageFont.FreeTypeFont:
    """The font, smaller until `text` fits `width` (a printer shrinks a long id rather than cut it)."""
    while draw.textlength(text, font=font) > width and font.size > 20:
        font = font.font_variant(size=font.size - 2)
    return font


def random_truth(rng: random.Random) -> CardTruth:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    prefix = "".join(rng.choice(letters) for _ in range(rng.choice([0, 2, 3])))
    member_id = prefix + "".join(rng.choice("0123456789") for _ in range(rng.randint(8, 10)))
    if rng.random() < 0.3:
        member_id += rng.choice("0123456789") + rng.choice(letters)
    group = rng.choice(["", "G", "GRP"]) + "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 7)))
    area = rng.randint(200, 989)
    return CardTruth(
        payer_name=rng.choice(PAYERS),
        member_id=member_id,
        group_number=group,
        plan=rng.choice(PLANS),
        subscriber_name=f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
        rx_bin=f"{rng.randint(0, 999999):06d}",
        rx_pcn=rng.choice(["ADV", "MEDDPRIME", "CN", "A4", "BCTX", "WG"]),
        rx_group="RX" + str(rng.randint(1000, 99999)),
        copay_pcp=f"${rng.choice([10, 15, 20, 25, 30])}",
        copay_specialist=f"${rng.choice([35, 40, 50, 60, 75])}",
        copay_er=f"${rng.choice([100, 150, 250, 300])}",
        payer_phone=f"1-800-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}" if rng.random() < 0.5
        else f"({area}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}",
    )


def _logo(draw: ImageDraw.ImageDraw, rng: random.Random, box: tuple[int, int, int, int], colour) -> None:
    shape = rng.choice(["ellipse", "square", "shield", "cross"])
    x0, y0, x1, y1 = box
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rounded_rectangle(box, radius=12, fill=colour)
    elif shape == "shield":
        draw.polygon([(x0, y0), (x1, y0), (x1, (y0 + y1) // 2), ((x0 + x1) // 2, y1), (x0, (y0 + y1) // 2)], fill=colour)
    else:
        third_x, third_y = (x1 - x0) // 3, (y1 - y0) // 3
        draw.rectangle((x0 + third_x, y0, x1 - third_x, y1), fill=colour)
        draw.rectangle((x0, y0 + third_y, x1, y1 - third_y), fill=colour)


def _front(truth: CardTruth, rng: random.Random, layout: str) -> Image.Image:
    palette = rng.choice([((255, 255, 255), (0, 60, 140)), ((240, 247, 255), (20, 90, 60)),
                          ((255, 250, 240), (120, 30, 60)), ((250, 250, 250), (40, 40, 40))])
    background, accent = palette
    card = Image.new("RGB", CARD_PX, background)
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, CARD_PX[0], 120), fill=accent)
    _logo(draw, rng, (30, 20, 110, 100), (255, 255, 255))
    draw.text((130, 30), truth.payer_name, font=_font(rng, 52, bold=True), fill=(255, 255, 255))
    label_font, value_font = _font(rng, 28), _font(rng, 36, bold=True)
    id_label, group_label = rng.choice(ID_LABELS), rng.choice(GROUP_LABELS)
    if layout == "stacked":
        rows = [("Member", truth.subscriber_name), (id_label, truth.member_id), (group_label, truth.group_number),
                ("Plan", truth.plan)]
        y = 145
        for label, value in rows:
            draw.text((40, y), f"{label}:", font=label_font, fill=(70, 70, 70))
            draw.text((330, y - 4), value, font=value_font, fill=(0, 0, 0))
            y += 62
        rx = [("RxBIN", truth.rx_bin), ("RxPCN", truth.rx_pcn), ("RxGrp", truth.rx_group)]
        y = 410
        for label, value in rx:
            draw.text((40, y), f"{label} {value}", font=_font(rng, 26), fill=(0, 0, 0))
            y += 36
        copays = [("PCP", truth.copay_pcp), ("Specialist", truth.copay_specialist), ("ER", truth.copay_er)]
        y = 410
        for label, value in copays:
            draw.text((600, y), f"{label} {value}", font=_font(rng, 28), fill=(0, 0, 0))
            y += 38
    else:  # "two_column": name large, ids below, Rx block at the right
        draw.text((40, 140), truth.subscriber_name, font=_font(rng, 40, bold=True), fill=(0, 0, 0))
        for y, text in ((210, f"{id_label}: {truth.member_id}"), (270, f"{group_label}: {truth.group_number}")):
            draw.text((40, y), text, font=_fitting(draw, text, value_font, 930), fill=(0, 0, 0))
        draw.text((40, 330), f"Plan: {truth.plan}", font=_font(rng, 32), fill=(0, 0, 0))
        draw.rectangle((36, 395, 560, 560), outline=accent, width=3)
        draw.text((50, 405), "Copays", font=_font(rng, 26, bold=True), fill=accent)
        draw.text((50, 445), f"Office Visit {truth.copay_pcp}", font=_font(rng, 27), fill=(0, 0, 0))
        draw.text((50, 480), f"Specialist {truth.copay_specialist}", font=_font(rng, 27), fill=(0, 0, 0))
        draw.text((50, 515), f"Emergency Room {truth.copay_er}", font=_font(rng, 27), fill=(0, 0, 0))
        x = 640
        for i, (label, value) in enumerate([("BIN", truth.rx_bin), ("PCN", truth.rx_pcn), ("RxGRP", truth.rx_group)]):
            draw.text((x, 405 + i * 40), f"{label}: {value}", font=_font(rng, 27), fill=(0, 0, 0))
    draw.text((40, 590), SMALL_PRINT[:90], font=_font(rng, 16), fill=(90, 90, 90))
    return card


def _back(truth: CardTruth, rng: random.Random) -> Image.Image:
    card = Image.new("RGB", CARD_PX, (255, 255, 255))
    draw = ImageDraw.Draw(card)
    small = _font(rng, 17)
    y = 30
    words, line = SMALL_PRINT.split(), ""
    for word in words:  # dense small print, wrapped
        if draw.textlength(line + " " + word, font=small) > 930:
            draw.text((40, y), line.strip(), font=small, fill=(60, 60, 60))
            y, line = y + 22, ""
        line += " " + word
    draw.text((40, y), line.strip(), font=small, fill=(60, 60, 60))
    phone_label = rng.choice(["Member Services", "Customer Service", "Questions? Call"])
    draw.text((40, 300), f"{phone_label}: {truth.payer_phone}", font=_font(rng, 32, bold=True), fill=(0, 0, 0))
    draw.text((40, 360), "Pharmacy Help Desk: 1-888-555-0142", font=_font(rng, 24), fill=(0, 0, 0))
    draw.text((40, 420), f"Send claims to {truth.payer_name}, PO Box 4410, Dayton OH 45401",
              font=_font(rng, 22), fill=(0, 0, 0))
    return card


def degrade(image: Image.Image, rng: random.Random) -> bytes:
    """A kiosk scan: rotated +-5 degrees on a grey bed, slightly blurred, a glare spot, JPEG noise."""
    angle = rng.uniform(-5, 5)
    bed = Image.new("RGB", (CARD_PX[0] + 80, CARD_PX[1] + 80), (200, 200, 200))
    bed.paste(image, (40, 40))
    scanned = bed.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(200, 200, 200))
    scanned = scanned.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.1)))
    glare = Image.new("L", scanned.size, 0)
    cx, cy, r = rng.randint(200, 900), rng.randint(150, 500), rng.randint(60, 140)
    ImageDraw.Draw(glare).ellipse((cx - r, cy - r, cx + r, cy + r), fill=rng.randint(70, 130))
    glare = glare.filter(ImageFilter.GaussianBlur(r / 2))
    scanned = Image.composite(Image.new("RGB", scanned.size, (255, 255, 255)), scanned, glare)
    out = io.BytesIO()
    scanned.save(out, "JPEG", quality=rng.randint(55, 80))
    return out.getvalue()


def make_card(seed: int) -> Card:
    rng = random.Random(seed)
    truth = random_truth(rng)
    layout = rng.choice(["stacked", "two_column"])
    return Card(truth=truth, front=degrade(_front(truth, rng, layout), rng),
                back=degrade(_back(truth, rng), rng), layout=layout)


def write_to_folder(card: Card, folder: Path, stem: str = "card") -> tuple[Path, Path]:
    """What a vendor scanner does: front and back side files into its hot folder."""
    front, back = folder / f"{stem}_front.jpg", folder / f"{stem}_back.jpg"
    back.write_bytes(card.back)
    front.write_bytes(card.front)
    return front, back
