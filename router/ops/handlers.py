"""The admin API under /admin/api/ (bearer token): uploads, exports, group health, entry codes,
alerts and the funnel. Every request is logged with its actor."""

from __future__ import annotations

import asyncio
import logging
import secrets
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from router.errors import BadInput, HuomaError, NotFound, TooLarge
from router.keys import DB_CONTEXT, OPS_SETTINGS, POOL, PRINCIPAL, SETTINGS, WECOM
from router.ops import exports, upload_review
from router.ops.trail import upload_audit
from router.ops.uploads import (
    CHANGE_STATUSES,
    FORMATS,
    KINDS,
    LANGUAGES,
    Audit,
    ImportRejected,
    Table,
    import_file,
    import_table,
    parse_coord_param,
    parse_encoding,
    pick_language,
)
from router.params import flag_param, int_param
from router.scan.catalogue import city_key
from router.scan.qr import render_print_png, render_print_svg
from router.store import audit, funnel, sql
from router.store.changes import notify_stores
from router.store.db import Operation

log = logging.getLogger("huoma.admin")

JSON = "application/json"

MAX_MEMBER_COUNT = 100_000


# What each admin request asks of the database, for its 503 and its log line.
MEMBER_COUNT = Operation("群人数更新", "member count update")
HEALTH = Operation("群健康查询", "group health query")
STORE_GROUPS = Operation("门店群列表查询", "store group list")
RETIRE = Operation("停用群", "group retirement")
RESTORE = Operation("恢复群", "group restore")
REORDER = Operation("群排序", "group reordering")
ENTRIES = Operation("入口码列表查询", "entry code list")
CREATE_ENTRY = Operation("入口码创建", "entry code creation")
ENTRY_QR = Operation("入口码二维码生成", "entry code QR")
FUNNEL = Operation("漏斗查询", "funnel query", "HUOMA_FUNNEL_TIMEOUT_S")
FUNNEL_CSV = Operation("漏斗导出", "funnel export", "HUOMA_FUNNEL_TIMEOUT_S")
ALERTS = Operation("告警列表查询", "alert list")


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise NotFound(f"no upload kind {kind!r}; use {', '.join(KINDS)}", code="unknown_kind")
    return kind


def _format(request: web.Request) -> str:
    fmt = request.match_info["fmt"]
    if fmt not in FORMATS:
        raise NotFound(f"no format {fmt!r}; use {', '.join(FORMATS)}", code="unknown_format")
    return fmt


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type=JSON,
        headers={"Cache-Control": "no-store"},
    )


def attachment(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(
        body=body,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def json_body(request: web.Request) -> dict[str, object]:
    if request.content_type != "application/json":
        raise HuomaError("send application/json", code="unsupported_media_type", status=415)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise BadInput("the body is not valid JSON", code="bad_json") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object", code="bad_json")
    return body


async def set_member_count(request: web.Request) -> web.Response:
    group_id = request.match_info["group_id"]
    body = await json_body(request)
    count = body.get("member_count")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_MEMBER_COUNT:
        raise BadInput(
            f"member_count must be a whole number from 0 to {MAX_MEMBER_COUNT}",
            code="bad_member_count",
        )
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        before = await conn.fetchrow(sql.GROUP_FOR_AUDIT, group_id)
        pk = await conn.fetchval(sql.SET_MEMBER_COUNT, group_id, count)
        if pk is None or before is None:
            raise NotFound(f"no group {group_id!r}", code="group_not_found")
        await audit.record(
            conn,
            request[PRINCIPAL].actor,
            "group.member_count",
            store_id=before["store_id"],
            target=group_id,
            summary=f"group {group_id} member_count: {before['member_count']} -> {count}",
            details={"old": before["member_count"], "new": count},
        )
        # Delivered at commit to every worker, which patches its overlay at once.
        await conn.execute(sql.NOTIFY_MEMBERS, f"{pk}:{count}")
    return json_response({"group_id": group_id, "member_count": count})


async def _upload_body(request: web.Request, max_bytes: int) -> tuple[str | None, bytes]:
    """The uploaded file: the first file part of a multipart form, or the raw body (its name
    from ?filename=)."""
    if request.content_type.startswith("multipart/"):
        try:
            return await _multipart_file(request, max_bytes)
        except (ValueError, HttpProcessingError) as exc:
            # No boundary, broken part headers, a body that ends early: the form is unreadable.
            raise BadInput(
                f"the multipart form could not be read ({type(exc).__name__}); send the file as "
                "a form field with a filename, or as the raw body with ?filename=",
                code="bad_form",
            ) from exc
    return request.query.get("filename"), await request.read()


async def _multipart_file(request: web.Request, max_bytes: int) -> tuple[str | None, bytes]:
    """The first file part of a multipart form."""
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.filename:
            data = bytearray()
            while chunk := await part.read_chunk():
                data.extend(chunk)
                if len(data) > max_bytes:
                    raise TooLarge(max_bytes, "HUOMA_IMPORT_MAX_BYTES")
            return part.filename, bytes(data)
    raise BadInput("the form has no file", code="no_file")


def upload_language(request: web.Request) -> str | None:
    """The language of an upload's messages: ?lang=zh|en (the ops page's choice), else the
    Accept-Language header; None gives both, Chinese first."""
    asked = request.query.get("lang", "").strip().lower()
    if asked:
        if asked not in LANGUAGES:
            raise BadInput(f"lang must be one of {', '.join(LANGUAGES)}", code="bad_lang")
        return asked
    return pick_language(request.headers.get("Accept-Language"))


async def upload(request: web.Request) -> web.Response:
    """POST /admin/api/uploads/{kind}[?dry_run=1][&encoding=][&coord=]: validate every row,
    then write all or nothing (`coord`: a store file's coordinate source). The answer names the
    encoding a CSV or JSON file was read in and shows its first rows as read."""
    actor = request[PRINCIPAL].actor
    kind = _kind(request)
    # Before the body is read: a flag that is not a yes or a no refuses the upload outright.
    dry_run = flag_param(request.query, "dry_run")
    encoding = parse_encoding(request.query.get("encoding"))
    lang = upload_language(request)
    # The file's coordinate source: the upload's own choice, else the default ops set.
    coord = (
        parse_coord_param(request.query.get("coord"))
        or request.config_dict[OPS_SETTINGS].upload_default_coord
    )
    settings = request.config_dict[SETTINGS]
    # The dry run's token accepting its warnings, and which page of its changes to show.
    token = request.query.get("confirm", "").strip() or None
    changes_status = request.query.get("changes", "").strip() or None
    if changes_status is not None and changes_status not in (*CHANGE_STATUSES, "warned"):
        raise BadInput(
            f"changes must be one of {', '.join((*CHANGE_STATUSES, 'warned'))}",
            code="bad_changes",
        )
    top = settings.admin_page_max
    changes_limit = int_param(
        request.query,
        "changes_limit",
        min(settings.upload_changes_page, top),
        0,
        top,
        code="bad_limit",
    )
    changes_offset = int_param(request.query, "changes_offset", 0, 0, 10**9, code="bad_offset")
    filename, data = await _upload_body(request, settings.import_max_bytes)
    # A failed upload is logged with who sent which file: ops ask about it by name.
    request[DB_CONTEXT] = f"by {actor}, file {filename!r}" + (", dry run" if dry_run else "")
    try:
        summary = await import_file(
            request.config_dict[POOL],
            kind,
            data,
            filename,
            timezone=settings.timezone,
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            dry_run=dry_run,
            wechat_lifetime=timedelta(hours=settings.wechat_qr_lifetime_h),
            encoding=encoding,
            coord=coord,
            audit=upload_audit(actor, kind, filename),
            patch_max_stores=settings.patch_max_stores,
            regions=request[PRINCIPAL].region_list(),
            checks=upload_review.checks(settings),
            confirm=upload_review.confirm(settings, token),
        )
    except ImportRejected as exc:
        exc.set_language(lang)
        raise
    summary.lang = lang
    summary.changes_status, summary.changes_offset = changes_status, changes_offset
    summary.changes_limit = changes_limit
    answer = summary.as_dict()
    # Rows stay out of the log.
    counts = {
        k: v
        for k, v in answer.items()
        if k not in ("preview", "changes", "warnings", "warnings_grouped")
    }
    counts["warnings"] = len(summary.warnings)
    log.info("admin: %s uploaded %s (%s): %s", actor, kind, filename, counts)
    return json_response(answer)


async def download_template(request: web.Request) -> web.Response:
    """GET /admin/api/templates/{kind}.{fmt}[?lang=zh|en]: the columns under ops' names and one
    example row (an XLSX with a sheet explaining each column)."""
    kind, fmt = _kind(request), _format(request)
    lang = request.query.get("lang", "zh").strip().lower() or "zh"
    if lang not in exports.TEMPLATE_LANGUAGES:
        raise BadInput(
            f"lang must be one of {', '.join(exports.TEMPLATE_LANGUAGES)}", code="bad_lang"
        )
    suffix = "" if lang == "zh" else "-en"
    return attachment(
        exports.template(kind, fmt, lang),
        exports.CONTENT_TYPES[fmt],
        f"huoma-{kind}-template{suffix}.{fmt}",
    )


async def download_export(request: web.Request) -> web.Response:
    """GET /admin/api/exports/{kind}.{fmt}: every current row, ready to edit and upload again."""
    kind, fmt = _kind(request), _format(request)
    config = request.config_dict
    regions = request[PRINCIPAL].region_list()
    body = await exports.export(config[POOL], kind, fmt, config[SETTINGS].timezone, regions)
    return attachment(body, exports.CONTENT_TYPES[fmt], f"huoma-{kind}.{fmt}")


# ---- group health -----------------------------------------------------------------------------

HEALTH_STATUSES = ("all", "low", "fallback")


def _page(request: web.Request, default: int = 50) -> tuple[int, int]:
    """?limit= and ?offset=, bounded by HUOMA_ADMIN_PAGE_MAX."""
    top = request.config_dict[SETTINGS].admin_page_max
    limit = int_param(request.query, "limit", min(default, top), 0, top, code="bad_limit")
    offset = int_param(request.query, "offset", 0, 0, 10**9, code="bad_offset")
    return limit, offset


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _fill(r: asyncpg.Record) -> dict[str, Any]:
    """A group's members and displays: `displays_shown` counts scans that showed it to a
    customer (renewals and repeats are not new showings), `display_fill` is that against the
    cap; `displays_leased` is what workers reserved against the cap, shown or not."""
    members, capacity, cap = r["member_count"], r["capacity"], r["display_cap"]
    shown = r["displays_shown"]
    return {
        "member_count": members,
        "capacity": capacity,
        "member_fill": None if members is None or not capacity else round(members / capacity, 4),
        "displays_shown": shown,
        "displays_leased": r["displays_leased"],
        "display_cap": cap,
        "display_fill": round(shown / cap, 4) if cap else None,
    }


def _place_key(request: web.Request, name: str) -> str | None:
    """A city or region query parameter as its key (router.scan.catalogue.city_key), or None."""
    value = request.query.get(name, "").strip()
    return city_key(value) if value else None


async def health(request: web.Request) -> web.Response:
    """GET /admin/api/health: per store, usable groups left and the active group's fill and
    expiry; ?status=low|fallback lists the stores running low or on their fallback; ?city=,
    ?province=, ?district=, ?region= and ?q= narrow the list."""
    settings = request.config_dict[SETTINGS]
    status = request.query.get("status", "all")
    if status not in HEALTH_STATUSES:
        raise BadInput(f"status must be one of {', '.join(HEALTH_STATUSES)}", code="bad_status")
    # A city and a region are compared by their keys: ?city=成都市 finds the stores written 成都.
    city = _place_key(request, "city")
    q = request.query.get("q", "").strip() or None
    limit, offset = _page(request)
    regions = request[PRINCIPAL].region_list()
    async with request.config_dict[POOL].acquire() as conn:
        rows = await conn.fetch(
            sql.HEALTH_STORES,
            settings.display_cap,
            settings.low_water,
            status,
            city,
            q,
            limit,
            offset,
            *(request.query.get(k, "").strip() or None for k in ("province", "district")),
            _place_key(request, "region"),
            regions,
        )
        summary = await conn.fetchrow(sql.HEALTH_SUMMARY, settings.low_water, regions)
    stores = []
    for r in rows:
        active = None
        if r["group_id"] is not None:
            active = {
                "group_id": r["group_id"],
                "name": r["group_name"],
                **_fill(r),
                "expires_at": iso(r["expires_at"]),
                "expires_in_s": r["expires_in_s"],
            }
        usable = r["usable"]
        low = usable < settings.low_water and not r["wecom"]
        condition = "fallback" if usable == 0 else "low" if low else "ok"
        stores.append(
            {
                "store_id": r["store_id"],
                "name": r["name"],
                "city": r["city"],
                "province": r["province"],
                "district": r["district"],
                "region": r["region"],
                "usable": usable,
                "full": r["full"],
                "expired": r["expired"],
                "status": condition,
                "has_fallback": r["has_fallback"],
                "active_group": active,
            }
        )
    body = {
        "summary": dict(summary) if summary is not None else {},
        "low_water": settings.low_water,
        "total": rows[0]["total"] if rows else 0,
        "limit": limit,
        "offset": offset,
        "stores": stores,
    }
    return json_response(body)


async def store_groups(request: web.Request) -> web.Response:
    """GET /admin/api/stores/{store_id}/groups: every group of the store, retired ones last."""
    store_id = request.match_info["store_id"]
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[POOL].acquire() as conn:
        name = await conn.fetchval(sql.STORE_EXISTS, store_id)
        if name is None:
            raise NotFound(f"no store {store_id!r}", code="store_not_found")
        rows = await conn.fetch(sql.STORE_GROUPS, store_id, settings.display_cap)
        wecom = "unavailable"
        if request.config_dict[WECOM] is not None:
            enabled = await conn.fetchval(sql.WECOM_ENABLED, store_id)
            wecom = "on" if enabled else "off"
    groups = [
        {
            "group_id": r["group_id"],
            "name": r["name"],
            "kind": r["kind"],
            "state": r["state"],
            "qr_payload": r["qr_payload"],
            **_fill(r),
            "expires_at": iso(r["expires_at"]),
            "expires_in_s": r["expires_in_s"],
            "position": r["position"],
            "source": r["source"],
        }
        for r in rows
    ]
    return json_response({"store_id": store_id, "name": name, "groups": groups, "wecom": wecom})


async def _set_retired(request: web.Request, retired: bool) -> web.Response:
    actor = request[PRINCIPAL].actor
    group_id = request.match_info["group_id"]
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        before = await conn.fetchrow(sql.GROUP_FOR_AUDIT, group_id)
        store_id = await conn.fetchval(sql.SET_GROUP_RETIRED, group_id, retired)
        if store_id is None or before is None:
            raise NotFound(f"no group {group_id!r}", code="group_not_found")
        await conn.fetch(
            sql.SWEEP_STORE_STATES, settings.display_cap, settings.expiry_margin_s, store_id
        )
        state = await conn.fetchval(sql.GROUP_STATE, group_id)
        await audit.record(
            conn,
            actor,
            "group.retire" if retired else "group.restore",
            store_id=store_id,
            target=group_id,
            summary=f"group {group_id} state: {before['state']} -> {state}",
            details={"old": before["state"], "new": state},
        )
        await notify_stores(conn, [store_id], settings.patch_max_stores)
    log.info("admin: %s %s group %s", actor, "retired" if retired else "restored", group_id)
    return json_response({"group_id": group_id, "store_id": store_id, "state": state})


async def retire_group(request: web.Request) -> web.Response:
    """POST /admin/api/groups/{group_id}/retire: never hand this group out again."""
    return await _set_retired(request, True)


async def restore_group(request: web.Request) -> web.Response:
    """POST /admin/api/groups/{group_id}/restore: undo a retire (its state is derived again)."""
    return await _set_retired(request, False)


async def reorder_groups(request: web.Request) -> web.Response:
    """PUT /admin/api/stores/{store_id}/order {"group_ids": [...]}: these groups first, in this
    order; the store's other groups follow in their current order."""
    actor = request[PRINCIPAL].actor
    store_id = request.match_info["store_id"]
    body = await json_body(request)
    wanted = body.get("group_ids")
    if (
        not isinstance(wanted, list)
        or not wanted
        or not all(isinstance(g, str) for g in wanted)
        or len(set(wanted)) != len(wanted)
    ):
        raise BadInput("group_ids must be a list of distinct group ids", code="bad_order")
    settings = request.config_dict[SETTINGS]
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        if await conn.fetchval(sql.STORE_EXISTS, store_id) is None:
            raise NotFound(f"no store {store_id!r}", code="store_not_found")
        current = [r["group_id"] for r in await conn.fetch(sql.STORE_GROUP_IDS, store_id)]
        strangers = sorted(set(wanted) - set(current))
        if strangers:
            raise BadInput(
                f"not groups of store {store_id}: {', '.join(strangers[:10])}",
                code="bad_order",
            )
        order = wanted + [g for g in current if g not in set(wanted)]
        await conn.execute(sql.SET_GROUP_POSITIONS, store_id, order)
        await audit.record(
            conn,
            actor,
            "store.order",
            store_id=store_id,
            target=store_id,
            summary=f"group order: {', '.join(current)} -> {', '.join(order)}",
            details={"old": current, "new": order},
        )
        await conn.fetch(
            sql.SWEEP_STORE_STATES, settings.display_cap, settings.expiry_margin_s, store_id
        )
        await notify_stores(conn, [store_id], settings.patch_max_stores)
    log.info("admin: %s reordered the groups of store %s", actor, store_id)
    return json_response({"store_id": store_id, "group_ids": order})


# ---- entry codes ------------------------------------------------------------------------------

# Generated codes avoid look-alikes (0/o, 1/l/i): ops sometimes type them from a poster.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 8


def _entry_json(row: Any, base_url: str) -> dict[str, Any]:
    code = row["code"]
    return {
        "code": code,
        "kind": row["kind"],
        "store_id": row["store_id"],
        "store_name": row["store_name"],
        "label": row["label"],
        "campaign": row["campaign"],
        "created_at": iso(row["created_at"]),
        "url": f"{base_url}/s/{code}",
        "qr_png": f"/admin/api/entries/{code}/qr.png",
        "qr_svg": f"/admin/api/entries/{code}/qr.svg",
    }


async def list_entries(request: web.Request) -> web.Response:
    """GET /admin/api/entries: entry codes, newest first, with their URLs and QR downloads."""
    q = request.query.get("q", "").strip() or None
    limit, offset = _page(request)
    regions = request[PRINCIPAL].region_list()
    rows = await request.config_dict[POOL].fetch(sql.LIST_ENTRIES, q, limit, offset, regions)
    base = request.config_dict[SETTINGS].base_url
    return json_response(
        {
            "total": rows[0]["total"] if rows else 0,
            "limit": limit,
            "offset": offset,
            "entries": [_entry_json(r, base) for r in rows],
        }
    )


async def create_entry(request: web.Request) -> web.Response:
    """POST /admin/api/entries {kind, store_id?, label?, code?}: a new entry code (generated
    unless given). kind store pins the code to its store."""
    actor = request[PRINCIPAL].actor
    body = await json_body(request)
    fields = {}
    for name in ("code", "kind", "store_id", "label"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise BadInput(f"{name} must be a string", code="bad_entry")
        fields[name] = (value or "").strip()
    settings = request.config_dict[SETTINGS]
    pool = request.config_dict[POOL]
    regions = request[PRINCIPAL].region_list()
    if regions is not None:
        # An account limited to regions makes codes of its own stores only.
        if fields["kind"] != "store":
            raise HuomaError(
                "区域账号只能创建门店入口码 / an account limited to regions creates store entry "
                "codes only",
                code="forbidden",
                status=403,
            )
        if fields["store_id"] and not await pool.fetchval(
            sql.STORE_WITHIN, fields["store_id"], regions
        ):
            raise NotFound(f"no store {fields['store_id']!r}", code="store_not_found")
    if fields["code"]:
        if await pool.fetchval(sql.ENTRY_EXISTS, fields["code"]):
            raise HuomaError(
                f"entry code {fields['code']!r} already exists", code="entry_exists", status=409
            )
    else:
        while True:
            fields["code"] = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if not await pool.fetchval(sql.ENTRY_EXISTS, fields["code"]):
                break
    try:
        await import_table(
            pool,
            "entries",
            Table(tuple(fields), [(2, fields)]),
            timezone=settings.timezone,
            audit=_entry_audit(actor, fields),
        )
    except ImportRejected as exc:
        raise BadInput(
            "; ".join(f"{e.column}: {e.message}" for e in exc.errors), code="bad_entry"
        ) from None
    row = await pool.fetchrow(sql.GET_ENTRY, fields["code"])
    log.info("admin: %s created entry code %s (%s)", actor, fields["code"], fields["kind"])
    return json_response(_entry_json(row, settings.base_url), status=201)


def _entry_audit(actor: str, fields: dict[str, str]) -> Audit:
    async def write(conn: asyncpg.Connection, _rows: object, _summary: object) -> None:
        label = f", label {fields['label']!r}" if fields["label"] else ""
        await audit.record(
            conn,
            actor,
            "entry.create",
            store_id=fields["store_id"] or None,
            target=fields["code"],
            summary=f"entry code {fields['code']} created ({fields['kind']}{label})",
            details={"new": fields},
        )

    return write


async def entry_qr(request: web.Request) -> web.Response:
    """GET /admin/api/entries/{code}/qr.{png|svg}: the printable code for {base}/s/{code}."""
    code, fmt = request.match_info["code"], request.match_info["fmt"]
    if fmt not in ("png", "svg"):
        raise NotFound("entry QR codes come as .png or .svg", code="unknown_format")
    if not await request.config_dict[POOL].fetchval(sql.ENTRY_EXISTS, code):
        raise NotFound(f"no entry code {code!r}", code="entry_not_found")
    url = f"{request.config_dict[SETTINGS].base_url}/s/{code}"
    if fmt == "png":
        body = await asyncio.to_thread(render_print_png, url)
        return attachment(body, "image/png", f"huoma-entry-{code}.png")
    body = await asyncio.to_thread(render_print_svg, url)
    return attachment(body, "image/svg+xml", f"huoma-entry-{code}.svg")


# ---- the scan funnel ----------------------------------------------------------------------------


def _date(request: web.Request, name: str, default: date) -> date:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{name} must be a date like 2026-11-23", code="bad_date") from None


def _funnel_query(request: web.Request) -> funnel.FunnelQuery:
    settings = request.config_dict[SETTINGS]
    today = funnel.today(zoneinfo.ZoneInfo(settings.timezone))
    last = _date(request, "to", today)
    first = _date(request, "from", last - timedelta(days=6))
    if first > last:
        raise BadInput("from must not be after to", code="bad_date")
    if (last - first).days + 1 > settings.funnel_max_days:
        raise BadInput(
            f"ask for at most {settings.funnel_max_days} days at a time (HUOMA_FUNNEL_MAX_DAYS)",
            code="range_too_long",
        )
    raw_by = request.query.get("by", "day,store,entry")
    wanted = {d.strip() for d in raw_by.split(",") if d.strip()}
    unknown = wanted - set(funnel.DIMENSIONS)
    if unknown:
        raise BadInput(
            f"by takes {', '.join(funnel.DIMENSIONS)}; not {', '.join(sorted(unknown))}",
            code="bad_by",
        )
    by = tuple(d for d in funnel.DIMENSIONS if d in wanted)
    store_id = request.query.get("store", "").strip() or None
    entry = request.query.get("entry", "").strip() or None
    # An account limited to regions counts its regions' stores only: a store of another region
    # reads as a store with no scans, like one that does not exist.
    regions = request[PRINCIPAL].region_list()
    return funnel.FunnelQuery(
        first,
        last,
        by,
        store_id,
        entry,
        province=request.query.get("province", "").strip() or None,
        district=request.query.get("district", "").strip() or None,
        region=_place_key(request, "region"),
        regions=None if regions is None else tuple(regions),
    )


async def funnel_stats(request: web.Request) -> web.Response:
    """GET /admin/api/funnel?from=&to=&by=day,store,entry&store=&entry=&province=&district=
    &region=: grouped rows and totals."""
    q = _funnel_query(request)
    limit, offset = _page(request, default=request.config_dict[SETTINGS].admin_page_max)
    config = request.config_dict
    body = await funnel.query(config[POOL], q, config[SETTINGS], limit, offset)
    return json_response(body)


async def funnel_csv(request: web.Request) -> web.Response:
    """GET /admin/api/funnel.csv: the same rows, all of them, as CSV."""
    q = _funnel_query(request)
    body = await funnel.export_csv(request.config_dict[POOL], q, request.config_dict[SETTINGS])
    name = f"huoma-funnel-{q.first.isoformat()}-{q.last.isoformat()}.csv"
    return attachment(body, exports.CONTENT_TYPES["csv"], name)


# ---- alerts -----------------------------------------------------------------------------------


async def list_alerts(request: web.Request) -> web.Response:
    """GET /admin/api/alerts[?open=1]: alerts, newest first, with what the webhook was told."""
    only_open = flag_param(request.query, "open")
    limit, offset = _page(request)
    regions = request[PRINCIPAL].region_list()
    rows = await request.config_dict[POOL].fetch(sql.LIST_ALERTS, only_open, limit, offset, regions)
    alerts = [
        {
            "id": r["id"],
            "kind": r["kind"],
            "store_id": r["store_id"],
            "store_name": r["store_name"],
            "group_id": r["group_id"],
            "message": r["message"],
            "created_at": iso(r["created_at"]),
            "resolved_at": iso(r["resolved_at"]),
            "delivery": r["delivery"],
            "notified_at": iso(r["notified_at"]),
        }
        for r in rows
    ]
    total = rows[0]["total"] if rows else 0
    return json_response({"total": total, "limit": limit, "offset": offset, "alerts": alerts})
