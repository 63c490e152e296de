"""WeCom's HTTP surface: the callback URL, and the admin API of a store's join way."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from router.errors import BadInput, HuomaError, NotFound
from router.keys import POOL, WECOM
from router.ops import handlers as admin
from router.store import sql
from router.store.db import Operation
from router.wecom.client import RETRY_ERRORS
from router.wecom.service import WeComService
from router.wecom.sync import StoreSync

CALLBACK = Operation("企业微信回调", "WeCom callback")
STATUS = Operation("门店企业微信状态查询", "store WeCom status")
ENABLE = Operation("门店启用企业微信", "switch of a store to WeCom")
DISABLE = Operation("门店停用企业微信", "switch of a store off WeCom")


def _service(request: web.Request) -> WeComService:
    service = request.app[WECOM]
    if service is None:
        raise NotFound(
            "WeCom is not configured here (HUOMA_WECOM_CORP_ID)", code="wecom_not_configured"
        )
    return service


async def callback_check(request: web.Request) -> web.Response:
    """GET /wecom/callback: WeCom's URL check."""
    return await _service(request).receiver.verify_url(request)


async def callback_event(request: web.Request) -> web.Response:
    """POST /wecom/callback: an event (stored, answered, then processed)."""
    with admin.database_errors(CALLBACK):
        return await _service(request).receiver.receive(request)


async def store_wecom(request: web.Request) -> web.Response:
    """GET /admin/api/stores/{store_id}/wecom: the store's join way, its chats and last sync."""
    admin.authorize(request)
    store_id = request.match_info["store_id"]
    with admin.database_errors(STATUS):
        async with request.app[POOL].acquire() as conn:
            row = await conn.fetchrow(sql.WECOM_STORE, store_id)
            chats = await conn.fetch(sql.WECOM_CHATS, store_id) if row is not None else []
    if row is None:
        raise NotFound(f"store {store_id!r} does not use WeCom", code="wecom_not_enabled")
    return admin.json_response(_described(row, chats))


def _described(row: Any, chats: Any) -> dict[str, Any]:
    return {
        "store_id": row["store_id"],
        "enabled": row["enabled"],
        "state": f"hm{row['id']}",
        "config_id": row["config_id"],
        "qr_code": row["qr_code"],
        "chat_ids": list(row["chat_ids"]),
        "synced_at": admin.iso(row["synced_at"]),
        "sync_error": row["sync_error"],
        "chats": [
            {
                "chat_id": c["chat_id"],
                "member_count": c["member_count"],
                "counted_at": admin.iso(c["counted_at"]),
                "adopted": c["adopted"],
                "dismissed": c["dismissed"],
                "in_join_way": c["chat_id"] in row["chat_ids"],
            }
            for c in chats
        ],
    }


async def enable_wecom(request: web.Request) -> web.Response:
    """PUT /admin/api/stores/{store_id}/wecom {"chat_ids": [...]}: use WeCom for the store."""
    actor = admin.authorize(request)
    service = _service(request)
    body = await admin.json_body(request)
    chat_ids = body.get("chat_ids")
    if not isinstance(chat_ids, list) or not all(isinstance(c, str) for c in chat_ids):
        raise BadInput("chat_ids must be a list of WeCom chat ids", code="bad_chat_id")
    store_id = request.match_info["store_id"]
    with admin.database_errors(ENABLE):
        result = await service.sync.enable(store_id, chat_ids)
    admin.log.info("admin: %s gave store %s WeCom chats %s", actor, store_id, chat_ids)
    return _answer(result)


async def disable_wecom(request: web.Request) -> web.Response:
    """DELETE /admin/api/stores/{store_id}/wecom: stop using WeCom for the store."""
    actor = admin.authorize(request)
    service = _service(request)
    store_id = request.match_info["store_id"]
    with admin.database_errors(DISABLE):
        result = await service.sync.disable(store_id)
    admin.log.info("admin: %s stopped WeCom for store %s", actor, store_id)
    return _answer(result)


def _answer(result: StoreSync) -> web.Response:
    """The sync's outcome; WeCom's refusal is the request's 422, WeCom out of reach a 503."""
    if result.error is None:
        return admin.json_response(result.as_dict())
    if result.errcode in RETRY_ERRORS:
        raise HuomaError(result.error, code="wecom_unavailable", status=503)
    raise HuomaError(result.error, code="wecom_refused", status=422)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/wecom/callback", callback_check, name="wecom_callback_check")
    app.router.add_post("/wecom/callback", callback_event, name="wecom_callback")
    app.router.add_get("/admin/api/stores/{store_id}/wecom", store_wecom, name="admin_wecom")
    app.router.add_put(
        "/admin/api/stores/{store_id}/wecom", enable_wecom, name="admin_wecom_enable"
    )
    app.router.add_delete(
        "/admin/api/stores/{store_id}/wecom", disable_wecom, name="admin_wecom_disable"
    )
