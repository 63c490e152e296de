"""The app's middleware and error rendering: every request counted and timed, every failure a
JSON error with a stable code, requests in flight tracked for a graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time

import asyncpg
import orjson
from aiohttp import web
from aiohttp.http_exceptions import InvalidURLError, LineTooLong
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler

from router.errors import HuomaError, TooLarge
from router.keys import IN_FLIGHT, METRICS, SETTINGS
from router.store.db import Operation, failure

log = logging.getLogger(__name__)

JSON = "application/json"
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
SHORT_CACHE = {"Cache-Control": "public, max-age=60", "X-Content-Type-Options": "nosniff"}

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
        headers=NO_STORE,
    )


# aiohttp's parser (its C extension, the one installed wheels use) refuses a request line with
# bytes beyond ASCII as InvalidURLError, its message showing the line as Python bytes: a raw
# byte of 0x80 or more appears escaped as \x80 to \xff. A bare string check on that message:
# the request itself is never echoed or logged (its query may carry a customer's location).
_RAW_NON_ASCII = re.compile(r"\\x[89a-f][0-9a-f]")


def _unreadable(exc: BaseException | None, reason: str) -> str:
    """Why a request could not be read, in words that point at the fix."""
    if isinstance(exc, LineTooLong):
        return f"the HTTP request could not be read ({reason}); lines are limited to 8 KiB"
    if isinstance(exc, InvalidURLError) and _RAW_NON_ASCII.search(str(exc.message)):
        return (
            "请求地址含有未经 URL 编码的字符（例如中文）：请按 UTF-8 百分号编码后再发"
            "（curl 可用 -G --data-urlencode 'city=成都'）/ the request URL holds characters "
            "that are not percent-encoded (such as Chinese): encode them as UTF-8 percent "
            "escapes (curl: -G --data-urlencode 'city=成都')"
        )
    return f"the HTTP request could not be read ({reason})"


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
        text = _unreadable(exc, reason)
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
        response = error_response(exc.status, exc.code, exc.message, **exc.details())
        response.headers.update(exc.headers())
        return response
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        # aiohttp's own bound on a body (uploads are the only large ones): say the limit ops set.
        too_large = TooLarge(
            request.config_dict[SETTINGS].import_max_bytes, "HUOMA_IMPORT_MAX_BYTES"
        )
        return error_response(too_large.status, too_large.code, too_large.message)
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
        # The ops API names its operations (router.ops.app); this is the net under every other
        # handler, naming the request instead.
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
