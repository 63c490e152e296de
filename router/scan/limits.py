"""Rate limits for the public endpoints: token buckets per client address and per visitor, kept in
each worker's memory (so with N workers a client gets up to N times the rate, at worst).

The client address is the TCP peer, or, when the peer is one of HUOMA_TRUSTED_PROXIES, the
right-most address in X-Forwarded-For that is not itself a trusted proxy (the left-most parts
are whatever the client chose to send).

Every per-address limit (rate buckets, failed admin logins, open connections) is keyed by
`client_key`: an IPv4 address is itself, but one IPv6 client holds a whole network (a /64 per
household or phone is the norm, and any address in it is theirs to use), so an IPv6 address
counts as its HUOMA_CLIENT_IPV6_PREFIX network; an IPv4-mapped IPv6 address counts as its IPv4
address.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Sequence

from router.errors import HuomaError

# Buckets kept per limiter; the least recently seen are forgotten first (a forgotten client
# starts again with a full bucket, which errs on the customer's side).
MAX_BUCKETS = 100_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RateLimited(HuomaError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


# A customer switching stores by hand faster than HUOMA_RATE_PICKS_* allows (429 picks_limited).
TOO_MANY_PICKS = "您切换门店太频繁，请 {s} 秒后再试"


class PicksLimited(RateLimited):
    """Stores picked by hand too often (HUOMA_RATE_PICKS_*, a far lower limit than scans): its
    own code, so the customer's page can say so honestly and keep the QR the customer has."""

    code = "picks_limited"


class Buckets:
    """`per_minute` requests a minute per key on average, up to `burst` at once."""

    __slots__ = ("_buckets", "burst", "rate")

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def waiting(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` has a token again (0.0: it has one); spends nothing."""
        if self.rate <= 0:
            return 0.0
        found = self._buckets.get(key)
        if found is None:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens = min(self.burst, found[0] + (now - found[1]) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, key: str, now: float | None = None) -> float:
        """0.0 when the request may pass (a token is spent), else seconds until it could."""
        if self.rate <= 0:
            return 0.0  # a limit of 0 means: no limit
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return wait


def parse_networks(raw: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in raw if n.strip())


def client_address(peer: str | None, forwarded: str | None, trusted: tuple[Network, ...]) -> str:
    """The address to limit by: the peer, unless a trusted proxy forwarded the request."""
    if not peer:
        return "unknown"
    if not trusted or not forwarded or not is_trusted(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",")]):
        if not hop:
            continue
        if not is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage in the header: the proxy itself is what we know
    return peer


def is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket shows an IPv4 proxy as ::ffff:a.b.c.d
    return any(ip in net for net in trusted)


def client_key(
    peer: str | None, forwarded: str | None, trusted: tuple[Network, ...], ipv6_prefix: int
) -> str:
    """The key every per-address limit counts a request by: its client address
    (`client_address`), an IPv6 one widened to its network of `ipv6_prefix` bits."""
    address = client_address(peer, forwarded, trusted)
    if ":" not in address:
        return address  # IPv4 (or "unknown"): already in its one written form
    return _ipv6_key(address, ipv6_prefix)


# Parsing and masking cost microseconds; one busy IPv6 client sends many requests in a row.
@functools.lru_cache(maxsize=4096)
def _ipv6_key(address: str, ipv6_prefix: int) -> str:
    try:
        ip = ipaddress.IPv6Address(address.partition("%")[0])  # no zone (fe80::1%eth0)
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))


def refuse(wait: float, what: str, zh: str = "") -> None:
    """Raise the 429 for a wait of `wait` seconds (nothing when there is none); with `zh`, the
    customer-facing Chinese first, and the picks' own code."""
    if wait > 0:
        retry = max(1, math.ceil(wait))
        english = f"too many {what}; try again in {retry} s"
        if zh:
            raise PicksLimited(f"{zh.format(s=retry)} / {english}", retry)
        raise RateLimited(english, retry)


def check(buckets: Buckets, key: str, what: str, zh: str = "") -> None:
    refuse(buckets.take(key), what, zh)
