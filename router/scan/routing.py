"""The scan decision: which store and which group a customer gets. Pure: no I/O, no HTTP.

Precedence: a store the customer picked; else a pinned entry code's store (when the customer is
near it, or gave no location); else a service area containing the customer; else the nearest store
within the distance limit. Then the store's first usable group.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from geo.coords import Coord, CoordError, CoordSystem, to_wgs84
from geo.distance import haversine_m
from geo.providers import Provider
from router.errors import BadInput, NotFound
from router.flags import FlagError, parse_flag
from router.scan.catalogue import Catalogue, Group, GroupKind, Store
from router.scan.live import LiveState, Sticky, valid_visitor_id, well_formed_sticky

_ENTRY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_PARAM_LEN = 64
# The largest accuracy a location can claim, metres (Earth's circumference is 40,000 km).
MAX_ACCURACY_M = 20_000_000.0
# How many of the nearest stores a store with nothing to show looks through for one that has a
# group (bounded: the hot path never scans the whole catalogue).
SEND_ON_CANDIDATES = 16


class Outcome(StrEnum):
    """What a scan answered (`status` in the answer, `outcome` in its event)."""

    OK = "ok"  # a store and one of its groups
    FALLBACK = "fallback"  # the store has no usable group: its fallback, or the brand's
    NO_STORE_NEARBY = "no_store_nearby"  # farther than the distance limit from every store
    NO_GROUP = "no_group"  # nothing usable and no fallback uploaded
    NO_LOCATION = "no_location"  # no coordinates, no pinned or picked store
    BAD_INPUT = "bad_input"  # the query was refused (400): an event, never an answer's status


class MatchedBy(StrEnum):
    """Why the answer's store was chosen, in order of precedence."""

    PICKED = "picked"  # the customer picked it by hand
    ENTRY = "entry"  # the entry code is pinned to it
    AREA = "area"  # a service area containing the customer
    NEAREST = "nearest"  # the nearest store within the distance limit
    SENT_ON = "sent_on"  # the store chosen had nothing to show: the nearest one that has


class Shows(StrEnum):
    """What the answer's QR code is (`shows`): the page's caption says exactly that."""

    GROUP = "group"  # a store's group
    STAFF = "staff"  # the store's own fallback (a staff member's contact)
    BRAND = "brand"  # the brand's fallback group


class SentOn(StrEnum):
    """Why the answer is not the store the customer asked about (`sent_on.reason`)."""

    NO_GROUP = "no_group"  # the store had no usable group and no fallback of its own


class RouteQuery(NamedTuple):
    point: Coord | None  # as the client sent it, in its own system
    accuracy_m: float | None
    entry: str | None
    store_id: str | None
    visitor: str | None = None
    sticky: str | None = None
    renew: bool = False  # the page says it is renewing the link of the group on its screen


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """The settings a scan decision reads; each field is the routing setting of the same name."""

    max_distance_m: float
    alternatives: int
    coarse_accuracy_m: float
    pin_max_distance_m: float
    expiry_margin_s: float = 3600.0
    sticky_s: float = 86400.0

    @classmethod
    def from_section(cls, routing: Mapping[str, Any]) -> RoutePolicy:
        """The policy from the settings' routing section (`Settings.section("routing")`); a field
        missing from the section is a KeyError, the section's other settings are not policy."""
        return cls(**{f.name: routing[f.name] for f in fields(cls)})


# What JavaScript puts in a URL for a value it does not have: String(null), String(undefined),
# String(NaN) and ''. Web views send them (iOS ones give acc=null when the accuracy is unknown);
# each of them means "not given", for every parameter.
_MISSING = frozenset({"", "null", "undefined", "nan"})


def _given(query: Mapping[str, str], name: str) -> str | None:
    """A parameter's text, or None when it is absent or one of JavaScript's spellings of none."""
    raw = query.get(name)
    if raw is None or (len(raw) <= 9 and raw.lower() in _MISSING):
        return None
    return raw


def _number(query: Mapping[str, str], name: str) -> float | None:
    raw = _given(query, name)
    if raw is None:
        return None
    if len(raw) > _MAX_PARAM_LEN:
        raise BadInput(f"{name} is too long", code="bad_coordinates")
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name}={raw!r} is not a number", code="bad_coordinates") from None
    return value


def valid_entry(entry: str) -> bool:
    """An entry code as the funnel records it: 1-64 letters, digits, '-' or '_'."""
    return _ENTRY_RE.fullmatch(entry) is not None


# What the page may say its fix came from (`src`): the browser's geolocation is a GPS fix
# (WGS-84, never shifted), wx.getLocation's gcj02 is WeChat's, whose shift covers Hong Kong and
# Macau as Tencent's map does (geo/providers.py). Any provider word is accepted.
_SOURCE_ALIASES = {"browser": Provider.GPS, "geolocation": Provider.GPS}


def _source(query: Mapping[str, str]) -> Provider | None:
    raw = _given(query, "src")
    if raw is None:
        return None
    raw = raw[:_MAX_PARAM_LEN]
    source = _SOURCE_ALIASES.get(raw.strip().lower())
    if source is not None:
        return source
    try:
        return Provider.parse(raw)
    except CoordError:
        raise BadInput(
            f"src={raw[:20]!r} names no coordinate source; use wechat, gps or a provider"
            " (amap, tencent, baidu)",
            code="bad_coord_source",
        ) from None


def parse_route_query(query: Mapping[str, str]) -> RouteQuery:
    """Validate /route's query parameters; every problem is a BadInput with a stable code.

    Every parameter is optional; a missing one and JavaScript's null, undefined, NaN or an empty
    value are the same (`_given`). lat and lng come together: one without the other is a 400.
    """
    lat = _number(query, "lat")
    lng = _number(query, "lng")
    point = None
    if lat is not None or lng is not None:
        if lat is None or lng is None:
            absent = "lng" if lng is None else "lat"
            raise BadInput(
                f"lat and lng must be given together; {absent} is missing",
                code="missing_coordinate",
            )
        source = _source(query)
        raw_system = _given(query, "coord")
        try:
            if raw_system is None:
                system = source.system if source is not None else CoordSystem.WGS84
            else:
                system = CoordSystem.parse(raw_system[:_MAX_PARAM_LEN])
        except CoordError as exc:
            raise BadInput(str(exc), code="bad_coord_system") from None
        try:
            point = (
                source.coord(lat, lng, system) if source is not None else Coord(lat, lng, system)
            )
        except CoordError as exc:
            raise BadInput(str(exc), code="bad_coordinates") from None
    accuracy: float | None = None
    raw_acc = _given(query, "acc")
    if raw_acc is not None:
        try:
            accuracy = float(raw_acc[:_MAX_PARAM_LEN])
        except ValueError:
            raise BadInput(f"acc={raw_acc[:20]!r} is not a number", code="bad_accuracy") from None
        if not (math.isfinite(accuracy) and 0.0 <= accuracy <= MAX_ACCURACY_M):
            # (Bounded: the event stores it, and a fix worse than this says nothing anyway.)
            raise BadInput(
                f"acc must be between 0 and {MAX_ACCURACY_M:.0f} metres", code="bad_accuracy"
            )
    entry = _given(query, "entry")
    if entry is not None and not valid_entry(entry):
        raise BadInput("entry must be 1-64 letters, digits, '-' or '_'", code="bad_entry")
    store_id = _given(query, "store")
    if store_id is not None and len(store_id) > _MAX_PARAM_LEN:
        raise BadInput("store is too long", code="bad_store")
    visitor = _given(query, "vid")
    if visitor is not None and not valid_visitor_id(visitor):
        raise BadInput("vid must be 8-64 letters, digits, '-' or '_'", code="bad_visitor")
    sticky = _given(query, "stk")
    if sticky is not None and not well_formed_sticky(sticky):
        raise BadInput("stk is not a token this service gave out", code="bad_sticky")
    renew = False
    raw_renew = _given(query, "renew")
    if raw_renew is not None:
        try:
            renew = parse_flag(raw_renew[:_MAX_PARAM_LEN])
        except FlagError as exc:
            raise BadInput(f"renew: {exc}", code="bad_renew") from None
    return RouteQuery(point, accuracy, entry, store_id, visitor, sticky, renew)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteResult:
    """One scan's decision, built by keyword."""

    status: Outcome
    store: Store | None
    group: Group | None  # the store's group, its fallback or the brand's (by `status`)
    distance_m: float | None  # great-circle metres from the customer to `store`
    alternatives: tuple[tuple[Store, float], ...]  # next-nearest stores and their metres
    coarse: bool  # the fix's accuracy is worse than the policy's coarse limit
    matched_by: MatchedBy | None
    visitor: str = ""
    sticky: str | None = None
    spent: bool = False  # a display was spent on this answer (not a sticky repeat)
    # The group the visitor's valid sticky token holds at this store, answered again: not a new
    # scan or showing (its event is a repeat or a renewal, `ScanService.scan`).
    repeat: bool = False
    # No dead end: the store asked for had nothing to show, so the answer is another store's
    # group (`sent_from` is the store the customer asked about), or the brand's fallback.
    sent_from: Store | None = None
    reason: SentOn | None = None
    campaign_json: bytes = b"null"  # the entry code's campaign copy, serialized (or null)

    @property
    def shows(self) -> Shows | None:
        """What the QR on the answer is, so the page's caption is true to it."""
        g = self.group
        if g is None:
            return None
        if g.kind is GroupKind.GROUP:
            return Shows.GROUP
        return Shows.BRAND if g.store_id is None else Shows.STAFF

    def render(self, group_json: bytes) -> bytes:
        """The JSON answer, spliced from fragments serialized when the catalogue was built and
        the group's object of the moment (`QrLinks.fragment`: its link expires)."""
        store = self.store
        d = self.distance_m
        parts = [
            _STATUS_JSON[self.status],
            b',"store":',
            store.json if store is not None else b"null",
            b',"distance_m":',
            b"null" if d is None else b"%d" % round(d),
            b',"group":',
            group_json,
            b',"alternatives":[',
            b",".join(
                [b'{"store":%s,"distance_m":%d}' % (s.json, round(m)) for s, m in self.alternatives]
            ),
            b'],"coarse":',
            b"true" if self.coarse else b"false",
            b',"matched_by":',
            _MATCHED_JSON[self.matched_by],
            b',"visitor":',
            orjson.dumps(self.visitor),
            b',"sticky":',
            orjson.dumps(self.sticky),
            b',"shows":',
            _SHOWS_JSON[self.shows],
            b',"campaign":',
            self.campaign_json,
            b',"sent_on":',
            b"null"
            if self.sent_from is None
            else b'{"from":%s,"reason":%s}'
            % (self.sent_from.json, orjson.dumps(self.reason or SentOn.NO_GROUP)),
            _MESSAGE_JSON[self.status],
        ]
        return b"".join(parts)


_MESSAGES = {
    Outcome.OK: "Long-press the QR code to join the group.",
    Outcome.FALLBACK: "Long-press the QR code to contact the store.",
    Outcome.NO_STORE_NEARBY: "No store is near this location; pick a store instead.",
    Outcome.NO_GROUP: "This store has no group open right now; please ask the staff.",
    Outcome.NO_LOCATION: "No location was given; pick a store.",
}
_STATUS_JSON = {k: b'{"status":' + orjson.dumps(k.value) for k in _MESSAGES}
_MESSAGE_JSON = {k: b',"message":' + orjson.dumps(v) + b"}" for k, v in _MESSAGES.items()}
_SHOWS_JSON: dict[Shows | None, bytes] = {None: b"null"} | {k: orjson.dumps(k.value) for k in Shows}
_MATCHED_JSON: dict[MatchedBy | None, bytes] = {None: b"null"} | {
    m: orjson.dumps(m.value) for m in MatchedBy
}


def pick_group(store: Store, now: float, live: LiveState, margin_s: float) -> Group | None:
    """The store's active group: the first in pool order that is usable (`LiveState.usable`)
    and that this worker holds a leased display of. Spends it.

    The first usable group without a lease here is asked for in the background (only that one:
    asking for every group up to one held leased displays nobody here was going to show); when
    nothing is held, the scan may wait for it (`ScanService.answer`). The group after the one
    chosen is leased ahead of need while its block is large, so rotation does not wait on the
    database.
    """
    book = live.leases
    chosen: Group | None = None
    unheld: Group | None = None
    for g in store.groups:
        if not live.usable(g, now, margin_s):
            continue
        if chosen is not None:
            if book.left(g.pk) == 0:
                book.want_next(g.pk, chosen.pk)
            break
        if book.left(g.pk) > 0:
            chosen = g
        elif unheld is None:
            unheld = g
    if unheld is not None:
        book.want(unheld.pk)
    if chosen is not None:
        book.spend(chosen.pk)
    return chosen


def route(
    cat: Catalogue, q: RouteQuery, policy: RoutePolicy, now: float, live: LiveState
) -> RouteResult:
    """Decide the store and group for one scan (q.visitor must be set by the caller)."""
    # The customer's real position: the index, the areas and the stores' wgs_lat/wgs_lng are all
    # real positions, so distances are true on both sides of the Hong Kong and Macau borders.
    here = to_wgs84(q.point) if q.point is not None else None
    coarse = q.accuracy_m is not None and q.accuracy_m > policy.coarse_accuracy_m
    neighbours: list[tuple[Store, float]] = []
    if here is not None:
        found = cat.index.nearest(here.lat, here.lng, 1 + policy.alternatives)
        stores = cat.stores
        limit = policy.max_distance_m
        neighbours = [(stores[n.position], n.distance_m) for n in found if n.distance_m <= limit]
    store, distance, matched_by = _choose_store(cat, q, here, neighbours, policy)
    if store is not None and distance is None and here is not None:
        distance = haversine_m(here.lat, here.lng, store.wgs_lat, store.wgs_lng)
    alternatives = tuple((s, d) for s, d in neighbours if s is not store)[: policy.alternatives]

    visitor = q.visitor or ""
    entry = cat.entries.get(q.entry) if q.entry is not None else None
    campaign = entry.campaign_json if entry is not None else b"null"
    if store is None:
        # The last rung of the page's ladder: the brand's fallback group, when there is one.
        return RouteResult(
            status=Outcome.NO_LOCATION if here is None else Outcome.NO_STORE_NEARBY,
            store=None,
            group=cat.brand_fallback,
            distance_m=None,
            alternatives=alternatives,
            coarse=coarse,
            matched_by=None,
            visitor=visitor,
            sticky=q.sticky,
            campaign_json=campaign,
        )

    token = q.sticky
    spent = False
    group = _held_group(cat, store, visitor, q.sticky, now, live, policy)
    repeat = group is not None
    if group is None:
        group = pick_group(store, now, live, policy.expiry_margin_s)
        if group is not None:
            spent = True
            if policy.sticky_s > 0:
                until = int(now + policy.sticky_s)
                token = live.sticky.sign(
                    visitor, Sticky(store.store_id, group.pk, group.qr_version, until)
                )
    sent_from: Store | None = None
    if (
        group is None
        and (store.fallback is None or store.fallback.store_id is None)
        and not _has_usable(store, now, live, policy)
    ):
        # Nothing of its own to show: no dead end. The nearest other store within the distance
        # limit that has a group to give, else (below) the brand's fallback; the answer says why.
        other = _send_on(cat, store, visitor, q.sticky, now, live, policy)
        if other is not None:
            sent_from = store
            store, group, held = other
            repeat = held
            matched_by = MatchedBy.SENT_ON
            distance = (
                haversine_m(here.lat, here.lng, store.wgs_lat, store.wgs_lng)
                if here is not None
                else None
            )
            if not held:
                spent = True
                if policy.sticky_s > 0:
                    until = int(now + policy.sticky_s)
                    token = live.sticky.sign(
                        visitor, Sticky(store.store_id, group.pk, group.qr_version, until)
                    )
            alternatives = tuple((s, d) for s, d in alternatives if s is not store)
    if group is not None:
        status = Outcome.OK
    elif store.fallback is not None:
        group = store.fallback
        status = Outcome.FALLBACK
    else:
        status = Outcome.NO_GROUP
    return RouteResult(
        status=status,
        store=store,
        group=group,
        distance_m=distance,
        alternatives=alternatives,
        coarse=coarse,
        matched_by=matched_by,
        visitor=visitor,
        sticky=token,
        spent=spent,
        repeat=repeat,
        sent_from=sent_from,
        reason=SentOn.NO_GROUP if sent_from is not None else None,
        campaign_json=campaign,
    )


def _send_on(
    cat: Catalogue,
    empty: Store,
    visitor: str,
    sticky: str | None,
    now: float,
    live: LiveState,
    policy: RoutePolicy,
) -> tuple[Store, Group, bool] | None:
    """The store nearest to `empty` (within the distance limit) with a usable group, that group,
    and whether it is the visitor's held (sticky) group; spends a display when it is not. None
    when there is no such store, or when this worker holds no display of its groups yet (the
    scan may then wait for one: `send_on_store`)."""
    candidate = send_on_store(cat, empty, now, live, policy)
    if candidate is None:
        return None
    held = _held_group(cat, candidate, visitor, sticky, now, live, policy)
    if held is not None:
        return candidate, held, True
    group = pick_group(candidate, now, live, policy.expiry_margin_s)
    return None if group is None else (candidate, group, False)


def send_on_store(
    cat: Catalogue, empty: Store, now: float, live: LiveState, policy: RoutePolicy
) -> Store | None:
    """The store a scan at `empty` (nothing of its own to show) is sent on to: the nearest other
    store within the distance limit with a usable group, whether or not this worker holds a
    display of it yet."""
    found = cat.index.nearest(empty.wgs_lat, empty.wgs_lng, SEND_ON_CANDIDATES)
    for n in found:
        if n.distance_m > policy.max_distance_m:
            break
        candidate = cat.stores[n.position]
        if candidate is not empty and _has_usable(candidate, now, live, policy):
            return candidate
    return None


def _has_usable(store: Store, now: float, live: LiveState, policy: RoutePolicy) -> bool:
    """Whether any of the store's groups may be handed out (held here or not)."""
    return any(live.usable(g, now, policy.expiry_margin_s) for g in store.groups)


def _choose_store(
    cat: Catalogue,
    q: RouteQuery,
    here: Coord | None,
    neighbours: list[tuple[Store, float]],
    policy: RoutePolicy,
) -> tuple[Store | None, float | None, MatchedBy | None]:
    """The store by precedence: picked, pinned entry (near enough, or no location), service area,
    nearest within the limit. Its distance when already known (the nearest), and why. `here` is
    the customer's real (WGS-84) position."""
    if q.store_id is not None:
        store = cat.by_id.get(q.store_id)
        if store is None:
            raise NotFound(f"no store {q.store_id!r}", code="store_not_found")
        return store, None, MatchedBy.PICKED
    pinned = _pinned_store(cat, q.entry)
    if pinned is not None and (
        here is None
        or haversine_m(here.lat, here.lng, pinned.wgs_lat, pinned.wgs_lng)
        <= policy.pin_max_distance_m
    ):
        return pinned, None, MatchedBy.ENTRY
    if here is None:
        return None, None, None
    owners = cat.areas.containing(here.lat, here.lng)
    if owners:
        stores = cat.stores
        store = min(
            (stores[i] for i in owners),
            key=lambda s: haversine_m(here.lat, here.lng, s.wgs_lat, s.wgs_lng),
        )
        return store, None, MatchedBy.AREA
    if neighbours:
        return neighbours[0][0], neighbours[0][1], MatchedBy.NEAREST
    return None, None, None


def _held_group(
    cat: Catalogue,
    store: Store,
    visitor: str,
    sticky: str | None,
    now: float,
    live: LiveState,
    policy: RoutePolicy,
) -> Group | None:
    """The group a returning visitor was shown at this store, while it is still usable: shown
    again without spending a display (the sticky exception of `LiveState.usable`)."""
    if policy.sticky_s <= 0:
        return None
    held = live.sticky.verify(visitor, sticky, now)
    if held is None or held.store_id != store.store_id:
        return None
    g = cat.groups_by_pk.get(held.group_pk)
    if (
        g is not None
        and g.kind is GroupKind.GROUP
        and g.qr_version == held.qr_version
        and g.store_id == store.store_id
        and live.usable(g, now, policy.expiry_margin_s, spends_display=False)
    ):
        return g
    return None


def _pinned_store(cat: Catalogue, entry: str | None) -> Store | None:
    if entry is None:
        return None
    e = cat.entries.get(entry)
    if e is None or e.store_id is None:
        return None
    return cat.by_id.get(e.store_id)
