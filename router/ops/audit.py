"""The audit trail as ops read it: per store, and as a filterable, paged list for admins.

Records are written by the changes themselves (router/store/audit.py `record`), inside their
transactions; these handlers only read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from router.errors import BadInput, NotFound
from router.keys import POOL
from router.ops.handlers import _page as page
from router.ops.handlers import iso, json_response
from router.store import sql
from router.store.db import Operation

AUDIT = Operation("操作记录查询", "audit trail query")


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"{name} 必须是 ISO 8601 时间，例如 2026-11-30T08:00:00+08:00。"
            f"{name} must be an ISO 8601 time like 2026-11-30T08:00:00+08:00.",
            code="bad_time",
        ) from None
    if value.tzinfo is None:
        raise BadInput(
            f"{name} 需要带时区（例如 +08:00）。{name} needs a UTC offset (e.g. +08:00).",
            code="bad_time",
        )
    return value


def _record(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": r["id"],
        "at": iso(r["at"]),
        "actor": r["actor"],
        "kind": r["kind"],
        "store_id": r["store_id"],
        "target": r["target"],
        "summary": r["summary"],
        "details": orjson.loads(r["details"]),
    }


async def _list(request: web.Request, store_id: str | None, *, filters: bool) -> dict[str, Any]:
    limit, offset = page(request)
    q = request.query

    def text(name: str) -> str | None:
        return (q.get(name, "").strip() or None) if filters else None

    first, last = (_time(request, "from"), _time(request, "to")) if filters else (None, None)
    if first is not None and last is not None and first > last:
        raise BadInput("from 不能晚于 to。from must not be after to.", code="bad_time")
    rows = await request.config_dict[POOL].fetch(
        sql.LIST_AUDIT,
        text("kind"),
        text("actor"),
        store_id if store_id is not None else text("store"),
        first,
        last,
        limit,
        offset,
    )
    return {
        "total": rows[0]["total"] if rows else 0,
        "limit": limit,
        "offset": offset,
        "records": [_record(r) for r in rows],
    }


async def list_audit(request: web.Request) -> web.Response:
    """GET /admin/api/audit?kind=&actor=&store=&from=&to=&limit=&offset=: every change, newest
    first. kind matches exactly or by its first part (kind=group finds group.retire, ...)."""
    return json_response(await _list(request, None, filters=True))


async def store_audit(request: web.Request) -> web.Response:
    """GET /admin/api/stores/{store_id}/audit: the changes to one store, newest first."""
    store_id = request.match_info["store_id"]
    if await request.config_dict[POOL].fetchval(sql.STORE_EXISTS, store_id) is None:
        raise NotFound(f"no store {store_id!r}", code="store_not_found")
    body = await _list(request, store_id, filters=False)
    return json_response({"store_id": store_id, **body})
