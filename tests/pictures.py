"""Pictures of group codes made in the test: a QR code on a phone-screenshot-like canvas with
WeChat's card text around it, rotated, scaled, compressed, in PNG, JPEG or WebP."""

from __future__ import annotations

import io
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

# A CJK font for the card's Chinese text (tests/run and .ci/run install fonts-wqy-zenhei).
FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def cjk_font_file() -> str | None:
    return next((path for path in FONT_FILES if Path(path).exists()), None)


def cjk_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The CJK font; without one, Pillow's own (the Chinese shows as boxes: the code still
    decodes, only the OCR test needs the words, and it asks for the font)."""
    path = cjk_font_file()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def qr_image(payload: str, box: int = 8) -> Image.Image:
    code = qrcode.QRCode(border=2, box_size=box)
    code.add_data(payload)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def wechat_card(
    payload: str,
    *,
    name: str = "人民广场店福利群",
    members: int | None = 128,
    validity: str | None = "该二维码7天内(12月7日前)有效，重新进入将更新",
    size: tuple[int, int] = (750, 1334),
) -> Image.Image:
    """A phone screenshot of WeChat's group QR card: status bar, the group's name with its member
    count, the code, the validity line."""
    width, height = size
    canvas = Image.new("RGB", size, (237, 237, 237))
    draw = ImageDraw.Draw(canvas)
    draw.text((30, 20), "10:07", fill=(0, 0, 0), font=cjk_font(28))
    draw.text((width // 2 - 60, 90), "群二维码", fill=(0, 0, 0), font=cjk_font(34))
    card = (40, 180, width - 40, height - 200)
    draw.rectangle(card, fill=(255, 255, 255))
    title = name + (f"({members}人)" if members is not None else "")
    draw.text((80, 230), title, fill=(0, 0, 0), font=cjk_font(40))
    code = qr_image(payload).resize((520, 520))
    canvas.paste(code, ((width - 520) // 2, 360))
    if validity:
        draw.text((80, 940), validity, fill=(120, 120, 120), font=cjk_font(28))
    return canvas


def encode(img: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def screenshot(
    payload: str,
    fmt: str = "PNG",
    *,
    angle: float = 0.0,
    scale: float = 1.0,
    quality: int = 85,
    **card: object,
) -> bytes:
    img = wechat_card(payload, **card)  # type: ignore[arg-type]
    if scale != 1.0:
        img = img.resize((int(img.width * scale), int(img.height * scale)))
    if angle:
        img = img.rotate(angle, expand=True, fillcolor=(237, 237, 237))
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    return encode(img, fmt, **options)
