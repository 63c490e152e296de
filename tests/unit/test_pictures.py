"""Group codes from pictures, without a database: decoding (rotated, scaled, compressed, WebP),
every refusal of a picture, the kinds of code, and the expiry from what is known, in order."""

from __future__ import annotations

import io
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from router.ops.codes import CodeKind, classify
from router.ops.ocr import parse_card
from router.ops.pictures import PictureRefused, check_slot, decode_picture, derive_expiry
from router.ops.uploads.rows import parse_time, wechat_validity
from router.scan.catalogue import GroupKind
from router.settings import Settings
from tests.pictures import encode, qr_image, screenshot, wechat_card

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
SETTINGS = Settings()
GROUP = "https://weixin.qq.com/g/AQYAAKxYz0123456789abcdef"
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("fmt", "angle", "scale", "quality"),
    [
        ("PNG", 0, 1.0, 85),
        ("PNG", 17, 0.6, 85),
        ("JPEG", 0, 1.0, 40),
        ("JPEG", -30, 0.8, 55),
        ("WEBP", 0, 1.0, 60),
        ("WEBP", 90, 0.5, 70),
    ],
)
def test_a_group_code_is_decoded_from_a_screenshot_rotated_scaled_and_compressed(
    fmt: str, angle: float, scale: float, quality: int
) -> None:
    data = screenshot(GROUP, fmt, angle=angle, scale=scale, quality=quality)
    decoded = decode_picture(data, SETTINGS)
    assert decoded.payload == GROUP
    assert decoded.kind is CodeKind.WECHAT_GROUP
    assert decoded.taken_at is None


def test_a_code_without_its_scheme_is_stored_with_https() -> None:
    decoded = decode_picture(screenshot("weixin.qq.com/g/NoScheme42"), SETTINGS)
    assert decoded.payload == "https://weixin.qq.com/g/NoScheme42"
    assert decoded.kind is CodeKind.WECHAT_GROUP


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ("https://weixin.qq.com/g/AbC", CodeKind.WECHAT_GROUP),
        ("HTTP://WEIXIN.QQ.COM/g/AbC", CodeKind.WECHAT_GROUP),
        ("https://work.weixin.qq.com/gm/3f8a9b", CodeKind.WECOM_GROUP),
        ("https://u.wechat.com/EAbcDEF", CodeKind.WECHAT_CONTACT),
        ("http://weixin.qq.com/r/abcdEFG", CodeKind.WECHAT_CONTACT),
        ("https://work.weixin.qq.com/ca/cawcde123", CodeKind.WECOM_CONTACT),
        ("https://work.weixin.qq.com/u/vc123", CodeKind.WECOM_CONTACT),
        ("wxp://f2f0abcdef", CodeKind.PAYMENT),
        ("https://qr.alipay.com/fkx123", CodeKind.PAYMENT),
        ("https://example.com/weixin.qq.com/g/x", CodeKind.WEB_PAGE),
        ("https://weixin.qq.com.evil.example/g/x", CodeKind.WEB_PAGE),
        ("hello", CodeKind.TEXT),
    ],
)
def test_the_kind_of_a_code(payload: str, kind: CodeKind) -> None:
    assert classify(payload)[0] is kind


@pytest.mark.parametrize(
    "payload",
    ["wxp://f2f0abcdef", "https://example.com/", "https://u.wechat.com/EAb", "text"],
)
def test_a_group_slot_refuses_payment_codes_web_pages_and_contact_cards(payload: str) -> None:
    with pytest.raises(PictureRefused) as caught:
        check_slot(classify(payload)[0], GroupKind.GROUP)
    assert caught.value.code == "wrong_code_kind"
    assert caught.value.status == 422


def test_a_fallback_slot_takes_a_contact_card_but_not_a_payment_code() -> None:
    check_slot(CodeKind.WECHAT_CONTACT, GroupKind.FALLBACK)
    check_slot(CodeKind.WECOM_CONTACT, GroupKind.FALLBACK)
    with pytest.raises(PictureRefused):
        check_slot(CodeKind.PAYMENT, GroupKind.FALLBACK)


def _refusal(data: bytes, settings: Settings = SETTINGS) -> PictureRefused:
    with pytest.raises(PictureRefused) as caught:
        decode_picture(data, settings)
    return caught.value


def test_a_picture_without_a_code_is_refused() -> None:
    blank = encode(Image.new("RGB", (400, 700), (255, 255, 255)))
    err = _refusal(blank)
    assert (err.code, err.status) == ("no_code", 422)
    assert err.message.startswith("图片里没有找到二维码")


def test_a_picture_with_two_codes_is_refused() -> None:
    canvas = Image.new("RGB", (900, 500), (255, 255, 255))
    canvas.paste(qr_image("https://weixin.qq.com/g/One").resize((380, 380)), (20, 60))
    canvas.paste(qr_image("https://weixin.qq.com/g/Two").resize((380, 380)), (480, 60))
    err = _refusal(encode(canvas))
    assert err.code == "several_codes"
    assert "2" in err.message


def test_a_file_that_is_no_picture_and_a_gif_are_refused() -> None:
    assert _refusal(b"not a picture at all").code == "not_a_picture"
    gif = encode(wechat_card(GROUP), "GIF")
    assert _refusal(gif).code == "not_a_picture"


def test_a_truncated_picture_is_refused_as_damaged() -> None:
    data = screenshot(GROUP, "JPEG")
    assert _refusal(data[: len(data) // 3]).code in ("picture_unreadable", "no_code")
    png = screenshot(GROUP)
    assert _refusal(png[: len(png) // 2]).code == "picture_unreadable"


def test_a_picture_past_the_byte_limit_is_refused_before_it_is_opened() -> None:
    err = _refusal(screenshot(GROUP), SETTINGS.with_(picture_max_bytes=1_000))
    assert (err.code, err.status) == ("picture_too_large", 413)
    assert "HUOMA_PICTURE_MAX_BYTES" in err.message


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    # 20000 x 20000 pixels of one colour: a PNG of a few hundred KB that would take 1.2 GB.
    bomb = encode(Image.new("1", (20_000, 20_000), 1), optimize=True)
    assert len(bomb) < 1_000_000
    err = _refusal(bomb)
    assert (err.code, err.status) == ("picture_too_large", 413)
    assert "HUOMA_PICTURE_MAX_PIXELS" in err.message
    # And one within Pillow's own limit but past the setting.
    small = _refusal(screenshot(GROUP), SETTINGS.with_(picture_max_pixels=10_000))
    assert small.code == "picture_too_large"


def test_the_capture_time_comes_from_exif() -> None:
    img = wechat_card(GROUP)
    exif = Image.Exif()
    exif[306] = "2026:11:28 09:30:00"
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=80)
    decoded = decode_picture(buf.getvalue(), SETTINGS)
    assert decoded.taken_at == datetime(2026, 11, 28, 9, 30, tzinfo=SH)


# ---- expiry ------------------------------------------------------------------------------------

UPLOAD = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _expiry(**known: object) -> tuple[datetime | None, str]:
    e = derive_expiry(
        kind=known.pop("kind", CodeKind.WECHAT_GROUP),  # type: ignore[arg-type]
        uploaded_at=UPLOAD,
        tz=SH,
        lifetime=WEEK,
        **known,  # type: ignore[arg-type]
    )
    return e.at, e.source


def test_the_expiry_is_taken_from_what_is_known_in_order() -> None:
    explicit = datetime(2026, 12, 3, 18, 0, tzinfo=SH)
    made = datetime(2026, 11, 29, 8, 0, tzinfo=SH)
    taken = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
    line = "该二维码7天内(12月6日前)有效"
    everything = {
        "expires_at": explicit,
        "validity_line": line,
        "qr_created_at": made,
        "taken_at": taken,
    }
    assert _expiry(**everything) == (explicit, "expires_at")
    del everything["expires_at"]
    assert _expiry(**everything) == (datetime(2026, 12, 6, tzinfo=SH), "validity_line")
    del everything["validity_line"]
    assert _expiry(**everything) == (made + WEEK, "qr_created_at")
    del everything["qr_created_at"]
    assert _expiry(**everything) == (taken + WEEK, "exif")
    assert _expiry() == (UPLOAD + WEEK, "upload")
    # A line without a date does not count: the next source is used.
    assert _expiry(validity_line="该二维码已失效") == (UPLOAD + WEEK, "upload")


def test_a_contact_card_has_no_derived_expiry() -> None:
    assert _expiry(kind=CodeKind.WECHAT_CONTACT) == (None, "none")
    at = datetime(2027, 1, 1, tzinfo=SH)
    assert _expiry(kind=CodeKind.WECHAT_CONTACT, expires_at=at) == (at, "expires_at")


def test_wechat_wording_means_the_start_of_that_day_in_the_year_within_a_week() -> None:
    assert wechat_validity("12月7日前", UPLOAD, SH) == datetime(2026, 12, 7, tzinfo=SH)
    late = datetime(2026, 12, 30, 4, 0, tzinfo=UTC)
    assert wechat_validity("(1月6日前)", late, SH) == datetime(2027, 1, 6, tzinfo=SH)
    early = datetime(2027, 1, 2, 4, 0, tzinfo=UTC)
    assert wechat_validity("12月31日前", early, SH) == datetime(2026, 12, 31, tzinfo=SH)
    assert wechat_validity("no date here", UPLOAD, SH) is None
    with pytest.raises(ValueError, match="not a day"):
        wechat_validity("2月30日前", UPLOAD, SH)


def test_the_group_sheet_reads_wechat_wording_as_a_date() -> None:
    assert parse_time("该二维码7天内(12月7日前)有效", SH, UPLOAD) == datetime(
        2026, 12, 7, tzinfo=SH
    )
    assert parse_time("12月7日", SH, UPLOAD) == datetime(2026, 12, 7, tzinfo=SH)
    assert parse_time("2026-12-07 08:00", SH, UPLOAD) == datetime(2026, 12, 7, 8, tzinfo=SH)


# ---- what OCR lines mean -------------------------------------------------------------------------


def test_card_lines_give_name_count_and_validity() -> None:
    reading = parse_card(
        [
            "10:07",
            "群二维码",
            "人民广场店福利群(128人)",
            "该二维码7天内(12月7日前)有效，重新进入将更新",
        ]
    )
    assert (reading.name, reading.member_count) == ("人民广场店福利群", 128)
    assert reading.validity_line is not None and "12月7日前" in reading.validity_line
    split = parse_card(["徐家汇店宝妈群", "（56人）", "该二维码7天内（1月3日前）有效"])
    assert (split.name, split.member_count) == ("徐家汇店宝妈群", 56)
    assert parse_card([]).name is None


def test_a_group_sheet_row_with_wechat_wording_expires_at_the_start_of_that_day() -> None:
    from router.ops.uploads import Table, validate_groups

    row = {
        "group_id": "G1",
        "store_id": "S1",
        "name": "群",
        "qr_payload": "https://weixin.qq.com/g/Sheet",
        "expires_at": "该二维码7天内(12月7日前)有效",
    }
    rows, errors, _ = validate_groups(
        Table(tuple(row), [(2, row)]), SH, now=datetime(2026, 11, 30, 2, tzinfo=UTC)
    )
    assert errors == []
    assert rows[0].expires_at == datetime(2026, 12, 7, tzinfo=SH)
    bad = {**row, "expires_at": "2月30日前"}
    _, errors, _ = validate_groups(Table(tuple(bad), [(2, bad)]), SH, now=UPLOAD)
    assert [(e.row, e.column) for e in errors] == [(2, "expires_at")]
