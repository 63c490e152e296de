"""Print sheets: an entry code or a store's code ready to print, as a PDF (reportlab).

Two sizes: an A6 card for a counter's acrylic table tent (台卡, 105 x 148 mm) and an A5 poster
(148 x 210 mm). Each has the brand's band (logo, name) in its colour, the offer line, the call to
action, the store's name for a store's code, the code itself drawn as vector squares (sharp at any
printer resolution) with its 4-module quiet zone kept white, and a short human-readable code
under it. Pure and CPU-bound: the ops API runs one sheet in a thread, a whole brand's sheets run
in a separate process (`router.keeper.print_jobs`), never in a serving worker's request.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import qrcode
from qrcode.constants import ERROR_CORRECT_Q

from router.brand import Brand

# Where Debian and the Docker image put a CJK TrueType font (fonts-wqy-zenhei); reportlab
# embeds TrueType outlines only, so an OpenType/CFF font (Noto Sans CJK) will not do.
FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
FONT = "HuomaCJK"
QUIET_MODULES = 4  # the QR specification's quiet zone, kept white around the code
MM = 72 / 25.4  # points per millimetre


class SheetSize(StrEnum):
    A6 = "a6"  # table tent card
    A5 = "a5"  # poster


@dataclass(frozen=True, slots=True)
class Layout:
    width_mm: float
    height_mm: float
    band_mm: float
    qr_mm: float  # the code with its quiet zone
    title_pt: float
    text_pt: float


LAYOUTS = {
    SheetSize.A6: Layout(105, 148, 22, 62, 15, 9.5),
    SheetSize.A5: Layout(148, 210, 30, 92, 22, 13),
}


class SheetError(Exception):
    """A sheet cannot be made here (no CJK font)."""


@dataclass(frozen=True, slots=True)
class Sheet:
    """What one page says: the URL the code opens, its short code, the store's name (store
    codes) and its label."""

    url: str
    code: str
    store_name: str = ""
    label: str = ""


def find_font(configured: str = "") -> str:
    candidates = (configured,) if configured else FONT_PATHS
    for path in candidates:
        if path and Path(path).is_file():
            return path
    raise SheetError(
        "没有可用的中文字体 / no CJK TrueType font: install fonts-wqy-zenhei or set "
        "HUOMA_PRINT_FONT"
    )


def _register(font_path: str) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, font_path, subfontIndex=0))


def _hex(colour: str) -> tuple[float, float, float]:
    return tuple(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def render_sheets(
    brand: Brand, sheets: list[Sheet], size: SheetSize, font_path: str, title: str = ""
) -> bytes:
    """One PDF, one page per sheet."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    _register(font_path)
    layout = LAYOUTS[size]
    w, h = layout.width_mm * MM, layout.height_mm * MM
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(w, h), pageCompression=1, invariant=1)
    pdf.setTitle(title or brand.name)
    pdf.setAuthor(brand.name)
    logo = ImageReader(io.BytesIO(brand.logo.png)) if brand.logo is not None else None
    band = layout.band_mm * MM
    for sheet in sheets:
        # The brand's band: logo and name, in its colour.
        pdf.setFillColorRGB(*_hex(brand.theme_colour))
        pdf.rect(0, h - band, w, band, stroke=0, fill=1)
        pdf.setFillColorRGB(*_hex(brand.on_theme if brand.on_theme != "#fff" else "#ffffff"))
        pdf.setFont(FONT, layout.title_pt)
        name_w = pdf.stringWidth(brand.name, FONT, layout.title_pt)
        x = (w - name_w) / 2
        if logo is not None and brand.logo is not None:
            lh = band * 0.62
            lw = lh * brand.logo.width / brand.logo.height
            x = (w - name_w - lw - 3 * MM) / 2
            pdf.drawImage(logo, x, h - band + (band - lh) / 2, lw, lh, mask="auto")
            x += lw + 3 * MM
        pdf.drawString(x, h - band / 2 - layout.title_pt * 0.35, brand.name)

        y = h - band - 9 * MM
        pdf.setFillColorRGB(0.12, 0.14, 0.16)
        if brand.offer:
            pdf.setFont(FONT, layout.text_pt * 1.25)
            pdf.drawCentredString(w / 2, y, brand.offer)
            y -= layout.text_pt * 1.9
        pdf.setFont(FONT, layout.title_pt)
        pdf.drawCentredString(w / 2, y - layout.title_pt * 0.2, brand.call_to_action)
        y -= layout.title_pt * 1.1

        # The code: vector modules, quiet zone white, centred below.
        side = layout.qr_mm * MM
        top = y - 3 * MM
        _draw_qr(pdf, sheet.url, (w - side) / 2, top - side, side)
        y = top - side - 6 * MM
        if sheet.store_name:
            pdf.setFont(FONT, layout.text_pt * 1.3)
            pdf.drawCentredString(w / 2, y, sheet.store_name)
            y -= layout.text_pt * 1.9
        pdf.setFont(FONT, layout.text_pt)
        pdf.setFillColorRGB(0.39, 0.42, 0.45)
        pdf.drawCentredString(w / 2, y, f"编号 {sheet.code}")
        if brand.footer:
            pdf.setFont(FONT, layout.text_pt * 0.8)
            pdf.drawCentredString(w / 2, 6 * MM, brand.footer)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def _draw_qr(pdf: object, url: str, x: float, y: float, side: float) -> None:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=QUIET_MODULES, box_size=1)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()  # the quiet zone included
    n = len(matrix)
    cell = side / n
    c = pdf
    c.setFillColorRGB(1, 1, 1)  # type: ignore[attr-defined]
    c.rect(x, y, side, side, stroke=0, fill=1)  # type: ignore[attr-defined]
    c.setFillColorRGB(0, 0, 0)  # type: ignore[attr-defined]
    path = c.beginPath()  # type: ignore[attr-defined]
    for row, cells in enumerate(matrix):
        col = 0
        while col < n:
            if not cells[col]:
                col += 1
                continue
            start = col
            while col < n and cells[col]:
                col += 1
            # A run of dark modules as one rectangle, a hair over its cell so none shows seams.
            path.rect(
                x + start * cell, y + side - (row + 1) * cell, (col - start) * cell, cell * 1.01
            )
    c.drawPath(path, stroke=0, fill=1)  # type: ignore[attr-defined]
