"""What a worker accepts at the TCP level, before any request is read: connections per client
address, descriptors kept for PostgreSQL and the journal, and how long a connection may take to
send a request's headers (aiohttp closes idle ones after HUOMA_KEEPALIVE_S, but has no limit of
its own on a request's headers: a connection sending a header line every few seconds was kept
for as long as it liked).

A worker's descriptors are one budget: 20,000 idle connections from one machine once took them
all, and then every new scan failed, and every database call with it. So a client connection
never keeps a descriptor numbered at or above RLIMIT_NOFILE minus HUOMA_FD_RESERVE (the kernel
hands out the lowest free number, so such a number means that many are in use), and no client
address holds more than HUOMA_CONNECTIONS_PER_IP connections (keyed like every per-address limit,
by `limits.client_key`; trusted proxies, which carry every customer, are exempt). A refused
connection is closed at once, before aiohttp reads from it.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from router.metrics import Metrics
from router.scan.limits import client_key, is_trusted, parse_networks
from router.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Refusals are logged at most this often (a flood would otherwise be a flood of log lines), s.
REFUSAL_LOG_S = 10.0
# Fewer descriptors than this left for client connections is a configuration mistake.
MIN_CLIENT_DESCRIPTORS = 16

PER_ADDRESS = "per_address"
DESCRIPTORS = "descriptors"
HEADER_TIMEOUT = "header_timeout"


def raise_descriptor_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (the soft one is often 1,024,
    which caps a worker's connections for no reason); returns (soft, hard) as they are now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # macOS refuses more than OPEN_MAX
            log.info("keeping RLIMIT_NOFILE at %d (%s)", soft, exc)
    return soft, hard


class ConnectionGuard:
    """Admits or refuses each new connection of one worker and counts them per client key."""

    __slots__ = (
        "_last_log",
        "_unlogged",
        "fd_ceiling",
        "header_timeout_s",
        "ipv6_prefix",
        "metrics",
        "open",
        "per_ip",
        "trusted",
    )

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.per_ip = settings.connections_per_ip
        self.trusted = parse_networks(settings.trusted_proxies)
        self.ipv6_prefix = settings.client_ipv6_prefix
        self.header_timeout_s = settings.header_timeout_s
        self.metrics = metrics
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.fd_ceiling: int | None = None
        if soft != resource.RLIM_INFINITY:
            self.fd_ceiling = soft - settings.fd_reserve
            if self.fd_ceiling < MIN_CLIENT_DESCRIPTORS:
                raise SettingsError(
                    f"HUOMA_FD_RESERVE={settings.fd_reserve}: RLIMIT_NOFILE is {soft}, which "
                    f"leaves fewer than {MIN_CLIENT_DESCRIPTORS} descriptors for clients; raise "
                    "the limit (ulimit -n) or lower the reserve"
                )
        self.open: dict[str, int] = {}
        self._unlogged: dict[str, int] = {}
        self._last_log = 0.0

    def admit(self, transport: asyncio.BaseTransport) -> str | None:
        """The key a new connection counts under ("" when under none), or None: refuse it."""
        if self.fd_ceiling is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.fileno() >= self.fd_ceiling:
                self.refused(DESCRIPTORS, "")
                return None
        if not self.per_ip:
            return ""
        peer = transport.get_extra_info("peername")
        if not isinstance(peer, tuple) or not peer:
            return ""  # not TCP (a Unix socket): nobody to count
        host = str(peer[0])
        if self.trusted and is_trusted(host, self.trusted):
            return ""  # a proxy carries many customers; their requests are limited one by one
        key = client_key(host, None, self.trusted, self.ipv6_prefix)
        held = self.open.get(key, 0)
        if held >= self.per_ip:
            self.refused(PER_ADDRESS, key)
            return None
        self.open[key] = held + 1
        return key

    def release(self, key: str) -> None:
        if not key:
            return
        held = self.open.get(key, 0) - 1
        if held > 0:
            self.open[key] = held
        else:
            self.open.pop(key, None)

    def refused(self, reason: str, key: str) -> None:
        """Count a refused (or, for headers too slow, closed) connection; log now and then."""
        self.metrics.connections_closed.labels(reason).inc()
        self._unlogged[reason] = self._unlogged.get(reason, 0) + 1
        now = time.monotonic()
        if now - self._last_log >= REFUSAL_LOG_S:
            self._last_log = now
            counts = ", ".join(f"{n} {r}" for r, n in sorted(self._unlogged.items()))
            self._unlogged.clear()
            log.warning(
                "closed connections (%s)%s; open per address: %d addresses, most %d",
                counts,
                f", last from {key}" if key else "",
                len(self.open),
                max(self.open.values(), default=0),
            )


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol with the guard's admission and a deadline for a request's
    headers: from the connection's opening, and from the first bytes of each later request.
    A request that arrives whole in one read (nearly all do) costs one comparison more."""

    __slots__ = ("_client", "_guard", "_headers_due", "_headers_handle")

    def __init__(self, manager: Any, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._client: str | None = None  # None: not admitted
        self._headers_due: float | None = None
        self._headers_handle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        client = self._guard.admit(transport)
        if client is None:
            transport.close()  # before aiohttp starts anything for it
            return
        self._client = client
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._client is not None:
            self._guard.release(self._client)
            self._client = None
        if self._headers_handle is not None:
            self._headers_handle.cancel()
            self._headers_handle = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._client is None:
            return  # refused: already closing
        count = self._request_count
        super().data_received(data)
        if self._request_count != count:
            self._headers_due = None  # a request's headers are complete
        elif self._headers_due is None and self._idle():
            self._await_headers()  # the first bytes of a request: its headers are now due

    def _idle(self) -> bool:
        """Waiting for the next request (not handling one, nor reading its body)."""
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    def _await_headers(self) -> None:
        loop = self._loop
        self._headers_due = loop.time() + self._guard.header_timeout_s
        if self._headers_handle is None:
            self._headers_handle = loop.call_at(self._headers_due, self._check_headers)

    def _check_headers(self) -> None:
        self._headers_handle = None
        due = self._headers_due
        if due is None or self.transport is None:
            return
        if self._loop.time() < due:  # a later request's deadline: wait for that one
            self._headers_handle = self._loop.call_at(due, self._check_headers)
            return
        self._headers_due = None
        if self._idle():
            self._guard.refused(HEADER_TIMEOUT, self._client or "")
            self.force_close()


class GuardedServer(web.Server):
    """aiohttp's protocol factory, making `GuardedHandler`s."""

    def __init__(self, server: web.Server, guard: ConnectionGuard) -> None:
        # The application's own server, as AppRunner built it, with its request handler,
        # request factory and handler arguments (keep-alive, access log...).
        super().__init__(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )
        self.guard = guard

    def __call__(self) -> RequestHandler:
        return GuardedHandler(self, loop=self._loop, guard=self.guard, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An AppRunner whose connections pass the guard."""

    __slots__ = ("_guard",)

    def __init__(self, app: web.Application, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._guard = guard

    async def _make_server(self) -> web.Server:
        return GuardedServer(await super()._make_server(), self._guard)
