"""Store links: a signed link reaching one store, for its staff's weekly code refresh.

A link is `{base}/store/#t=TOKEN` (the token in the fragment never reaches a server log or a
Referer). TOKEN signs (HMAC-SHA256 keyed from HUOMA_SECRET) the store id, the store's link
generation, the deployment's, and an expiry. Bumping a generation revokes links one store at a time
or all at once; nothing lists links (an issued one is only in the file or QR handed out).

The phone page calls the `link_*` operations with `Authorization: StoreLink TOKEN`; the ops
sub-app's middleware resolves that to a principal with the STORE access and the store's scope
(router.ops.auth), and every handler here reads only that store: another store's group answers
404 as if it did not exist.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import BodyPartReader, web

from router.errors import BadInput, HuomaError, NotFound, TooLarge, Unauthorized
from router.keys import POOL, PRINCIPAL, SETTINGS
from router.ops.handlers import attachment, iso, json_body, json_response
from router.ops.links import StoreLink, link_url, signer
from router.ops.uploads import Table, validate_groups
from router.ops.uploads.model import PERSONAL_GROUP_CODE
from router.scan.qr import render_print_png
from router.settings import Settings
from router.store import sql
from router.store.changes import notify_stores
from router.store.db import Operation

log = logging.getLogger("huoma.admin")

MAX_ISSUE = 5_000  # stores in one issue request

ISSUE = Operation("签发门店链接", "store link issue")
LINK_QR = Operation("门店链接二维码", "store link QR code")
REVOKE = Operation("作废门店链接", "store link revocation")
LINK_PAGE_DATA = Operation("门店页查询", "store page query")
LINK_NEW_CODE = Operation("门店换群码", "group code replacement by a store")
LINK_FULL = Operation("门店标记群已满", "group marked full by a store")


# ---- editors: issue and revoke ------------------------------------------------------------------


async def _issue(conn: asyncpg.Connection, settings: Settings, store_ids: list[str]) -> list[Any]:
    rows = await conn.fetch(sql.LINK_STORES, store_ids)
    missing = sorted(set(store_ids) - {r["store_id"] for r in rows})
    if missing:
        raise NotFound(
            f"没有这些门店 / no such stores: {', '.join(missing[:10])}", code="store_not_found"
        )
    glob = await conn.fetchval(sql.GLOBAL_LINK_GENERATION)
    expires = int(time.time()) + settings.store_link_ttl_days * 86_400
    sign = signer(settings).sign
    return [
        (
            r["store_id"],
            r["name"],
            link_url(settings, sign(r["store_id"], r["link_generation"], glob, expires)),
            expires,
        )
        for r in rows
    ]


async def issue_links(request: web.Request) -> web.Response:
    """POST /admin/api/store-links {"store_ids": [...], "format": "csv"|"xlsx"}: a sheet of
    store -> link for these stores (new links; earlier ones stay valid until revoked)."""
    body = await json_body(request)
    ids = body.get("store_ids")
    fmt = body.get("format", "csv")
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_ISSUE
        or not all(isinstance(i, str) and i for i in ids)
    ):
        raise BadInput(
            f"store_ids 须是 1 到 {MAX_ISSUE} 个门店编号 / store_ids must list 1 to {MAX_ISSUE} "
            "store ids",
            code="bad_store_ids",
        )
    if fmt not in ("csv", "xlsx"):
        raise BadInput("format must be csv or xlsx", code="bad_format")
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[POOL].acquire() as conn:
        links = await _issue(conn, settings, sorted(set(ids)))
    header = ("store_id", "name", "link", "expires_at")
    out = [
        (sid, name, url, datetime.fromtimestamp(exp, UTC).isoformat())
        for sid, name, url, exp in links
    ]
    log.info("admin: %s issued %d store link(s)", request[PRINCIPAL].actor, len(out))
    if fmt == "xlsx":
        from openpyxl import Workbook  # only editors issuing sheets pay for it

        book = Workbook(write_only=True)
        sheet = book.create_sheet("store links")
        sheet.append(header)
        for row in out:
            sheet.append(row)
        buf = io.BytesIO()
        book.save(buf)
        return attachment(
            buf.getvalue(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "huoma-store-links.xlsx",
        )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(out)
    # A BOM: Excel on Windows opens it as UTF-8, Chinese names intact.
    return attachment(
        b"\xef\xbb\xbf" + text.getvalue().encode(), "text/csv", "huoma-store-links.csv"
    )


async def link_qr(request: web.Request) -> web.Response:
    """GET /admin/api/store-links/{store_id}/qr.png: a new link for the store as a printable QR
    code, for its back office."""
    store_id = request.match_info["store_id"]
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[POOL].acquire() as conn:
        [(_, _, url, _)] = await _issue(conn, settings, [store_id])
    return web.Response(
        body=render_print_png(url),
        content_type="image/png",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


async def revoke_store(request: web.Request) -> web.Response:
    """POST /admin/api/store-links/{store_id}/revoke: every link of this store stops working."""
    store_id = request.match_info["store_id"]
    async with request.config_dict[POOL].acquire() as conn:
        gen = await conn.fetchval(sql.REVOKE_STORE_LINKS, store_id)
    if gen is None:
        raise NotFound(f"no store {store_id!r}", code="store_not_found")
    log.info("admin: %s revoked the links of store %s", request[PRINCIPAL].actor, store_id)
    return json_response({"store_id": store_id, "revoked": True})


async def revoke_all(request: web.Request) -> web.Response:
    """POST /admin/api/store-links/revoke-all: every store link ever issued stops working."""
    async with request.config_dict[POOL].acquire() as conn:
        await conn.fetchval(sql.REVOKE_ALL_STORE_LINKS)
    log.info("admin: %s revoked every store link", request[PRINCIPAL].actor)
    return json_response({"revoked": "all"})


# ---- the store's own page ----------------------------------------------------------------------


async def _current(conn: asyncpg.Connection, request: web.Request) -> tuple[StoreLink, str]:
    """The request's link, checked against the generations now (revoked: 401); and the store's
    name."""
    link = request[PRINCIPAL].store
    assert link is not None  # the STORE access is only ever given with a link
    row = await conn.fetchrow(sql.LINK_GENERATIONS, link.store_id)
    if (
        row is None
        or row["link_generation"] != link.generation
        or row["global_generation"] != link.global_generation
    ):
        raise Unauthorized(
            "此链接已失效，请向总部索取新链接 / this link was revoked: ask for a new one",
            code="link_revoked",
        )
    return link, row["name"]


async def link_page(request: web.Request) -> web.Response:
    """GET /admin/api/link/store: the store's groups for its page."""
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[POOL].acquire() as conn:
        link, name = await _current(conn, request)
        rows = await conn.fetch(sql.LINK_STORE_GROUPS, link.store_id)
    now = time.time()
    soon = now + settings.store_link_expiry_warning_h * 3600
    groups = []
    for r in rows:
        expires = r["expires_at"]
        left = None if expires is None else expires.timestamp() - now
        groups.append(
            {
                "group_id": r["group_id"],
                "name": r["name"],
                "state": r["state"],
                "member_count": r["member_count"],
                "capacity": r["capacity"],
                "displays_shown": r["displays_shown"],
                "expires_at": iso(expires),
                "days_left": None if left is None else max(0.0, round(left / 86_400, 1)),
                "expires_soon": expires is not None and expires.timestamp() <= soon,
            }
        )
    return json_response(
        {
            "store_id": link.store_id,
            "name": name,
            "link_expires_at": datetime.fromtimestamp(link.expires, UTC).isoformat(),
            "expiry_warning_h": settings.store_link_expiry_warning_h,
            "expiring_soon": any(g["expires_soon"] for g in groups),
            "groups": groups,
        }
    )


def decode_code_picture(data: bytes, max_pixels: int) -> str:
    """The text of the one QR code in a picture (PNG, JPEG, WebP), or a clear refusal. Small on
    purpose: a richer decoder (router.ops.pictures) can take its place."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError  # Pillow comes with qrcode[pil]

    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                raise HuomaError(
                    f"图片像素过多 / the picture has more than {max_pixels} pixels "
                    "(HUOMA_STORE_LINK_PICTURE_MAX_PIXELS)",
                    code="picture_too_large",
                    status=413,
                )
            probe.load()
            image = probe.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BadInput(
            "无法读取图片，请上传 PNG、JPEG 或 WebP / the picture cannot be read: send PNG, JPEG "
            "or WebP",
            code="bad_picture",
        ) from exc
    found = [r for r in zxingcpp.read_barcodes(image) if r.valid and r.text]
    if not found:
        raise BadInput("图片里没有二维码 / no QR code in the picture", code="no_code")
    if len({r.text for r in found}) > 1:
        raise BadInput(
            "图片里有多个二维码，请只截一个 / several codes in the picture: crop it to one",
            code="several_codes",
        )
    return str(found[0].text)


async def _picture(request: web.Request, max_bytes: int) -> bytes:
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.filename:
                data = await part.read(decode=False)
                if len(data) > max_bytes:
                    break
                return bytes(data)
        else:
            raise BadInput("send the picture as a form file", code="bad_form")
    else:
        data = await request.content.read(max_bytes + 1)
        if len(data) <= max_bytes:
            return data
    raise TooLarge(max_bytes, "HUOMA_STORE_LINK_PICTURE_MAX_BYTES")


async def link_new_code(request: web.Request) -> web.Response:
    """POST /admin/api/link/groups/{group_id}/code (the picture): the group's new code; old image
    links of the group stop working at once."""
    settings = request.config_dict[SETTINGS]
    data = await _picture(request, settings.store_link_picture_max_bytes)
    # Decoding a phone photo takes a good fraction of a second: off the event loop, scans move on.
    payload = await asyncio.to_thread(
        decode_code_picture, data, settings.store_link_picture_max_pixels
    )
    group_id = request.match_info["group_id"]
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        link, _ = await _current(conn, request)
        group = await conn.fetchrow(sql.LINK_GROUP, group_id, link.store_id)
        if group is None:
            raise NotFound(f"no group {group_id!r}", code="group_not_found")
        # The uploads' own checks of a group code (length, a personal code's lifetime).
        rows, errors, _ = validate_groups(
            Table(
                ("group_id", "store_id", "name", "qr_payload"),
                [
                    (
                        1,
                        {
                            "group_id": group_id,
                            "store_id": link.store_id,
                            "name": "-",
                            "qr_payload": payload,
                        },
                    )
                ],
            ),
            zoneinfo.ZoneInfo(settings.timezone),
            wechat_lifetime=timedelta(hours=settings.wechat_qr_lifetime_h),
        )
        if errors or not PERSONAL_GROUP_CODE.match(payload):
            raise BadInput(
                "这不是微信群二维码 / this is not a WeChat group code"
                + (f" ({errors[0].message})" if errors else ""),
                code="not_a_group_code",
            )
        if payload == group["qr_payload"]:
            raise HuomaError(
                "这是该群现在的二维码 / this is already the group's code", code="same_code",
                status=409,
            )  # fmt: skip
        other = await conn.fetchval(sql.CODE_USED_ELSEWHERE, payload, group_id)
        if other is not None:
            raise HuomaError(
                "这个二维码已被另一个群使用 / this code is already used by another group",
                code="code_in_use",
                status=409,
            )
        row = rows[0]
        expires = row.expires_at or row.derived_expires_at
        version = await conn.fetchval(sql.REPLACE_GROUP_CODE, group["id"], payload, expires)
        await conn.fetch(
            sql.SWEEP_STORE_STATES, settings.display_cap, settings.expiry_margin_s, link.store_id
        )
        await notify_stores(conn, [link.store_id], settings.patch_max_stores)
    log.info("store link %s: new code for group %s of %s", link.mac, group_id, link.store_id)
    return json_response({"group_id": group_id, "qr_version": version, "expires_at": iso(expires)})


async def link_full(request: web.Request) -> web.Response:
    """POST /admin/api/link/groups/{group_id}/full: the group is full; customers get the next."""
    settings = request.config_dict[SETTINGS]
    group_id = request.match_info["group_id"]
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        link, _ = await _current(conn, request)
        group = await conn.fetchrow(sql.LINK_GROUP, group_id, link.store_id)
        if group is None:
            raise NotFound(f"no group {group_id!r}", code="group_not_found")
        count = await conn.fetchval(sql.MARK_GROUP_FULL, group["id"])
        await conn.fetch(
            sql.SWEEP_STORE_STATES, settings.display_cap, settings.expiry_margin_s, link.store_id
        )
        await conn.execute(sql.NOTIFY_MEMBERS, f"{group['id']}:{count}")
        await notify_stores(conn, [link.store_id], settings.patch_max_stores)
    log.info("store link %s: group %s of %s is full", link.mac, group_id, link.store_id)
    return json_response({"group_id": group_id, "state": "full"})
