"""WeCom's client, join-way sync and callback receiver for the worker, when WeCom is configured."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from router.keys import (
    POOL,
    SETTINGS,
    WECOM,
)
from router.wecom.service import open_service

log = logging.getLogger(__name__)


async def wecom(app: web.Application) -> AsyncIterator[None]:
    """WeCom's client, join-way sync and callback receiver, when WeCom is configured."""
    settings = app[SETTINGS]
    if not settings.wecom_corp_id:
        app[WECOM] = None
        yield
        return
    service = open_service(app[POOL], settings)
    app[WECOM] = service
    try:
        yield
    finally:
        await service.close()
