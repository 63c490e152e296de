"""Public HTTP handlers: parse, make one domain call, render. No business logic here."""

from __future__ import annotations

import logging
import os
import time
from importlib import resources

import orjson
from aiohttp import web

from router.keys import (
    CATALOGUE,
    DB_HEALTH,
    IN_FLIGHT,
    JOURNAL,
    LIVE,
    METRICS,
    QR_IMAGES,
    SETTINGS,
)
from router.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from router.metrics import Metrics
from router.scan.catalogue import CatalogueRef
from router.scan.limits import client_key, parse_networks
from router.scan.live import valid_visitor_id, well_formed_sticky
from router.scan.qr import image_type
from router.scan.service import ScanService
from router.store.qr_images import QrImages
from router.web.middleware import JSON, NO_STORE, SHORT_CACHE, error_response

log = logging.getLogger(__name__)

# Visitor and sticky cookies live a year; the sticky token inside carries its own expiry.
_COOKIE_MAX_AGE_S = 365 * 86_400


def _huoma_cookies(header: str | None) -> tuple[str | None, str | None]:
    """hm_vid and hm_stk from a Cookie header, without a full cookie parse on the hot path."""
    if not header or "hm_" not in header:
        return None, None
    vid = stk = None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "hm_vid" and valid_visitor_id(value):
            vid = value
        elif name == "hm_stk" and well_formed_sticky(value):
            stk = value
    return vid, stk


class PublicApi:
    """The customer-facing endpoints: parse the request, one call to the scan service, render."""

    def __init__(self, app: web.Application) -> None:
        settings = app[SETTINGS]
        self.app = app
        self.settings = settings
        self.trusted = parse_networks(settings.trusted_proxies)
        self.ipv6_prefix = settings.client_ipv6_prefix
        secure = "; Secure" if settings.base_url.startswith("https://") else ""
        self.cookie_tail = f"; Path=/; Max-Age={_COOKIE_MAX_AGE_S}; SameSite=Lax; HttpOnly{secure}"
        self.service = ScanService(
            settings=settings,
            catalogue=app[CATALOGUE],
            live=app[LIVE],
            journal=app[JOURNAL],
            metrics=app[METRICS],
        )
        self.links = self.service.links

    @property
    def catalogue(self) -> CatalogueRef:
        return self.app[CATALOGUE]

    @property
    def metrics(self) -> Metrics:
        return self.app[METRICS]

    @property
    def images(self) -> QrImages:
        return self.app[QR_IMAGES]

    def _client(self, request: web.Request) -> str:
        return client_key(
            request.remote, request.headers.get("X-Forwarded-For"), self.trusted, self.ipv6_prefix
        )

    async def route(self, request: web.Request) -> web.Response:
        vid, stk = _huoma_cookies(request.headers.get("Cookie"))
        answer = await self.service.answer(request.query, self._client(request), vid, stk)
        response = web.Response(body=answer.body, content_type=JSON, headers=NO_STORE)
        if answer.set_visitor is not None:
            response.headers.add("Set-Cookie", f"hm_vid={answer.set_visitor}{self.cookie_tail}")
        if answer.set_sticky is not None:
            response.headers.add("Set-Cookie", f"hm_stk={answer.set_sticky}{self.cookie_tail}")
        return response

    async def qr_image(self, request: web.Request) -> web.Response:
        query = request.query
        now = time.time()
        group, expires = self.links.verify(
            self.catalogue.current,
            int(request.match_info["pk"]),
            query.get("v", ""),
            query.get("e", ""),
            query.get("s", ""),
            now,
        )
        # Caches may keep the image as long as its link works, and no longer.
        max_age = max(0, min(self.settings.qr_max_age_s, expires - int(now)))
        headers = {
            "Cache-Control": f"public, max-age={max_age}, immutable",
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{group.pk}-{group.qr_version}"',
        }
        if headers["ETag"] in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        before = self.images.renders
        png = await self.images.get(group)
        if self.images.renders != before:
            self.metrics.qr_renders.inc()
        return web.Response(body=png, content_type=image_type(png) or "image/png", headers=headers)

    async def stores(self, request: web.Request) -> web.Response:
        body = self.service.stores(request.query, self._client(request))
        return web.Response(body=orjson.dumps(body), content_type=JSON, headers=SHORT_CACHE)

    async def cities(self, request: web.Request) -> web.Response:
        body = self.service.cities(self._client(request), request.query)
        return web.Response(body=orjson.dumps(body), content_type=JSON, headers=SHORT_CACHE)


async def livez(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type=JSON, headers=NO_STORE)


async def readyz(request: web.Request) -> web.Response:
    """Ready: the catalogue is loaded (a worker does not listen before it is). "degraded" while
    PostgreSQL does not answer: scans are still answered from memory, so the worker stays in
    rotation (200) and says what it is missing. Never waits on PostgreSQL (a probe must answer
    promptly even when PostgreSQL hangs): the event flusher asks it every couple of seconds."""
    app = request.app
    if app[IN_FLIGHT].draining:
        return error_response(503, "stopping", "this worker is stopping; ask another")
    health = app[DB_HEALTH]
    journal = app[JOURNAL]
    cat = app[CATALOGUE].current
    now = time.time()
    since = health.unavailable_since(now)
    body = {
        "status": "ready" if since is None else "degraded",
        "worker": os.getpid(),
        "stores": len(cat.stores),
        "groups": cat.group_count,
        "catalogue_age_s": round(now - cat.built_at, 1),
        "database": "ok" if since is None else "unavailable",
        "database_answered_s_ago": round(now - health.last_ok, 1),
        "journal_backlog_bytes": journal.backlog(),
        "events_dropped": journal.dropped,
    }
    if since is not None:
        body["degraded_for_s"] = round(now - since, 1)
        body["database_error"] = health.last_error or "no answer"
    return web.Response(body=orjson.dumps(body), content_type=JSON, headers=NO_STORE)


_OPENAPI = resources.files("router.web").joinpath("openapi.yaml")


async def openapi(request: web.Request) -> web.Response:
    return web.Response(
        body=_OPENAPI.read_bytes(),
        content_type="application/yaml",
        headers={"Cache-Control": "public, max-age=300"},
    )


async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    cat = request.app[CATALOGUE].current
    m.stores.set(len(cat.stores))
    m.groups.set(cat.group_count)
    journal = request.app[JOURNAL]
    m.events_written.set(journal.written)
    m.events_flushed.set(journal.flushed_events)
    m.events_dropped.set(journal.dropped)
    m.journal_backlog.set(journal.backlog())
    m.database_available.set(1 if request.app[DB_HEALTH].available(time.time()) else 0)
    response = web.Response(body=m.render(), headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = METRICS_CONTENT_TYPE
    return response


def add_routes(app: web.Application) -> None:
    api = PublicApi(app)
    app.router.add_get("/api/v1/route", api.route, name="route", allow_head=False)
    app.router.add_get(r"/qr/{pk:\d{1,18}}.png", api.qr_image, name="qr")
    app.router.add_get("/api/v1/stores", api.stores, name="stores", allow_head=False)
    app.router.add_get("/api/v1/cities", api.cities, name="cities", allow_head=False)
    app.router.add_get("/livez", livez, name="livez")
    app.router.add_get("/readyz", readyz, name="readyz")
    app.router.add_get("/openapi.yaml", openapi, name="openapi")
    app.router.add_get("/metrics", metrics, name="metrics")
