"""Small real JPEGs of an insurance card's sides, made with Pillow (the agent decodes what it stores)."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw


def card_jpeg(side: str = "front", size: tuple[int, int] = (428, 270), text: str = "ACME HEALTH") -> bytes:
    image = Image.new("RGB", size, (235, 240, 250) if side == "front" else (250, 250, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, size[0] - 10, 60), fill=(20, 60, 140))
    draw.text((20, 25), f"{text} {side}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def png_bytes(size: tuple[int, int] = (428, 270)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 200, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def card_scan(member_id: str = "W987654321", *, back: bool = True, review: tuple[str, ...] = ("group_number",),
              corrected: tuple[str, ...] = ("member_id",)) -> dict:  # fmt: skip
    """An `insurance_card` as the kiosk sends it (JSON)."""
    values = {"payer_name": "Acme Health", "member_id": member_id, "group_number": "GRP-4411", "plan": "Gold PPO",
              "subscriber_name": "", "payer_phone": "800-555-0199"}  # fmt: skip
    fields = {name: {"value": value, "needs_review": name in review, "corrected": name in corrected}
              for name, value in values.items()}  # fmt: skip
    return {"front_jpeg": b64(card_jpeg("front")), "back_jpeg": b64(card_jpeg("back")) if back else None,
            "fields": fields}  # fmt: skip
