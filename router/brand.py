"""The brand: one typed, validated value (name, logo, theme colour, offer line, captions per kind
of code, the location-purpose line, footer, call to action) that the customer page, its generated
stylesheet, the WeChat share card and the print sheets are all made from.

Its defaults come from the HUOMA_BRAND_* settings (`brand_from_settings`); everything reads it
through one call, `BrandSource.current()`, which the database settings layer can later back
(`BrandSource.replace` swaps in a new value, validated by construction).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from router.errors import BadInput
from router.settings import Settings

# What each text may hold, characters (a phone line at 375 px holds about 20 CJK characters).
MAX_CHARS = {
    "name": 20,
    "offer": 40,
    "caption_group": 40,
    "caption_staff": 40,
    "caption_brand": 40,
    "location_purpose": 120,
    "footer": 60,
    "call_to_action": 24,
}
REQUIRED = ("name", "caption_group", "caption_staff", "caption_brand", "call_to_action")
# What ops call each field (messages are Chinese first, then English).
LABELS_ZH = {
    "name": "品牌名称",
    "theme_colour": "主题色",
    "offer": "福利语",
    "caption_group": "群码说明",
    "caption_staff": "店员兜底说明",
    "caption_brand": "品牌群兜底说明",
    "location_purpose": "定位用途说明",
    "footer": "页脚",
    "call_to_action": "台卡引导语",
    "logo": "品牌标志",
}
# The logo as served and printed: re-encoded PNG, its longer side at most this many pixels
# (shown 48 CSS px high on the page: 192 covers a 3x screen and a 25 mm print at 200 dpi).
LOGO_MAX_PX = 192
# A picture larger than this is refused before it is decoded (decompression bombs).
LOGO_MAX_SOURCE_PX = 4096 * 4096
LOGO_TYPES = ("PNG", "JPEG", "WEBP")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BrandError(BadInput):
    """A brand value that cannot be used; the message lists every problem."""

    code = "bad_brand"


@dataclass(frozen=True, slots=True)
class Logo:
    """The logo, re-encoded: a small PNG served from our origin under a versioned URL."""

    png: bytes
    width: int
    height: int

    @property
    def digest(self) -> str:
        """SHA-256 of the re-encoded PNG: how the database settings name a logo."""
        return hashlib.sha256(self.png).hexdigest()

    @property
    def version(self) -> str:
        return self.digest[:12]


def read_logo(data: bytes, max_bytes: int) -> Logo:
    """Check an uploaded picture (type, bytes, pixels) and re-encode it small; BrandError when it
    is not a PNG, JPEG or WebP picture within the bounds."""
    from PIL import Image, UnidentifiedImageError  # only where a logo is read

    if not data:
        raise BrandError("品牌标志文件是空的 / the logo file is empty", code="bad_brand")
    if len(data) > max_bytes:
        raise BrandError(
            f"品牌标志文件有 {len(data)} 字节，最多 {max_bytes} 字节 / "
            f"the logo is {len(data)} bytes; at most {max_bytes} are accepted",
            code="bad_brand",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in LOGO_TYPES:
                raise BrandError(
                    f"品牌标志须为 PNG、JPEG 或 WebP 图片 / the logo must be a PNG, JPEG or WebP "
                    f"picture, not {image.format}",
                    code="bad_brand",
                )
            if image.width * image.height > LOGO_MAX_SOURCE_PX:
                raise BrandError(
                    f"品牌标志图片太大（{image.width}x{image.height} 像素） / the logo is "
                    f"{image.width}x{image.height} pixels; at most {LOGO_MAX_SOURCE_PX} pixels "
                    "in all are accepted",
                    code="bad_brand",
                )
            image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Warning):
        raise BrandError(
            "品牌标志不是可读取的图片 / the logo is not a readable picture", code="bad_brand"
        ) from None
    rgba = image.convert("RGBA")
    rgba.thumbnail((LOGO_MAX_PX, LOGO_MAX_PX), Image.Resampling.LANCZOS)
    # A palette of 64 colours: a logo stays crisp at a fraction of the bytes.
    small = rgba.quantize(64, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return Logo(out.getvalue(), rgba.width, rgba.height)


@dataclass(frozen=True, slots=True, kw_only=True)
class Brand:
    """The brand, validated when made: every text within its length, no control characters, the
    colour as #rrggbb. The answer to "what does this page say and look like"."""

    name: str
    theme_colour: str
    offer: str = ""
    caption_group: str
    caption_staff: str
    caption_brand: str
    location_purpose: str = ""
    footer: str = ""
    call_to_action: str
    logo: Logo | None = None

    def __post_init__(self) -> None:
        problems = [p for name in MAX_CHARS for p in text_problems(name, getattr(self, name))]
        problems += colour_problems(self.theme_colour)
        if problems:
            raise BrandError("; ".join(problems), code="bad_brand")

    @property
    def version(self) -> str:
        """Changes with anything shown: the stylesheet's and the page's cache key."""
        h = hashlib.sha256()
        for f in fields(self):
            value = getattr(self, f.name)
            h.update(value.png if isinstance(value, Logo) else str(value).encode())
            h.update(b"\0")
        return h.hexdigest()[:12]

    @property
    def on_theme(self) -> str:
        """Text colour on the theme colour: white unless the contrast would be below 4.5:1
        (WCAG AA), then near-black."""
        return "#fff" if _contrast_with_white(self.theme_colour) >= 4.5 else "#1f2329"

    @property
    def text_colour(self) -> str:
        """The theme colour for links and coloured text on the page (its background and its white
        cards): itself when it reads at 4.5:1 on both, else the nearest darker shade that does."""
        return readable_on(self.theme_colour, PAGE_BACKGROUNDS)

    @property
    def fill_colour(self) -> str:
        """The theme colour as a button's background: itself when white or near-black text reads
        on it at 4.5:1, else the nearest darker shade on which white does."""
        colour = self.theme_colour.lower()
        if max(contrast(colour, "#ffffff"), contrast(colour, DARK_TEXT)) >= MIN_CONTRAST:
            return colour
        return readable_on(colour, ("#ffffff",))

    @property
    def on_fill(self) -> str:
        """Text colour on a button (`fill_colour`): whichever of white and near-black reads."""
        fill = self.fill_colour
        return "#ffffff" if contrast(fill, "#ffffff") >= contrast(fill, DARK_TEXT) else DARK_TEXT

    @property
    def contrast_adjusted(self) -> bool:
        """Whether the page shows a shade of the theme colour somewhere for readability (the
        brand screen says so)."""
        colour = self.theme_colour.lower()
        return self.text_colour != colour or self.fill_colour != colour

    def stylesheet(self) -> bytes:
        """The brand's part of the page's stylesheet: its colours as custom properties (the
        static stylesheet uses them); no inline style anywhere."""
        return (
            f":root{{--brand:{self.theme_colour.lower()};--on-brand:{self.on_theme};"
            f"--brand-text:{self.text_colour};--brand-fill:{self.fill_colour};"
            f"--on-brand-fill:{self.on_fill}}}\n"
        ).encode()


def text_problems(name: str, value: object) -> list[str]:
    """What is wrong with one of the brand's texts (empty: nothing), each problem in Chinese,
    then English ("name: ...")."""
    zh = LABELS_ZH[name]
    if not isinstance(value, str):
        return [f"{zh}必须是文字 / {name}: must be text"]
    limit = MAX_CHARS[name]
    problems = []
    if value != value.strip():
        problems.append(f"{zh}前后不能有空格 / {name}: no spaces around the text")
    if name in REQUIRED and not value.strip():
        problems.append(f"{zh}必填 / {name}: required")
    if len(value) > limit:
        problems.append(
            f"{zh}最多 {limit} 个字（现有 {len(value)} 个） / "
            f"{name}: at most {limit} characters ({len(value)} given)"
        )
    if _CONTROL.search(value):
        problems.append(f"{zh}不能换行或含控制字符 / {name}: no control characters or line breaks")
    return problems


def colour_problems(value: object) -> list[str]:
    if isinstance(value, str) and _COLOUR.fullmatch(value):
        return []
    shown = repr(value[:20]) if isinstance(value, str) else type(value).__name__
    return [f"主题色须为 #rrggbb 格式（如 #07c160） / theme_colour: expected #rrggbb, not {shown}"]


def check_text(name: str, raw: object) -> str:
    """One text as ops send it: spaces around it dropped, then checked; BrandError if wrong."""
    value = raw.strip() if isinstance(raw, str) else raw
    problems = text_problems(name, value)
    if problems:
        raise BrandError("; ".join(problems), code="bad_brand")
    assert isinstance(value, str)
    return value


def check_colour(raw: object) -> str:
    value = raw.strip() if isinstance(raw, str) else raw
    problems = colour_problems(value)
    if problems:
        raise BrandError("; ".join(problems), code="bad_brand")
    assert isinstance(value, str)
    return value.lower()


def with_values(default: Brand, values: Mapping[str, str], logo: Logo | None) -> Brand:
    """The brand of `default` (the environment's) with ops' values over it; BrandError if the
    result is not a valid brand."""
    return dataclasses.replace(default, **values, logo=logo)


# WCAG AA for normal text; the customer page's backgrounds (static/h5/style.css: the body and the
# white cards) and its near-black text.
MIN_CONTRAST = 4.5
PAGE_BACKGROUNDS = ("#f5f6f7", "#ffffff")
DARK_TEXT = "#1f2329"


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = _luminance(a), _luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def readable_on(colour: str, backgrounds: tuple[str, ...]) -> str:
    """`colour` when it reads at 4.5:1 on every background, else the least changed shade that
    does: darker on light backgrounds, lighter on dark ones (hue kept, mixed toward black or
    white in 1% steps; black or white itself at worst)."""
    colour = colour.lower()
    if all(contrast(colour, bg) >= MIN_CONTRAST for bg in backgrounds):
        return colour
    light = sum(_luminance(bg) for bg in backgrounds) / len(backgrounds) > 0.18
    target = 0 if light else 255
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    for step in range(1, 101):
        t = step / 100
        shade = "#" + "".join(f"{round(c + (target - c) * t):02x}" for c in (r, g, b))
        if all(contrast(shade, bg) >= MIN_CONTRAST for bg in backgrounds):
            return shade
    return "#000000" if light else "#ffffff"


def _contrast_with_white(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    lum = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (lum + 0.05)


def brand_from_settings(settings: Settings) -> Brand:
    """The brand as the HUOMA_BRAND_* settings say; BrandError names what is wrong."""
    logo = None
    if settings.brand_logo_path:
        path = Path(settings.brand_logo_path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BrandError(
                f"HUOMA_BRAND_LOGO_PATH: cannot read {path}: {exc.strerror}", code="bad_brand"
            ) from None
        logo = read_logo(data, settings.brand_logo_max_bytes)
    return Brand(
        name=settings.brand_name,
        theme_colour=settings.brand_theme_colour,
        offer=settings.brand_offer,
        caption_group=settings.brand_caption_group,
        caption_staff=settings.brand_caption_staff,
        caption_brand=settings.brand_caption_brand,
        location_purpose=settings.brand_location_purpose,
        footer=settings.brand_footer,
        call_to_action=settings.brand_call_to_action,
        logo=logo,
    )


class BrandSource:
    """Where every reader gets the brand: `current()`. It starts as the value made from the
    HUOMA_BRAND_* settings (kept as `default`); the database settings layer calls `replace` in
    every worker when an admin's change arrives (router.runtime.opsettings), and the worker
    serves it with its next request."""

    __slots__ = ("_brand", "default")

    def __init__(self, brand: Brand) -> None:
        self._brand = brand
        self.default = brand

    def current(self) -> Brand:
        return self._brand

    def replace(self, brand: Brand) -> None:
        self._brand = brand
