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

    A group is shown only out of displays leased from PostgreSQL (one locking statement), so the
    displays of a group across all workers never exceed its cap. Two ways in:

    - ahead of need: when a lease runs low, or a group is about to be needed, its key goes into
      `wanted` and `wake` is set; a background task leases in bulk and calls `grant`;
    - on need: a scan that finds none of its store's usable groups held here awaits `wait`
      (bounded); concurrent waiters on one group are counted into `urgent` and leased together
      in one statement, as many displays as there are waiters.

    Block size adapts per group: a group that needs another block within a second of the last
    gets twice as many next time, up to `MAX_GROWTH` times the base block, and a slow one shrinks
    back. A group first leased by waiting scans starts at `first` (1), so only a busy group one
    worker has to itself grows; a group another worker leased since this worker's last grant
    (contended) drops back to one display, and no block is larger than an eighth of what its cap
    has left, so the last displays of a group are not hoarded where other workers need them.
    Displays not spent for a while are handed back (`take_idle`), so other workers and hosts can
    use them.
    """

    MAX_GROWTH = 16
    # Refills closer together than this mean the group is busy: grow its block.
    BUSY_S = 1.0
    # A group PostgreSQL said is at its cap is asked again after this long at the earliest:
    # another worker may have given displays back.
    FULL_RECHECK_S = 1.0
    # No block is larger than this fraction of what a group's cap has left.
    NEAR_CAP = 8

    def __init__(self, block: int, first: int | None = None) -> None:
        self.block = block
        # A group's first block here: `block`, or (when scans may wait for a lease) 1, so that
        # blocks grow only where one worker has a busy group to itself.
        self.first = block if first is None else first
        self.max_block = block * self.MAX_GROWTH
        self._left: dict[int, int] = {}
        self._size: dict[int, int] = {}
        self._last_grant: dict[int, float] = {}
        self._used_at: dict[int, float] = {}  # group -> when a display was last granted or spent
        self._seen: dict[int, int] = {}  # group -> its displays_leased as this worker last saw it
        # group -> (the cap at which PostgreSQL said no more, when)
        self._full: dict[int, tuple[int, float]] = {}
        self.wanted: set[int] = set()
        self.wake = asyncio.Event()
        # Scans waiting for a group's displays: how many, and the one future they all await.
        self.urgent: dict[int, int] = {}
        self.urgent_wake = asyncio.Event()
        self._ready: dict[int, asyncio.Future[bool]] = {}
        # Lease and return statements in flight (the runtime's tasks): a stop waits for them.
        self.in_flight: set[asyncio.Task[None]] = set()

    def left(self, pk: int) -> int:
        return self._left.get(pk, 0)

    def block_for(self, pk: int) -> int:
        return self._size.get(pk, self.first)

    def exhausted(self, group: Group, now: float | None = None) -> bool:
        """The group's cap is used up as far as this worker knows: nothing left here, and
        PostgreSQL said so less than `FULL_RECHECK_S` ago (an upload that raises the cap makes
        it usable at once)."""
        full = self._full.get(group.pk)
        if full is None or full[0] != group.display_cap or self._left.get(group.pk, 0) > 0:
            return False
        now = time.monotonic() if now is None else now
        return now - full[1] < self.FULL_RECHECK_S

    def want_next(self, pk: int, after: int) -> None:
        """Lease `pk` ahead of need, as generously as the busy group `after` it replaces; not
        while `after` is contended (its blocks are small: other workers need the displays)."""
        size = self._size.get(after, self.first)
        if size < self.block:
            return
        if pk not in self._size:
            self._size[pk] = size
        self.want(pk)

    def want(self, pk: int) -> None:
        if pk not in self.wanted:
            self.wanted.add(pk)
            self.wake.set()

    def spend(self, pk: int, now: float | None = None) -> None:
        left = self._left[pk] - 1
        self._left[pk] = left
        self._used_at[pk] = time.monotonic() if now is None else now
        # Ask for more while half a block is left, so the hot path rarely finds a group dry
        # (not for a one-display block: a contended group is leased as scans need it).
        if left < self._size.get(pk, self.first) // 2:
            self.want(pk)

    def grant(
        self,
        pk: int,
        displays: int,
        cap: int,
        now: float | None = None,
        *,
        asked: int | None = None,
        leased: int | None = None,
    ) -> None:
        """PostgreSQL granted `displays` of the `asked`; the group's displays_leased is now
        `leased` (all workers). Wakes the scans waiting for the group."""
        now = time.monotonic() if now is None else now
        if displays > 0:
            self._left[pk] = self._left.get(pk, 0) + displays
            self._used_at[pk] = now
            self._full.pop(pk, None)
            size = self._size.get(pk, self.first)
            last = self._last_grant.get(pk)
            seen = self._seen.get(pk)
            if leased is not None and seen is not None and leased - displays > seen:
                size = 1  # another worker leased it meanwhile: contended, lease as scans need
            elif last is not None and now - last < self.BUSY_S:
                size = min(max(size * 2, 2), self.max_block)
            elif last is not None:
                size = max(1, size // 2)
            if leased is not None:
                # Near the cap, small blocks: the last displays of a group go to whichever worker's
                # scans need them, not into one worker's block.
                size = max(1, min(size, (cap - leased) // self.NEAR_CAP))
            self._size[pk] = size
            self._last_grant[pk] = now
        if leased is not None:
            self._seen[pk] = leased
        if (asked is not None and displays < asked) or (
            displays == 0 and self._left.get(pk, 0) == 0
        ):
            self._full[pk] = (cap, now)
        ready = self._ready.pop(pk, None)
        if ready is not None and not ready.done():
            ready.set_result(True)

    def failed(self, pks: list[int]) -> None:
        """A lease statement for `pks` failed: their waiters stop waiting (nothing granted)."""
        for pk in pks:
            ready = self._ready.pop(pk, None)
            if ready is not None and not ready.done():
                ready.set_result(False)

    async def wait(self, pk: int, within: float) -> bool:
        """Wait at most `within` seconds for a lease of `pk` taken for this scan and the others
        waiting with it. True: PostgreSQL answered (whatever it granted); False: it did not
        answer in time or failed, and the scan should not wait again."""
        ready = self._ready.get(pk)
        if ready is None:
            ready = self._ready[pk] = asyncio.get_running_loop().create_future()
        self.urgent[pk] = self.urgent.get(pk, 0) + 1
        self.urgent_wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(ready), within)
        except TimeoutError:
            return False
        finally:
            n = self.urgent.get(pk, 0) - 1
            if n > 0:
                self.urgent[pk] = n
            else:
                self.urgent.pop(pk, None)

    def take_urgent(self) -> list[tuple[int, int]]:
        """(group, displays to ask for) for the groups scans are waiting for, sorted by group:
        as many displays as waiters, no more (a group scans wait for may be wanted by other
        workers too; a busy one this worker has to itself grows its block through refills)."""
        taken = sorted(pk for pk, n in self.urgent.items() if n > 0 and pk in self._ready)
        self.urgent_wake.clear()
        self.wanted.difference_update(taken)
        return [(pk, self.urgent[pk]) for pk in taken]

    def pending(self) -> set[int]:
        """Groups whose waiters have not been answered yet."""
        return set(self._ready)

    def take_wanted(self) -> list[tuple[int, int]]:
        """(group, displays to ask for), sorted by group so that lock order is stable."""
        wanted = sorted(self.wanted)
        self.wanted.clear()
        self.wake.clear()
        return [(pk, self._size.get(pk, self.first)) for pk in wanted]

    def take_idle(self, now: float, idle_s: float) -> dict[int, int]:
        """Take out the displays of groups nobody spent for `idle_s` seconds: to be handed back.
        (`put_back` them if that fails.)"""
        idle = {
            pk: n
            for pk, n in self._left.items()
            if n > 0 and now - self._used_at.get(pk, 0.0) >= idle_s and pk not in self._ready
        }
        for pk in idle:
            del self._left[pk]
            self._size.pop(pk, None)
            self._last_grant.pop(pk, None)
        return idle

    def take_all(self) -> dict[int, int]:
        """Take out every unspent display: what a graceful stop returns."""
        held = self.held()
        for pk in held:
            del self._left[pk]
        return held

    def returned(self, held: dict[int, int]) -> None:
        """`held` went back to PostgreSQL: lower what this worker saw leased by as much, so its
        own return does not look like another worker's lease."""
        for pk, n in held.items():
            if pk in self._seen:
                self._seen[pk] -= n

    def put_back(self, held: dict[int, int]) -> None:
        """Displays taken out to be returned that could not be: still this worker's."""
        for pk, n in held.items():
            self._left[pk] = self._left.get(pk, 0) + n

    def held(self) -> dict[int, int]:
        """Unspent displays per group."""
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

    def unheld(self, groups: tuple[Group, ...], now: float, margin_s: float) -> Group | None:
        """The first usable group this worker holds no display of, if no usable group before it
        is held here: what a scan that found nothing to show may wait for."""
        book = self.leases
        for g in groups:
            if not self.usable(g, now, margin_s):
                continue
            if book.left(g.pk) > 0:
                return None
            return g
        return None
