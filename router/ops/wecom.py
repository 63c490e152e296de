"""The ops API of a store's WeCom join way: show it, start or extend it, stop it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from router.errors import BadInput, HuomaError, NotFound
from router.keys import POOL, PRINCIPAL
from router.ops.handlers import iso, json_body, json_response, log
from router.store import audit, sql
from router.store.db import Operation
from router.wecom.client import RETRY_ERRORS
from router.wecom.http import service_of
from router.wecom.sync import StoreSync

# What each request asks of the database, for its 503 and its log line.
STATUS = Operation("门店企业微信状态查询", "store WeCom status")
ENABLE = Operation("门店启用企业微信", "switch of a store to WeCom")
DISABLE = Operation("门店停用企业微信", "switch of a store off WeCom")


async def store_wecom(request: web.Request) -> web.Response:
    """GET /admin/api/stores/{store_id}/wecom: the store's join way, its chats and last sync."""
    store_id = request.match_info["store_id"]
    async with request.config_dict[POOL].acquire() as conn:
        row = await conn.fetchrow(sql.WECOM_STORE, store_id)
        chats = await conn.fetch(sql.WECOM_CHATS, store_id) if row is not None else []
    if row is None:
        raise NotFound(f"store {store_id!r} does not use WeCom", code="wecom_not_enabled")
    return json_response(_described(row, chats))


def _described(row: Any, chats: Any) -> dict[str, Any]:
    return {
        "store_id": row["store_id"],
        "enabled": row["enabled"],
        "state": f"hm{row['id']}",
        "config_id": row["config_id"],
        "qr_code": row["qr_code"],
        "chat_ids": list(row["chat_ids"]),
        "synced_at": iso(row["synced_at"]),
        "sync_error": row["sync_error"],
        "chats": [
            {
                "chat_id": c["chat_id"],
                "member_count": c["member_count"],
                "counted_at": iso(c["counted_at"]),
                "adopted": c["adopted"],
                "dismissed": c["dismissed"],
                "in_join_way": c["chat_id"] in row["chat_ids"],
            }
            for c in chats
        ],
    }


async def enable_wecom(request: web.Request) -> web.Response:
    """PUT /admin/api/stores/{store_id}/wecom {"chat_ids": [...]}: use WeCom for the store."""
    actor = request[PRINCIPAL].actor
    service = service_of(request)
    body = await json_body(request)
    chat_ids = body.get("chat_ids")
    if not isinstance(chat_ids, list) or not all(isinstance(c, str) for c in chat_ids):
        raise BadInput("chat_ids must be a list of WeCom chat ids", code="bad_chat_id")
    store_id = request.match_info["store_id"]
    result = await service.sync.enable(store_id, chat_ids)
    log.info("admin: %s gave store %s WeCom chats %s", actor, store_id, chat_ids)
    if result.error is None:  # the sync commits on its own: recorded once it has
        await _record(request, "wecom.enable", store_id, f"WeCom chats: {', '.join(chat_ids)}")
    return _answer(result)


async def disable_wecom(request: web.Request) -> web.Response:
    """DELETE /admin/api/stores/{store_id}/wecom: stop using WeCom for the store."""
    actor = request[PRINCIPAL].actor
    service = service_of(request)
    store_id = request.match_info["store_id"]
    result = await service.sync.disable(store_id)
    log.info("admin: %s stopped WeCom for store %s", actor, store_id)
    if result.error is None:
        await _record(request, "wecom.disable", store_id, "WeCom join way: on -> off")
    return _answer(result)


async def _record(request: web.Request, kind: str, store_id: str, summary: str) -> None:
    async with request.config_dict[POOL].acquire() as conn:
        await audit.record(
            conn,
            request[PRINCIPAL].actor,
            kind,
            store_id=store_id,
            target=store_id,
            summary=summary,
        )


def _answer(result: StoreSync) -> web.Response:
    """The sync's outcome; WeCom's refusal is the request's 422, WeCom out of reach a 503."""
    if result.error is None:
        return json_response(result.as_dict())
    if result.errcode in RETRY_ERRORS:
        raise HuomaError(result.error, code="wecom_unavailable", status=503)
    raise HuomaError(result.error, code="wecom_refused", status=422)
