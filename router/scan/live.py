"""A worker's live state beside its immutable catalogue: display leases, reported member counts,
and sticky visitor tokens. Everything here is local to one process and touched only from its
event loop; PostgreSQL stays the authority (leases are granted there, counts are stored there).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

from router.scan.catalogue import Group


class LeaseBook:
    """Displays this worker may still show, per group.

    A group is shown only out of displays leased from PostgreSQL (`lease_displays`), so the
    displays of a group across all workers never exceed its cap. When a lease runs low, or a group
    is about to be needed, its key goes into `wanted` and `wake` is set; a background task leases
    in bulk and calls `grant`.

    Block size adapts per group: a lease takes a database round trip (tens of milliseconds on a
    busy host), so a group that needs another block within a second of the last one gets twice
    as many next time, up to `MAX_GROWTH` times the base block; a slow group shrinks back.
    """

    MAX_GROWTH = 16
    # Refills closer together than this mean the group is busy: grow its block.
    BUSY_S = 1.0

    def __init__(self, block: int) -> None:
        self.block = block
        self.max_block = block * self.MAX_GROWTH
        self._left: dict[int, int] = {}
        self._size: dict[int, int] = {}
        self._last_grant: dict[int, float] = {}
        self._exhausted: dict[int, int] = {}  # group -> the cap at which PostgreSQL said no more
        self.wanted: set[int] = set()
        self.wake = asyncio.Event()

    def left(self, pk: int) -> int:
        return self._left.get(pk, 0)

    def block_for(self, pk: int) -> int:
        return self._size.get(pk, self.block)

    def exhausted(self, group: Group) -> bool:
        """The group's cap is used up (an upload that raises the cap makes it usable again)."""
        return self._exhausted.get(group.pk) == group.display_cap

    def want_next(self, pk: int, after: int) -> None:
        """Lease `pk` ahead of need, as generously as the busy group `after` it replaces."""
        if pk not in self._size:
            self._size[pk] = self._size.get(after, self.block)
        self.want(pk)

    def want(self, pk: int) -> None:
        if pk not in self.wanted:
            self.wanted.add(pk)
            self.wake.set()

    def spend(self, pk: int) -> None:
        left = self._left[pk] - 1
        self._left[pk] = left
        # Ask for more while half a block is left, so the hot path rarely finds a group dry.
        if left < max(1, self._size.get(pk, self.block) // 2):
            self.want(pk)

    def grant(self, pk: int, displays: int, cap: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if displays > 0:
            self._left[pk] = self._left.get(pk, 0) + displays
            self._exhausted.pop(pk, None)
            size = self._size.get(pk, self.block)
            last = self._last_grant.get(pk)
            if last is not None and now - last < self.BUSY_S:
                size = min(size * 2, self.max_block)
            elif last is not None:
                size = max(self.block, size // 2)
            self._size[pk] = size
            self._last_grant[pk] = now
        elif self._left.get(pk, 0) == 0:
            self._exhausted[pk] = cap

    def take_wanted(self) -> list[tuple[int, int]]:
        """(group, displays to ask for), sorted by group so that lock order is stable."""
        wanted = sorted(self.wanted)
        self.wanted.clear()
        self.wake.clear()
        return [(pk, self._size.get(pk, self.block)) for pk in wanted]

    def held(self) -> dict[int, int]:
        """Unspent displays per group: what a graceful shutdown returns."""
        return {pk: n for pk, n in self._left.items() if n > 0}

    def drop(self, pks: list[int]) -> None:
        for pk in pks:
            self._left.pop(pk, None)


_VISITOR_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
# What StickySigner.sign makes: base64url of the body, a dot, base64url of a 12-byte MAC.
_STICKY_RE = re.compile(r"[A-Za-z0-9_-]{1,180}\.[A-Za-z0-9_-]{16}")


def new_visitor_id() -> str:
    """128 random bits: carries nothing about the person."""
    return secrets.token_urlsafe(16)


def valid_visitor_id(value: str | None) -> bool:
    return value is not None and _VISITOR_RE.fullmatch(value) is not None


def well_formed_sticky(value: str | None) -> bool:
    """A token in the form this service signs. Anything else is never echoed back: the answer
    may carry the token in a Set-Cookie header, and a client-chosen one would inject into it."""
    return value is not None and _STICKY_RE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Sticky:
    store_id: str
    group_pk: int
    qr_version: int
    until: int  # Unix seconds


class StickySigner:
    """Signed, self-contained sticky tokens: any worker can honour one without shared state.

    A token binds a visitor, a store and the group (and QR version) shown, until a time.
    """

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"sticky:" + secret).digest()

    def _mac(self, visitor: str, body: bytes) -> str:
        # Keyed BLAKE2b is a MAC by design and costs a third of hmac's Python-level HMAC-SHA256.
        mac = hashlib.blake2b(
            visitor.encode() + b"|" + body, key=self._key, digest_size=12
        ).digest()
        return base64.urlsafe_b64encode(mac).decode()

    def sign(self, visitor: str, sticky: Sticky) -> str:
        body = f"{sticky.group_pk}.{sticky.qr_version}.{sticky.until}.{sticky.store_id}".encode()
        data = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{data}.{self._mac(visitor, body)}"

    def verify(self, visitor: str, token: str | None, now: float) -> Sticky | None:
        if not token or len(token) > 200 or "." not in token:
            return None
        data, _, mac = token.rpartition(".")
        try:
            body = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(visitor, body)):
            return None
        try:
            pk, version, until, store_id = body.decode().split(".", 3)
            sticky = Sticky(store_id, int(pk), int(version), int(until))
        except (UnicodeDecodeError, ValueError):
            return None
        return sticky if sticky.until > now else None


@dataclass(slots=True)
class LiveState:
    leases: LeaseBook
    sticky: StickySigner
    # Member counts reported after the catalogue was built (group -> count), newest wins.
    members: dict[int, int] = field(default_factory=dict)

    def usable(self, g: Group, now: float, margin_s: float, *, spends_display: bool = True) -> bool:
        """May `g` be handed out now: the one rule, used by the decision, sticky repeats and
        start-up leasing.

        Not when its member count (a reported one wins over the catalogue's) has reached its
        capacity, nor when it expires within `margin_s` seconds (a customer needs time to join),
        nor when its display cap is used up. The one deliberate exception is a sticky repeat
        (`spends_display=False`): showing a visitor the group they were already shown spends no
        display, so the display cap does not apply to it; whether this worker holds a leased
        display is the caller's concern, not usability.
        """
        count = self.members.get(g.pk, g.member_count)
        if count is not None and count >= g.capacity:
            return False
        if g.expired(now, margin_s):
            return False
        return not (spends_display and self.leases.exhausted(g))
