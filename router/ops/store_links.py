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

import csv
import io
import logging
import time
import zoneinfo
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from router.errors import BadInput, NotFound, TooLarge, Unauthorized
from router.keys import DB_CONTEXT, POOL, PRINCIPAL, SETTINGS
from router.ops.auth import Principal, store_not_found
from router.ops.codes import KIND_WORDS
from router.ops.handlers import attachment, iso, json_body, json_response
from router.ops.links import StoreLink, link_url, signer
from router.ops.picture_api import OCR
from router.ops.pictures import Typed, replace_group_code
from router.ops.uploads.model import ImportSummary
from router.ops.uploads.write import Audit
from router.scan.catalogue import place_keys
from router.scan.qr import render_print_png
from router.settings import Settings
from router.store import audit, sql
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


# The issued sheet's columns, as ops read them (Chinese unless the page is English); the expiry
# column is a local time in HUOMA_TIMEZONE, its zone named in the header.
SHEET_HEADER_ZH = ("门店编号", "门店名称", "链接", "有效期至（当地时间）")
SHEET_HEADER_EN = ("store_id", "name", "link", "expires_at (local time)")


def _mac8(token: str) -> str:
    """The part of a link's signature its principal's actor names (link:<store>:<mac8>): enough
    to tie a change to the issued link, never the link itself."""
    return token.rpartition(".")[2][:8]


async def _issue(
    conn: asyncpg.Connection, settings: Settings, rows: Sequence[asyncpg.Record], actor: str
) -> list[tuple[str, str, str, int]]:
    """Sign a link for each store row and record each issue (the editor as author, the link's
    mac8 so later changes made with it can be traced; never the link)."""
    glob = await conn.fetchval(sql.GLOBAL_LINK_GENERATION)
    expires = int(time.time()) + settings.store_link_ttl_days * 86_400
    sign = signer(settings).sign
    out = [
        (r["store_id"], r["name"], sign(r["store_id"], r["link_generation"], glob, expires))
        for r in rows
    ]
    until = datetime.fromtimestamp(expires, UTC).isoformat()
    await audit.record_per_store(
        conn,
        actor,
        "store_link.issue",
        None,
        [
            (sid, f"store link issued (link:{sid}:{_mac8(token)}), valid until {until}")
            for sid, _, token in out
        ],
        {"expires_at": until},
    )
    if len(out) > 1:
        await audit.record(
            conn,
            actor,
            "store_link.issue",
            summary=f"{len(out)} store links issued, valid until {until}",
            details={"stores": len(out), "expires_at": until},
        )
    return [(sid, name, link_url(settings, token), expires) for sid, name, token in out]


def _text_list(value: object, what: str, limit: int) -> list[str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or len(value) > limit
        or not all(isinstance(i, str) and i.strip() for i in value)
    ):
        raise BadInput(
            f"{what} 须是 1 到 {limit} 个非空文字 / {what} must list 1 to {limit} non-empty texts",
            code=f"bad_{what}",
        )
    return sorted({i.strip() for i in value})


async def _chosen(
    conn: asyncpg.Connection, principal: Principal, body: dict[str, object]
) -> list[asyncpg.Record]:
    """The stores a request chooses: pasted `store_ids`, `regions` (a store's region, or its
    city), or `all`; only stores the principal may reach (an editor limited to regions: theirs).
    A pasted id the principal may not reach answers as if it did not exist."""
    ids = _text_list(body.get("store_ids"), "store_ids", MAX_ISSUE)
    regions = _text_list(body.get("regions"), "regions", MAX_ISSUE)
    every = body.get("all") is True
    if (ids is not None) + (regions is not None) + every != 1:
        raise BadInput(
            "请只选一种：store_ids、regions 或 all / choose the stores one way: store_ids, "
            "regions or all",
            code="bad_store_ids",
        )
    rows: list[asyncpg.Record] = await conn.fetch(
        sql.LINK_STORES,
        ids,
        None if regions is None else place_keys(regions),
        principal.region_list(),
        MAX_ISSUE + 1,
    )
    if not rows and ids is None:
        raise NotFound("没有符合条件的门店 / no store matches the choice", code="store_not_found")
    if ids is not None:
        missing = sorted(set(ids) - {r["store_id"] for r in rows})
        if missing:
            raise NotFound(
                f"没有这些门店 / no such stores: {', '.join(missing[:10])}"
                + (f" (+{len(missing) - 10})" if len(missing) > 10 else ""),
                code="store_not_found",
            )
    if len(rows) > MAX_ISSUE:
        raise BadInput(
            f"一次最多签发 {MAX_ISSUE} 个门店，请按地区分批 / at most {MAX_ISSUE} stores at once: "
            "issue them region by region",
            code="too_many_stores",
        )
    return rows


async def issue_links(request: web.Request) -> web.Response:
    """POST /admin/api/store-links {"store_ids": [...]} | {"regions": [...]} | {"all": true},
    "format": "csv"|"xlsx", "dry_run": bool: a sheet of store -> link for these stores (new
    links; earlier ones stay valid until revoked). A dry run signs nothing: it answers how many
    stores the choice names, and the regions the editor may choose from."""
    body = await json_body(request)
    fmt = body.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        raise BadInput("format must be csv or xlsx", code="bad_format")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadInput("dry_run must be true or false", code="bad_dry_run")
    principal: Principal = request[PRINCIPAL]
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[POOL].acquire() as conn:
        if dry_run:
            regions = await conn.fetch(sql.LINK_REGIONS, principal.region_list())
            asked = any(k in body for k in ("store_ids", "regions", "all"))
            chosen = await _chosen(conn, principal, body) if asked else []
            return json_response(
                {
                    "dry_run": True,
                    "stores": len(chosen),
                    "store_ids": [r["store_id"] for r in chosen[:50]],
                    "regions": [{"region": r["region"], "stores": r["stores"]} for r in regions],
                }
            )
        async with conn.transaction():
            links = await _issue(
                conn, settings, await _chosen(conn, principal, body), principal.actor
            )
    # The sheet is for ops: headers in the page's language, expiry in the brand's time zone.
    english = body.get("lang") == "en"
    header = SHEET_HEADER_EN if english else SHEET_HEADER_ZH
    tz = zoneinfo.ZoneInfo(settings.timezone)
    out = [
        (sid, name, url, datetime.fromtimestamp(exp, tz).strftime("%Y-%m-%d %H:%M:%S"))
        for sid, name, url, exp in links
    ]
    log.info("admin: %s issued %d store link(s)", principal.actor, len(out))
    if fmt == "xlsx":
        from openpyxl import Workbook  # only editors issuing sheets pay for it

        book = Workbook(write_only=True)
        sheet = book.create_sheet("store links" if english else "门店链接")
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
    code, for its back office (the gate has checked the store is in the editor's regions)."""
    store_id = request.match_info["store_id"]
    principal: Principal = request[PRINCIPAL]
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        rows = await conn.fetch(sql.LINK_STORES, [store_id], None, principal.region_list(), 1)
        if not rows:
            raise store_not_found(store_id)
        [(_, _, url, _)] = await _issue(conn, settings, rows, principal.actor)
    return web.Response(
        body=render_print_png(url),
        content_type="image/png",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


async def revoke_store(request: web.Request) -> web.Response:
    """POST /admin/api/store-links/{store_id}/revoke: every link of this store stops working (the
    gate has checked the store is in the editor's regions)."""
    store_id = request.match_info["store_id"]
    actor = request[PRINCIPAL].actor
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        gen = await conn.fetchval(sql.REVOKE_STORE_LINKS, store_id)
        if gen is None:
            raise store_not_found(store_id)
        await audit.record(
            conn,
            actor,
            "store_link.revoke",
            store_id=store_id,
            target=store_id,
            summary=f"every link of store {store_id} revoked (generation {gen - 1} -> {gen})",
            details={"old": gen - 1, "new": gen},
        )
    log.info("admin: %s revoked the links of store %s", actor, store_id)
    return json_response({"store_id": store_id, "revoked": True})


async def revoke_all(request: web.Request) -> web.Response:
    """POST /admin/api/store-links/revoke-all: every store link ever issued stops working."""
    actor = request[PRINCIPAL].actor
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        gen = await conn.fetchval(sql.REVOKE_ALL_STORE_LINKS)
        await audit.record(
            conn,
            actor,
            "store_link.revoke_all",
            summary=f"every store link of every store revoked (generation {gen - 1} -> {gen})",
            details={"old": gen - 1, "new": gen},
        )
    log.info("admin: %s revoked every store link", actor)
    return json_response({"revoked": "all"})


# ---- the store's own page ----------------------------------------------------------------------


async def _check(conn: asyncpg.Connection, link: StoreLink) -> str:
    """The link checked against the generations now (revoked: 401); the store's name."""
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
    name: str = row["name"]
    return name


async def _current(conn: asyncpg.Connection, request: web.Request) -> tuple[StoreLink, str]:
    """The request's link, checked against the generations now (revoked: 401); and the store's
    name."""
    link = request[PRINCIPAL].store
    assert link is not None  # the STORE access is only ever given with a link
    return link, await _check(conn, link)


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


async def _picture(request: web.Request, max_bytes: int) -> bytes:
    """The picture: the first file part of a form, or the raw body; bounded while it is read."""
    if request.content_type.startswith("multipart/"):
        try:
            reader = await request.multipart()
            async for part in reader:
                if isinstance(part, BodyPartReader) and part.filename:
                    buf = bytearray()
                    while chunk := await part.read_chunk():
                        buf.extend(chunk)
                        if len(buf) > max_bytes:
                            raise TooLarge(max_bytes, "HUOMA_STORE_LINK_PICTURE_MAX_BYTES")
                    return bytes(buf)
                if part is not None:
                    await part.release()
        except (ValueError, HttpProcessingError) as exc:
            raise BadInput(
                f"表单无法读取 / the multipart form could not be read ({type(exc).__name__})",
                code="bad_form",
            ) from exc
        raise BadInput("表单里没有图片 / the form has no picture", code="no_file")
    data = await request.content.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(max_bytes, "HUOMA_STORE_LINK_PICTURE_MAX_BYTES")
    return bytes(data)


def _link_settings(settings: Settings) -> Settings:
    """The ops page's picture rules, bounded by the store link's own (tighter or equal) limits:
    a link is a less trusted author than an ops account."""
    return replace(
        settings,
        picture_max_bytes=min(settings.picture_max_bytes, settings.store_link_picture_max_bytes),
        picture_max_pixels=min(settings.picture_max_pixels, settings.store_link_picture_max_pixels),
    )


def _after_replace(
    link: StoreLink, actor: str, settings: Settings, group_id: str, before: asyncpg.Record
) -> Audit:
    """Inside the code's write: the link is checked again (revoked meanwhile: nothing written),
    the store's states derived again (an expired group's new code is usable at once), and the
    change recorded with the link as its author."""

    async def after(conn: asyncpg.Connection, rows: Sequence[Any], summary: ImportSummary) -> None:
        await _check(conn, link)
        if any(getattr(r, "store_id", None) != link.store_id for r in rows):
            raise NotFound(f"no group {group_id!r}", code="group_not_found")
        now = await conn.fetchrow(sql.LINK_GROUP_AFTER, group_id)
        await conn.fetch(
            sql.SWEEP_STORE_STATES, settings.display_cap, settings.expiry_margin_s, link.store_id
        )
        await audit.record(
            conn,
            actor,
            "group.code_replace",
            store_id=link.store_id,
            target=group_id,
            summary=(
                f"group {group_id} code replaced from a picture by the store's link: version "
                f"{before['qr_version']} -> {now['qr_version']}, expires "
                f"{iso(before['expires_at'])} -> {iso(now['expires_at'])}"
            ),
            details={
                "old_version": before["qr_version"],
                "new_version": now["qr_version"],
                "old_expires_at": iso(before["expires_at"]),
                "new_expires_at": iso(now["expires_at"]),
            },
        )

    return after


async def link_new_code(request: web.Request) -> web.Response:
    """POST /admin/api/link/groups/{group_id}/code (the picture): the group's new code, read with
    the ops page's own rules (router.ops.pictures: the code's kind, refusals with reasons, a code
    already used, OCR readings of the card, the expiry order); old image links of the group stop
    working at once. The answer says what was read and the new expiry with its source."""
    settings = request.config_dict[SETTINGS]
    principal = request[PRINCIPAL]
    group_id = request.match_info["group_id"]
    data = await _picture(request, settings.store_link_picture_max_bytes)
    pool = request.config_dict[POOL]
    async with pool.acquire() as conn:
        link, _ = await _current(conn, request)
        before = await conn.fetchrow(sql.LINK_GROUP_BEFORE, group_id, link.store_id)
    if before is None:
        raise NotFound(f"no group {group_id!r}", code="group_not_found")
    request[DB_CONTEXT] = f"by {principal.actor}, group {group_id!r}"
    result = await replace_group_code(
        pool,
        _link_settings(settings),
        request.app.get(OCR),
        group_id=group_id,
        picture=data,
        typed=Typed(),  # a store types nothing: the card's readings, else what is stored
        audit=_after_replace(link, principal.actor, settings, group_id, before),
    )
    version = await pool.fetchval(sql.LINK_GROUP_VERSION, group_id)
    log.info("store link %s: new code for group %s of %s", link.mac, group_id, link.store_id)
    reading = result.reading
    return json_response(
        {
            "group_id": group_id,
            "qr_version": version,
            "code": {
                "kind": reading.decoded.kind.value,
                "kind_words": KIND_WORDS[reading.decoded.kind],
            },
            "ocr": reading.card.as_dict(),
            "name": reading.name,
            "member_count": reading.member_count,
            "expires_at": iso(reading.expiry.at),
            "expiry_source": reading.expiry.source,
            "sources": reading.sources,
        }
    )


async def link_full(request: web.Request) -> web.Response:
    """POST /admin/api/link/groups/{group_id}/full: the group is full; customers get the next."""
    settings = request.config_dict[SETTINGS]
    group_id = request.match_info["group_id"]
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        link, _ = await _current(conn, request)
        group = await conn.fetchrow(sql.LINK_GROUP, group_id, link.store_id)
        if group is None:
            raise NotFound(f"no group {group_id!r}", code="group_not_found")
        state = await conn.fetchval(sql.GROUP_STATE, group_id)
        count = await conn.fetchval(sql.MARK_GROUP_FULL, group["id"])
        await conn.fetch(
            sql.SWEEP_STORE_STATES, settings.display_cap, settings.expiry_margin_s, link.store_id
        )
        now = await conn.fetchval(sql.GROUP_STATE, group_id)
        await audit.record(
            conn,
            request[PRINCIPAL].actor,
            "group.full",
            store_id=link.store_id,
            target=group_id,
            summary=(
                f"group {group_id} marked full by the store's link: members -> {count}, "
                f"state: {state} -> {now}"
            ),
            details={"old": state, "new": now, "member_count": count},
        )
        await conn.execute(sql.NOTIFY_MEMBERS, f"{group['id']}:{count}")
        await notify_stores(conn, [link.store_id], settings.patch_max_stores)
    log.info("store link %s: group %s of %s is full", link.mac, group_id, link.store_id)
    return json_response({"group_id": group_id, "state": "full"})
