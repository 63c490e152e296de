"""The brand value: every text bounded and on one line, the colour as #rrggbb, the logo a PNG,
JPEG or WebP picture within its bytes and pixels, re-encoded small; defaults from the settings."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from router.brand import (
    LOGO_MAX_PX,
    MAX_CHARS,
    PAGE_BACKGROUNDS,
    Brand,
    BrandError,
    BrandSource,
    brand_from_settings,
    contrast,
    read_logo,
    readable_on,
)
from router.settings import Settings


def picture(fmt: str, size: tuple[int, int] = (600, 300), colour: str = "#e60012") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def default() -> Brand:
    return brand_from_settings(Settings())


def test_the_defaults_from_the_settings_are_a_valid_brand() -> None:
    brand = default()
    assert brand.name and brand.logo is None and brand.theme_colour == "#2b63e6"
    assert brand.caption_brand != brand.caption_group  # a brand fallback is not 门店福利群
    assert b"--brand:#2b63e6" in brand.stylesheet()


@pytest.mark.parametrize("field", sorted(MAX_CHARS))
def test_every_text_is_bounded_and_on_one_line(field: str) -> None:
    brand = default()
    limit = MAX_CHARS[field]
    ok = replace(brand, **{field: "字" * limit})
    assert getattr(ok, field) == "字" * limit
    with pytest.raises(BrandError, match=f"{field}: at most {limit}"):
        replace(brand, **{field: "字" * (limit + 1)})
    with pytest.raises(BrandError, match=f"{field}: no control"):
        replace(brand, **{field: "进群\n领券"})
    with pytest.raises(BrandError, match=f"{field}: no spaces"):
        replace(brand, **{field: " 进群"})


@pytest.mark.parametrize("field", ["name", "caption_group", "caption_staff", "caption_brand"])
def test_what_the_page_cannot_do_without_is_required(field: str) -> None:
    with pytest.raises(BrandError, match=f"{field}: required"):
        replace(default(), **{field: ""})


@pytest.mark.parametrize("colour", ["red", "#fff", "#12345g", "3370ff", "#2b63e6;}", ""])
def test_the_colour_is_hex_rrggbb_only(colour: str) -> None:
    with pytest.raises(BrandError, match="theme_colour"):
        replace(default(), theme_colour=colour)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(BrandError) as caught:
        replace(default(), name="", theme_colour="blue", offer="x" * 41)
    assert caught.value.code == "bad_brand"
    assert all(w in caught.value.message for w in ("name", "theme_colour", "offer"))


def test_text_on_the_theme_colour_stays_readable() -> None:
    assert replace(default(), theme_colour="#1a1a1a").on_theme == "#fff"
    assert replace(default(), theme_colour="#ffd100").on_theme == "#1f2329"  # yellow: dark text
    assert b"--on-brand:#1f2329" in replace(default(), theme_colour="#FFD100").stylesheet()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_logo_is_re_encoded_as_a_small_png(fmt: str) -> None:
    logo = read_logo(picture(fmt, (1600, 800)), max_bytes=2_000_000)
    assert (logo.width, logo.height) == (LOGO_MAX_PX, LOGO_MAX_PX // 2)
    image = Image.open(io.BytesIO(logo.png))
    assert image.format == "PNG" and image.size == (logo.width, logo.height)
    assert len(logo.png) < 4_000
    assert read_logo(picture(fmt, (1600, 800)), 2_000_000).version == logo.version


def test_a_small_logo_is_not_blown_up() -> None:
    logo = read_logo(picture("PNG", (64, 32)), 2_000_000)
    assert (logo.width, logo.height) == (64, 32)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a" + b"\0" * 100, "not a readable picture"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a readable picture"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "not a readable picture"),
    ],
)
def test_what_is_not_a_png_jpeg_or_webp_picture_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(BrandError, match=message):
        read_logo(data, 2_000_000)


def test_a_gif_is_refused_by_type() -> None:
    with pytest.raises(BrandError, match="PNG, JPEG or WebP"):
        read_logo(picture("GIF", (10, 10)), 2_000_000)


def test_a_logo_over_the_byte_limit_is_refused_before_it_is_read() -> None:
    data = picture("PNG", (200, 200))
    with pytest.raises(BrandError, match=f"{len(data)} bytes"):
        read_logo(data, len(data) - 1)


def test_a_picture_of_too_many_pixels_is_refused_unread() -> None:
    # 5000x5000 of one colour is a few kilobytes: small in bytes, large once decoded.
    data = picture("PNG", (5000, 5000))
    assert len(data) < 200_000
    with pytest.raises(BrandError, match="pixels"):
        read_logo(data, 2_000_000)


def test_the_logo_setting_is_read_validated_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "logo.jpg"
    path.write_bytes(picture("JPEG"))
    brand = brand_from_settings(Settings(brand_logo_path=str(path), brand_offer="进群领3张8折券"))
    assert brand.logo is not None and brand.logo.width == LOGO_MAX_PX
    with pytest.raises(BrandError, match="cannot read"):
        brand_from_settings(Settings(brand_logo_path=str(tmp_path / "missing.png")))
    with pytest.raises(BrandError, match="bytes"):
        brand_from_settings(Settings(brand_logo_path=str(path), brand_logo_max_bytes=10))


def test_the_version_follows_anything_shown_and_the_source_swaps_whole() -> None:
    brand = default()
    assert replace(brand, offer="进群领券").version != brand.version
    assert replace(brand, theme_colour="#e60012").version != brand.version
    source = BrandSource(brand)
    changed = replace(brand, name="示例咖啡")
    source.replace(changed)
    assert source.current() is changed


@pytest.mark.parametrize("bad", ["red", "#12345", "#2b63e6ff"])
def test_the_colour_setting_is_checked_when_read(bad: str) -> None:
    from router.settings import SettingsError

    with pytest.raises(SettingsError, match="HUOMA_BRAND_THEME_COLOUR"):
        Settings.from_env({"HUOMA_BRAND_THEME_COLOUR": bad})


def _grid() -> list[str]:
    """Colours across the cube, light and dark, saturated and grey (7^3 of them)."""
    steps = (0, 42, 85, 128, 170, 213, 255)
    return [f"#{r:02x}{g:02x}{b:02x}" for r in steps for g in steps for b in steps]


def test_links_and_buttons_read_at_4_5_to_1_whatever_the_theme_colour() -> None:
    """The trial's pale yellow (#FFE14D) made links unreadable on the light page. For every
    colour, the links' shade reads on the page and its white cards, the button's text on the
    button's fill; a colour that already reads is shown as it is."""
    for colour in [*_grid(), "#ffe14d", "#ffd100", "#777777"]:
        brand = replace(default(), theme_colour=colour)
        text = brand.text_colour
        for background in PAGE_BACKGROUNDS:
            assert contrast(text, background) >= 4.5, (colour, text, background)
        assert contrast(brand.fill_colour, brand.on_fill) >= 4.5, colour
        if all(contrast(colour, bg) >= 4.5 for bg in PAGE_BACKGROUNDS):
            assert text == colour
        css = brand.stylesheet()
        assert f"--brand-text:{text}".encode() in css
        assert f"--brand-fill:{brand.fill_colour};--on-brand-fill:{brand.on_fill}".encode() in css


def test_a_pale_theme_colour_is_darkened_not_replaced_and_said() -> None:
    pale = replace(default(), theme_colour="#FFE14D")
    assert pale.contrast_adjusted
    r, g, b = (int(pale.text_colour[i : i + 2], 16) for i in (1, 3, 5))
    assert r > g > b  # still a yellow-brown: the hue kept, only darker
    assert not default().contrast_adjusted  # #2b63e6 reads as it is
    assert readable_on("#ffffff", ("#000000",)) == "#ffffff"  # dark backgrounds: lighter
    assert contrast(readable_on("#333333", ("#000000",)), "#000000") >= 4.5
