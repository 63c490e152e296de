"""Group codes from their pictures: decode the QR code in a PNG, JPEG or WebP, say what kind it
is, read WeChat's card around it (optional OCR), derive the expiry, and write the group.

One function per action, each taking the principal's actor and nothing of HTTP, so that the ops
API, the CLI and (later) a store link reach the same rules:
- `read_picture`: decode and read, write nothing (what the ops page shows for confirmation);
- `add_group_from_picture`: a new group of store S from a picture;
- `replace_group_code`: group G's code from a picture, keeping G's id, position and history.

Pictures are bounded in bytes and pixels (a decompression bomb is refused before it is decoded),
decoded in memory, never written to disk, and dropped once decoded: only the code's text is kept.
The write goes through the group upload (`router.ops.uploads`): the same validation, dry run and
all-or-nothing transaction as a group sheet.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import warnings
import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import zxingcpp
from PIL import Image, UnidentifiedImageError

from router.errors import HuomaError, NotFound, size_text
from router.ops.codes import EXPIRING, KIND_WORDS, SLOT_TAKES, CodeKind, classify
from router.ops.ocr import CardReading, OcrService
from router.ops.uploads import Table, import_table
from router.ops.uploads.model import ImportSummary
from router.ops.uploads.rows import parse_time, wechat_validity
from router.ops.uploads.write import Audit
from router.scan.catalogue import GroupKind
from router.settings import Settings
from router.store import sql

FORMATS = ("PNG", "JPEG", "WEBP")
CONTENT_TYPES = ("image/png", "image/jpeg", "image/webp")

# Where an expiry came from, in the order they are tried.
EXPIRY_SOURCES = ("expires_at", "validity_line", "qr_created_at", "exif", "upload", "none")

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_OFFSET_TIME_ORIGINAL = 36881
_DATETIME = 306


class PictureRefused(HuomaError):
    """A picture that gives no usable code; `code` says why (stable), the message says it in
    Chinese first, then English."""

    status = 422
    code = "picture_refused"


def _refuse(code: str, zh: str, en: str, status: int = 422) -> PictureRefused:
    return PictureRefused(f"{zh} / {en}", code=code, status=status)


@dataclass(frozen=True, slots=True)
class Decoded:
    payload: str  # as stored (a scheme-less WeChat link gets https:// back)
    kind: CodeKind
    taken_at: datetime | None  # the picture's own capture time (EXIF), when it has one


def _exif_time(img: Image.Image, tz: zoneinfo.ZoneInfo) -> datetime | None:
    try:
        exif = img.getexif()
        raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
        offset = exif.get_ifd(_EXIF_IFD).get(_OFFSET_TIME_ORIGINAL)
    except Exception:  # a broken EXIF block is no reason to refuse the code beside it
        return None
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.strptime(raw.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if isinstance(offset, str):
        try:
            return datetime.fromisoformat(value.isoformat() + offset.strip().rstrip("\x00"))
        except ValueError:
            pass
    return value.replace(tzinfo=tz)


def decode_picture(data: bytes, settings: Settings) -> Decoded:
    """The one QR code in a picture. Runs in a thread (tens of milliseconds for a screenshot)."""
    if len(data) > settings.picture_max_bytes:
        limit = size_text(settings.picture_max_bytes)
        raise _refuse(
            "picture_too_large",
            f"图片太大：上限是 {limit}（HUOMA_PICTURE_MAX_BYTES）",
            f"the picture is larger than {limit} (HUOMA_PICTURE_MAX_BYTES)",
            413,
        )
    tz = zoneinfo.ZoneInfo(settings.timezone)
    try:
        with warnings.catch_warnings():
            # Pillow warns of a decompression bomb past its own limit: refused, not warned.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            with img:
                width, height = img.size
                if width * height > settings.picture_max_pixels:
                    raise _too_many_pixels(width, height, settings)
                img.load()
                taken_at = _exif_time(img, tz)
                gray = img.convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(0, 0, settings) from None
    except UnidentifiedImageError:
        raise _refuse(
            "not_a_picture",
            "不是 PNG、JPEG 或 WebP 图片",
            "this is not a PNG, JPEG or WebP picture",
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt image data
        raise _refuse(
            "picture_unreadable",
            "图片已损坏，无法读取",
            f"the picture is damaged and cannot be read ({type(exc).__name__})",
        ) from None
    try:
        found = zxingcpp.read_barcodes(
            gray,
            formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
            try_rotate=True,
            try_downscale=True,
        )
    finally:
        del gray  # not kept after decoding
    texts = list(dict.fromkeys(b.text for b in found if b.valid and b.text.strip()))
    if not texts:
        raise _refuse(
            "no_code",
            "图片里没有找到二维码，请上传微信“保存图片”得到的群二维码图片或截图",
            "no QR code was found in the picture; send the group's QR card as WeChat saves it, "
            "or a screenshot of it",
        )
    if len(texts) > 1:
        raise _refuse(
            "several_codes",
            f"图片里有 {len(texts)} 个二维码，请只保留一个群二维码",
            f"the picture holds {len(texts)} QR codes; send one with only the group's code",
        )
    kind, payload = classify(texts[0])
    return Decoded(payload, kind, taken_at)


def _too_many_pixels(width: int, height: int, settings: Settings) -> PictureRefused:
    size = f"{width}×{height}" if width else "过大"
    return _refuse(
        "picture_too_large",
        f"图片像素太多（{size}），上限是 {settings.picture_max_pixels} 像素"
        "（HUOMA_PICTURE_MAX_PIXELS）",
        f"the picture has too many pixels ({size if width else 'too many'}); the limit is "
        f"{settings.picture_max_pixels} (HUOMA_PICTURE_MAX_PIXELS)",
        413,
    )


def check_slot(kind: CodeKind, slot: GroupKind) -> None:
    """Refuse a code the slot cannot take (a payment code, a web page, a contact card for a
    group)."""
    if kind not in SLOT_TAKES[slot]:
        takes = "、".join(KIND_WORDS[k].split(" / ")[0] for k in sorted(SLOT_TAKES[slot]))
        what = "群" if slot is GroupKind.GROUP else "兜底码"
        raise _refuse(
            "wrong_code_kind",
            f"这是{KIND_WORDS[kind].split(' / ')[0]}，{what}只能用：{takes}",
            f"this is a {KIND_WORDS[kind].split(' / ')[1]}; a {slot.value} takes only "
            + ", ".join(KIND_WORDS[k].split(" / ")[1] for k in sorted(SLOT_TAKES[slot])),
        )


# ---- expiry -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expiry:
    at: datetime | None
    source: str  # one of EXPIRY_SOURCES


def derive_expiry(
    *,
    kind: CodeKind,
    uploaded_at: datetime,
    tz: zoneinfo.ZoneInfo,
    lifetime: timedelta,
    expires_at: datetime | None = None,
    validity_line: str | None = None,
    qr_created_at: datetime | None = None,
    taken_at: datetime | None = None,
) -> Expiry:
    """The expiry from what is known, in this order: an explicit expires_at; WeChat's validity
    line ("12月7日前": the start of 7 December in `tz`, in the year that puts it within the
    lifetime after the upload); qr_created_at + lifetime; the picture's capture time + lifetime;
    the upload + lifetime. A code that does not expire by itself (a contact card) has none unless
    one is given."""
    if expires_at is not None:
        return Expiry(expires_at, "expires_at")
    if kind not in EXPIRING:
        return Expiry(None, "none")
    if validity_line:
        try:
            found = wechat_validity(validity_line, uploaded_at, tz, lifetime)
        except ValueError:
            found = None
        if found is not None:
            return Expiry(found, "validity_line")
    if qr_created_at is not None:
        return Expiry(qr_created_at + lifetime, "qr_created_at")
    if taken_at is not None:
        return Expiry(taken_at + lifetime, "exif")
    return Expiry(uploaded_at + lifetime, "upload")


# ---- what ops typed -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Typed:
    """Values ops typed; None where they typed nothing. A reading never overrides one."""

    group_id: str | None = None
    name: str | None = None
    member_count: int | None = None
    expires_at: datetime | None = None
    qr_created_at: datetime | None = None

    @property
    def complete(self) -> bool:
        """Nothing left for a reading to prefill."""
        return (
            self.name is not None and self.member_count is not None and self.expires_at is not None
        )


def typed_from_text(
    values: dict[str, str], tz: zoneinfo.ZoneInfo, now: datetime
) -> tuple[Typed, list[tuple[str, str, str]]]:
    """Typed values from form or sheet cells; problems as (column, value, message)."""
    problems: list[tuple[str, str, str]] = []

    def text(name: str, max_len: int) -> str | None:
        value = values.get(name, "").strip()
        if not value:
            return None
        if len(value) > max_len:
            problems.append((name, value[:200], f"is longer than {max_len} characters"))
            return None
        return value

    def when(name: str) -> datetime | None:
        raw = values.get(name, "").strip()
        if not raw:
            return None
        try:
            return parse_time(raw, tz, now)
        except ValueError as exc:
            problems.append((name, raw[:200], str(exc)))
            return None

    count: int | None = None
    raw_count = values.get("member_count", "").strip()
    if raw_count:
        try:
            count = int(float(raw_count))
            if not 0 <= count <= 100_000 or count != float(raw_count):
                raise ValueError
        except ValueError:
            problems.append(("member_count", raw_count[:200], "must be a whole number 0-100000"))
            count = None
    typed = Typed(
        group_id=text("group_id", 64),
        name=text("name", 100),
        member_count=count,
        expires_at=when("expires_at"),
        qr_created_at=when("qr_created_at"),
    )
    return typed, problems


# ---- reading a picture --------------------------------------------------------------------------


@dataclass(slots=True)
class Reading:
    """A picture read: its code, what OCR read of the card, and the values that follow."""

    decoded: Decoded
    card: CardReading
    name: str | None
    member_count: int | None
    expiry: Expiry
    sources: dict[str, str] = field(default_factory=dict)  # value -> typed | ocr | stored

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": {
                "kind": self.decoded.kind.value,
                "kind_words": KIND_WORDS[self.decoded.kind],
                "payload": self.decoded.payload,
            },
            "picture_taken_at": _iso(self.decoded.taken_at),
            "ocr": self.card.as_dict(),
            "values": {
                "name": self.name,
                "member_count": self.member_count,
                "expires_at": _iso(self.expiry.at),
                "expiry_source": self.expiry.source,
                "sources": self.sources,
            },
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def read_picture(
    data: bytes,
    settings: Settings,
    ocr: OcrService | None,
    typed: Typed,
    *,
    slot: GroupKind = GroupKind.GROUP,
    now: datetime | None = None,
    stored_name: str | None = None,
    vet: Callable[[Decoded], Awaitable[None]] | None = None,
) -> Reading:
    """Decode the picture's code, check the slot takes it (and `vet` it: is it used elsewhere?)
    before any OCR, read the card (when OCR is there and something is left to prefill), and
    settle name, member count and expiry: typed values first, then readings, then what is
    stored."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    decoded = await asyncio.to_thread(decode_picture, data, settings)
    check_slot(decoded.kind, slot)
    if vet is not None:
        await vet(decoded)
    card = CardReading.skipped("typed")
    if not typed.complete:
        card = await ocr.read(data) if ocr is not None else CardReading.absent()
    sources: dict[str, str] = {}

    def pick(name: str, typed_value: Any, read_value: Any, stored: Any = None) -> Any:
        for source, value in (("typed", typed_value), ("ocr", read_value), ("stored", stored)):
            if value is not None:
                sources[name] = source
                return value
        return None

    name = pick("name", typed.name, card.name, stored_name)
    members = pick("member_count", typed.member_count, card.member_count)
    tz = zoneinfo.ZoneInfo(settings.timezone)
    expiry = derive_expiry(
        kind=decoded.kind,
        uploaded_at=now,
        tz=tz,
        lifetime=timedelta(hours=settings.wechat_qr_lifetime_h),
        expires_at=typed.expires_at,
        validity_line=card.validity_line,
        qr_created_at=typed.qr_created_at,
        taken_at=decoded.taken_at,
    )
    return Reading(decoded, card, name, members, expiry, sources)


# ---- the actions --------------------------------------------------------------------------------


@dataclass(slots=True)
class PictureResult:
    action: str  # add | replace
    group_id: str
    store_id: str
    reading: Reading
    summary: ImportSummary

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "group_id": self.group_id,
            "store_id": self.store_id,
            "dry_run": self.summary.dry_run,
            **self.reading.as_dict(),
            "summary": {k: v for k, v in self.summary.as_dict().items() if k != "preview"},
        }


def new_group_id(store_id: str, now: datetime) -> str:
    """A fresh id for a group added from a picture: its store, the day, a random tail."""
    return f"{store_id[:40]}-{now:%m%d}-{secrets.token_hex(3)}"


async def used_elsewhere(
    conn: asyncpg.Connection | asyncpg.Pool, payload: str, group_id: str
) -> str | None:
    """The id of another (not retired) group that shows this code already, if any."""
    found: str | None = await conn.fetchval(sql.GROUP_WITH_PAYLOAD, payload, group_id)
    return found


def _not_used_elsewhere(
    pool: asyncpg.Pool, group_id: str, regions: list[str] | None = None
) -> Callable[[Decoded], Awaitable[None]]:
    async def vet(decoded: Decoded) -> None:
        other = await used_elsewhere(pool, decoded.payload, group_id)
        if other is not None:
            raise _already_used(await shown_group(pool, other, regions))

    return vet


async def shown_group(pool: asyncpg.Pool, group_id: str, regions: list[str] | None) -> str | None:
    """The group's id as a refusal may name it: None when the principal is limited to regions
    and the group is of another (as if it did not exist; only the code's use is said)."""
    if regions is None or await pool.fetchval(sql.GROUPS_OUTSIDE, [group_id], regions) is None:
        return group_id
    return None


def _already_used(other: str | None) -> PictureRefused:
    if other is None:
        return _refuse(
            "code_in_use",
            "这个二维码已经是另一个群的码，同一个码不能给两个群",
            "this code is already another group's; one code cannot serve two groups",
            409,
        )
    return _refuse(
        "code_in_use",
        f"这个二维码已经是群 {other} 的码，同一个码不能给两个群",
        f"this code is already group {other}'s; one code cannot serve two groups",
        409,
    )


def group_row(
    group_id: str, store_id: str, reading: Reading, *, name_default: str
) -> dict[str, str]:
    """The reading as a row of the group sheet (empty cells keep what is stored)."""
    return {
        "group_id": group_id,
        "store_id": store_id,
        "name": reading.name or name_default,
        "qr_payload": reading.decoded.payload,
        "member_count": "" if reading.member_count is None else str(reading.member_count),
        "expires_at": "" if reading.expiry.at is None else reading.expiry.at.isoformat(),
    }


async def write_rows(
    pool: asyncpg.Pool,
    settings: Settings,
    rows: Sequence[dict[str, str]],
    *,
    regions: list[str] | None = None,
    dry_run: bool,
    numbers: Sequence[int] | None = None,
    audit: Audit | None = None,
) -> ImportSummary:
    """Group rows through the group upload: validated, written all or nothing, NOTIFY; `audit`
    runs inside the write's transaction (not for a dry run)."""
    columns = ("group_id", "store_id", "name", "qr_payload", "member_count", "expires_at")
    table = Table(
        columns,
        [(n, dict(r)) for n, r in zip(numbers or range(2, len(rows) + 2), rows, strict=True)],
    )
    return await import_table(
        pool,
        "groups",
        table,
        timezone=settings.timezone,
        dry_run=dry_run,
        regions=regions,  # an account limited to regions writes only their stores' groups
        wechat_lifetime=timedelta(hours=settings.wechat_qr_lifetime_h),
        patch_max_stores=settings.patch_max_stores,  # a picture touches one store: patch it
        audit=audit,
    )


async def add_group_from_picture(
    pool: asyncpg.Pool,
    settings: Settings,
    ocr: OcrService | None,
    *,
    store_id: str,
    picture: bytes,
    typed: Typed,
    regions: list[str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    audit: Audit | None = None,
) -> PictureResult:
    """A new group of store `store_id` from the picture of its code (a dry run writes nothing:
    what the ops page shows for confirmation). `regions`: those of an account limited to them;
    `audit` runs inside the write's transaction."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    store_name = await pool.fetchval(sql.STORE_EXISTS, store_id)
    if store_name is None:
        raise NotFound(f"没有门店 {store_id!r} / no store {store_id!r}", code="store_not_found")
    group_id = typed.group_id or new_group_id(store_id, now)
    if typed.group_id is not None and await pool.fetchval(sql.GROUP_STATE, group_id) is not None:
        raise HuomaError(
            f"群 {group_id} 已存在，请用“换码” / group {group_id} exists already: replace its "
            "code instead",
            code="group_exists",
            status=409,
        )
    reading = await read_picture(
        picture, settings, ocr, typed, now=now, vet=_not_used_elsewhere(pool, group_id, regions)
    )
    row = group_row(group_id, store_id, reading, name_default=f"{store_name} 群")
    summary = await write_rows(pool, settings, [row], regions=regions, dry_run=dry_run, audit=audit)
    return PictureResult("add", group_id, store_id, reading, summary)


async def replace_group_code(
    pool: asyncpg.Pool,
    settings: Settings,
    ocr: OcrService | None,
    *,
    group_id: str,
    picture: bytes,
    typed: Typed,
    regions: list[str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    audit: Audit | None = None,
) -> PictureResult:
    """Group `group_id`'s code from a new picture: the same group (id, position, history, counts
    of displays), a new code (its version bumped, so the old image link dies)."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    stored = await pool.fetchrow(sql.GROUP_FOR_PICTURE, group_id)
    if stored is None:
        raise NotFound(f"没有群 {group_id!r} / no group {group_id!r}", code="group_not_found")
    slot = GroupKind(stored["kind"])
    if slot is GroupKind.FALLBACK:
        raise _refuse(
            "not_a_group",
            "兜底码请在兜底码表里更换",
            "a fallback's code is replaced through the fallback sheet",
        )
    if stored["source"] == "wecom":
        raise _refuse(
            "managed_group",
            "这是门店的企业微信活码群，由活码自动维护，不能换码",
            "this is the store's WeCom join-way group, kept by Huoma itself: its code cannot "
            "be replaced",
        )
    reading = await read_picture(
        picture,
        settings,
        ocr,
        replace(typed, group_id=group_id),
        slot=slot,
        now=now,
        stored_name=stored["name"],
        vet=_not_used_elsewhere(pool, group_id, regions),
    )
    row = group_row(group_id, stored["store_id"], reading, name_default=stored["name"])
    summary = await write_rows(pool, settings, [row], dry_run=dry_run, audit=audit)
    return PictureResult("replace", group_id, stored["store_id"], reading, summary)
