"""The keeper's loop in a worker, as a cleanup context: one worker of the deployment leads it."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from router.keeper import sweep as keeper
from router.keeper.providers import GroupProvider, make_provider
from router.keeper.wecom_provider import WeComProvider
from router.keys import (
    OPS_SETTINGS,
    POOL,
    SETTINGS,
    WECOM,
)
from router.runtime.loops import running

log = logging.getLogger(__name__)


async def keeper_task(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    service = app[WECOM]
    provider: GroupProvider
    if settings.group_provider == "wecom" and service is not None:
        provider = WeComProvider(service.sync)
    else:
        provider = make_provider(settings.group_provider, keeper.wechat_lifetime(settings))
    keep = functools.partial(keeper.run, app[POOL], settings, provider, service, app[OPS_SETTINGS])
    async with running(keep, "huoma-keeper"):
        yield
