"""WeCom's callback URL: the URL check and encrypted events (the ops API of a store's join way
is router.ops.wecom)."""

from __future__ import annotations

from aiohttp import web

from router.errors import NotFound
from router.keys import WECOM
from router.store.db import Operation, database_errors
from router.wecom.service import WeComService

CALLBACK = Operation("企业微信回调", "WeCom callback")


def service_of(request: web.Request) -> WeComService:
    """This worker's WeCom service; 404 `wecom_not_configured` where WeCom is not set up. Works
    from the root app (the callback URL) and from the ops sub-app alike."""
    service = request.config_dict[WECOM]
    if service is None:
        raise NotFound(
            "WeCom is not configured here (HUOMA_WECOM_CORP_ID)", code="wecom_not_configured"
        )
    return service


async def callback_check(request: web.Request) -> web.Response:
    """GET /wecom/callback: WeCom's URL check."""
    return await service_of(request).receiver.verify_url(request)


async def callback_event(request: web.Request) -> web.Response:
    """POST /wecom/callback: an event (stored, answered, then processed)."""
    with database_errors(CALLBACK):
        return await service_of(request).receiver.receive(request)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/wecom/callback", callback_check, name="wecom_callback_check")
    app.router.add_post("/wecom/callback", callback_event, name="wecom_callback")
