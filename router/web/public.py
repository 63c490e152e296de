"""Public HTTP handlers: parse, make one domain call, render. No business logic here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from importlib import resources

import asyncpg
import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler

from router.errors import BadInput, HuomaError
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
from router.ops.importer import ImportRejected
from router.scan.catalogue import CatalogueRef
from router.scan.journal import ScanEvent
from router.scan.limits import Buckets, RateLimited, check, client_key, parse_networks
from router.scan.live import new_visitor_id, valid_visitor_id, well_formed_sticky
from router.scan.qr import QrLinks, image_type
from router.scan.routing import Outcome, RoutePolicy, parse_route_query, route
from router.scan.search import search_stores
from router.store.db import Operation, failure
from router.store.qr_images import QrImages

log = logging.getLogger(__name__)

JSON = "application/json"
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_SHORT_CACHE = {"Cache-Control": "public, max-age=60", "X-Content-Type-Options": "nosniff"}

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "unavailable",
}


def error_response(status: int, code: str, message: str, **extra: object) -> web.Response:
    body: dict[str, object] = {"code": code, "message": message}
    body.update(extra)
    return web.Response(
        status=status,
        body=orjson.dumps({"error": body}),
        content_type=JSON,
        headers=_NO_STORE,
    )


def _protocol_error(
    self: RequestHandler,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    """What aiohttp answers by itself, before any middleware, to a request it cannot read (a
    request line or header past its limits, malformed HTTP) or whose handler failed outright:
    JSON like every other error, and one log line without the request (the query may carry a
    customer's location) instead of a traceback per malformed request from the internet."""
    if request.writer.output_size > 0:
        raise ConnectionError("the answer had started; the connection is closed instead")
    reason = type(exc).__name__ if exc is not None else "malformed request"
    if status >= 500:
        log.error("request from %s failed outside any handler", request.remote, exc_info=exc)
        code, text = "internal_error", "internal error; it has been logged"
    else:
        log.info("refused an unreadable request from %s (%d %s)", request.remote, status, reason)
        code = _STATUS_CODES.get(status, "bad_request")
        text = f"the HTTP request could not be read ({reason}); lines are limited to 8 KiB"
    response = error_response(status, code, text)
    response.force_close()
    return response


def json_protocol_errors() -> None:
    """Install `_protocol_error` for every aiohttp server in this process."""
    RequestHandler.handle_error = _protocol_error  # type: ignore[method-assign]


class InFlight:
    """Requests being handled by this worker, so that a stop can wait for them.

    aiohttp's own graceful shutdown stops reading from every connection first (aio-libs/aiohttp
    #2298): an upload whose body is still arriving could then never finish. So a stopping worker
    first closes its listening socket and waits here until its requests are done, answering each
    with `Connection: close`; only then does aiohttp's shutdown run.
    """

    __slots__ = ("count", "draining", "idle")

    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self.idle = asyncio.Event()

    def done(self) -> None:
        self.count -= 1
        if self.draining and not self.count:
            self.idle.set()

    async def drain(self, within_s: float) -> int:
        """Wait until no request is in flight, at most `within_s`; returns how many still are."""
        self.draining = True
        if self.count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.idle.wait(), within_s)
        return self.count


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request, and turn every failure into a JSON error with a stable code.
    (One coroutine frame on every request's path: this is the hot path's wrapper.)"""
    flight = request.app[IN_FLIGHT]
    flight.count += 1
    started = time.perf_counter()
    try:
        response = await handler(request)
    except Exception as exc:
        response = _error_for(request, exc)
    finally:
        flight.done()
    if flight.draining:
        response.force_close()  # no further request on this connection: it is stopping
    request.app[METRICS].observe_request(
        request.match_info.route.name or "unmatched",
        request.method,
        response.status,
        time.perf_counter() - started,
    )
    return response


def _error_for(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The JSON answer to what a handler raised (a redirect is re-raised)."""
    if isinstance(exc, HuomaError):
        extra: dict[str, object] = {}
        if isinstance(exc, ImportRejected):
            extra["errors"] = [e.as_dict() for e in exc.errors]
            extra["more_errors"] = exc.more_errors
        response = error_response(exc.status, exc.code, exc.message, **extra)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="huoma"'
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        response = error_response(
            exc.status, _STATUS_CODES.get(exc.status, "http_error"), exc.reason
        )
        for name in ("Allow", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    if isinstance(exc, asyncpg.DataError):
        return error_response(400, "bad_value", f"a value in the request was refused: {exc}")
    if isinstance(exc, _DATABASE_TROUBLE):
        # Handlers that need PostgreSQL name their operation themselves; this is the net under
        # them, naming the request instead.
        what = f"{request.method} {request.path}"
        unavailable = failure(exc, Operation(f"请求 {what} ", f"request {what}"))
        return error_response(unavailable.status, unavailable.code, unavailable.message)
    log.exception("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; it has been logged")


# What a handler's unforeseen database trouble looks like (asyncpg's timeouts are TimeoutError).
_DATABASE_TROUBLE = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    TimeoutError,
)


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
    """The customer-facing endpoints, holding what they need so the hot path looks nothing up."""

    def __init__(self, app: web.Application) -> None:
        settings = app[SETTINGS]
        self.app = app
        self.settings = settings
        self.secret = settings.secret.encode()
        self.policy = RoutePolicy.from_section(settings.section("routing"))
        self.trusted = parse_networks(settings.trusted_proxies)
        self.ipv6_prefix = settings.client_ipv6_prefix
        limits = settings.rate_limits()
        self.route_ip = Buckets(*limits["route_ip"])
        self.route_visitor = Buckets(*limits["route_visitor"])
        self.picker_ip = Buckets(*limits["picker_ip"])
        self.picks_visitor = Buckets(*limits["picks_visitor"])
        self.picks_ip = Buckets(*limits["picks_ip"])
        secure = "; Secure" if settings.base_url.startswith("https://") else ""
        self.cookie_tail = f"; Path=/; Max-Age={_COOKIE_MAX_AGE_S}; SameSite=Lax; HttpOnly{secure}"
        self.links = QrLinks(self.secret, settings.base_url, settings.qr_link_ttl_s)

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

    def _limit(self, buckets: Buckets, key: str, what: str) -> None:
        """Spend from `key`'s bucket, or refuse (429) and count the refusal."""
        try:
            check(buckets, key, what)
        except RateLimited:
            self.metrics.outcome("rate_limited")
            raise

    def _limit_picker(self, request: web.Request) -> None:
        self._limit(self.picker_ip, self._client(request), "store searches from this address")

    async def route(self, request: web.Request) -> web.Response:
        client = self._client(request)
        self._limit(self.route_ip, client, "scans from this address")
        try:
            query = parse_route_query(request.query)
        except BadInput:
            self.metrics.outcome(Outcome.BAD_INPUT)
            vid, _ = _huoma_cookies(request.headers.get("Cookie"))
            self.app[JOURNAL].append(
                ScanEvent(at=time.time(), outcome=Outcome.BAD_INPUT, visitor=vid)
            )
            raise
        cookie_vid, cookie_stk = _huoma_cookies(request.headers.get("Cookie"))
        visitor = query.visitor or cookie_vid
        new_visitor = visitor is None
        if visitor is not None:
            # A new visitor has no history to limit; a known one scans a few times at most.
            self._limit(self.route_visitor, visitor, "scans by this visitor")
        if query.store_id is not None:
            # A picked store answers with its group from anywhere: the way to harvest every
            # store's group, so picks are limited much harder than scans.
            self._limit(self.picks_ip, client, "stores picked from this address")
            if visitor is not None:
                self._limit(self.picks_visitor, visitor, "stores picked by this visitor")
        if visitor is None:
            visitor = new_visitor_id()
        query = query._replace(visitor=visitor, sticky=query.sticky or cookie_stk)
        now = time.time()
        result = route(self.catalogue.current, query, self.policy, now, self.app[LIVE])
        self.metrics.outcome(result.status)
        point = query.point
        store = result.store
        group = result.group
        # Journalled before the answer leaves: an answered scan is never missing from the books.
        self.app[JOURNAL].append(
            ScanEvent(
                at=now,
                outcome=result.status,
                entry=query.entry,
                store_csv=store.csv_id if store is not None else b"",
                group_csv=group.csv_id if group is not None else b"",
                visitor=visitor,
                distance_m=result.distance_m,
                accuracy_m=query.accuracy_m,
                lat=point.lat if point is not None else None,
                lng=point.lng if point is not None else None,
                coord=point.system.value if point is not None else None,
            )
        )
        response = web.Response(
            body=result.render(self.links.fragment(group, now)),
            content_type=JSON,
            headers=_NO_STORE,
        )
        if new_visitor or visitor != cookie_vid:
            response.headers.add("Set-Cookie", f"hm_vid={visitor}{self.cookie_tail}")
        if result.sticky is not None and result.sticky != cookie_stk:
            response.headers.add("Set-Cookie", f"hm_stk={result.sticky}{self.cookie_tail}")
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
        self._limit_picker(request)
        body = search_stores(self.catalogue.current, request.query)
        return web.Response(body=orjson.dumps(body), content_type=JSON, headers=_SHORT_CACHE)

    async def cities(self, request: web.Request) -> web.Response:
        self._limit_picker(request)
        cat = self.catalogue.current
        body = {"cities": [{"name": c, "stores": n} for c, n in cat.cities]}
        return web.Response(body=orjson.dumps(body), content_type=JSON, headers=_SHORT_CACHE)


async def livez(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type=JSON, headers=_NO_STORE)


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
    return web.Response(body=orjson.dumps(body), content_type=JSON, headers=_NO_STORE)


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
