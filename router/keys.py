"""Every piece of application state, as a typed key. No string keys anywhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

if TYPE_CHECKING:
    from router.brand import BrandSource
    from router.metrics import Metrics
    from router.ops.auth import Principal
    from router.runtime.wechat import TicketCache
    from router.scan.catalogue import CatalogueRef
    from router.scan.journal import Journal
    from router.scan.limits import Buckets
    from router.scan.live import LiveState
    from router.settings import Settings
    from router.store.db import DbHealth
    from router.store.opsettings import OpsSettings
    from router.store.qr_images import QrImages
    from router.web.middleware import InFlight
    from router.wecom.service import WeComService

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")
CATALOGUE: web.AppKey[CatalogueRef] = web.AppKey("catalogue")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
QR_IMAGES: web.AppKey[QrImages] = web.AppKey("qr_images")
LIVE: web.AppKey[LiveState] = web.AppKey("live")
JOURNAL: web.AppKey[Journal] = web.AppKey("journal")
# What this worker's background work last saw of PostgreSQL (for /readyz and /metrics).
DB_HEALTH: web.AppKey[DbHealth] = web.AppKey("db_health")
# Requests being handled, for a stop that waits for them.
IN_FLIGHT: web.AppKey[InFlight] = web.AppKey("in_flight")
# WeCom's client, join-way sync and callback receiver; None when WeCom is not configured.
WECOM: web.AppKey[WeComService | None] = web.AppKey("wecom")
# Failed admin logins per client address (only failures spend from it).
ADMIN_FAILURES: web.AppKey[Buckets] = web.AppKey("admin_failures")
STORE_LINK_LIMITS: web.AppKey[Buckets] = web.AppKey("store_link_limits")

# The settings ops own (stored over the environment defaults), refreshed by
# router/runtime/opsettings.py; read them here, never from the table.
OPS_SETTINGS: web.AppKey[OpsSettings] = web.AppKey("ops_settings")
# The brand every page, stylesheet, share card and print sheet is made from (router.brand).
BRAND: web.AppKey[BrandSource] = web.AppKey("brand")
# The WeChat JS-SDK's current jsapi_ticket as this worker last read it (router.runtime.wechat).
WECHAT_TICKET: web.AppKey[TicketCache] = web.AppKey("wechat_ticket")

# Per request of the ops API: who is asking (set by its middleware, router.ops.app.gate), and
# what a handler adds to the log line of a database failure (an upload's sender and file).
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal")
DB_CONTEXT: web.RequestKey[str] = web.RequestKey("db_context")
