"""The scan as one framework-free call: limits, validation, the decision, the journal line and
the answer's bytes. The HTTP handler parses the request, calls `ScanService.scan` once and
renders what it returns; tests drive the whole scan here without HTTP."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from router.errors import BadInput
from router.metrics import Metrics
from router.scan.catalogue import CatalogueRef
from router.scan.journal import EventKind, Journal, ScanEvent
from router.scan.limits import TOO_MANY_PICKS, Buckets, RateLimited, check
from router.scan.live import LiveState, new_visitor_id
from router.scan.qr import QrLinks
from router.scan.routing import (
    Outcome,
    RoutePolicy,
    RouteQuery,
    RouteResult,
    parse_route_query,
    route,
    send_on_store,
)
from router.scan.search import city_counts, search_stores
from router.settings import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanAnswer:
    """What one scan answers: the JSON body, and the visitor and sticky values the client should
    keep (None: it already holds them, no cookie to set)."""

    body: bytes
    set_visitor: str | None
    set_sticky: str | None


class ScanService:
    """The customer-facing questions: a scan, and the store picker's lists.

    Holds what they need so the hot path looks nothing up. Raises `BadInput` (a query that cannot
    be answered; its event is journalled), `NotFound` (a picked store that does not exist) and
    `RateLimited` (429, with how long to wait).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        catalogue: CatalogueRef,
        live: LiveState,
        journal: Journal,
        metrics: Metrics,
    ) -> None:
        self.catalogue = catalogue
        self.live = live
        self.journal = journal
        self.metrics = metrics
        self.policy = RoutePolicy.from_section(settings.section("routing"))
        limits = settings.rate_limits()
        self.route_ip = Buckets(*limits["route_ip"])
        self.route_visitor = Buckets(*limits["route_visitor"])
        self.picker_ip = Buckets(*limits["picker_ip"])
        self.picks_visitor = Buckets(*limits["picks_visitor"])
        self.picks_ip = Buckets(*limits["picks_ip"])
        self.lease_wait_s = settings.lease_wait_s
        self.links = QrLinks(settings.secret.encode(), settings.base_url, settings.qr_link_ttl_s)

    def _limit(self, buckets: Buckets, key: str, what: str, zh: str = "") -> None:
        """Spend from `key`'s bucket, or refuse (429) and count the refusal."""
        try:
            check(buckets, key, what, zh)
        except RateLimited:
            self.metrics.outcome("rate_limited")
            raise

    def scan(
        self,
        query: Mapping[str, str],
        client: str,
        cookie_visitor: str | None = None,
        cookie_sticky: str | None = None,
    ) -> ScanAnswer:
        """Answer one scan (`GET /api/v1/route`'s query) from `client` (its address key), with
        the visitor id and sticky token its cookies carried, if any (already well-formed), out of
        the displays this worker holds: no wait (`answer` is the scan that may wait)."""
        q, new_visitor = self._begin(query, client, cookie_visitor, cookie_sticky)
        result = route(self.catalogue.current, q, self.policy, time.time(), self.live)
        return self._finish(q, result, new_visitor, cookie_visitor, cookie_sticky)

    async def answer(
        self,
        query: Mapping[str, str],
        client: str,
        cookie_visitor: str | None = None,
        cookie_sticky: str | None = None,
    ) -> ScanAnswer:
        """`scan`, except that a store none of whose usable groups this worker holds a display
        of waits for one: at most `lease_wait_s` in all, for a lease taken together with the
        other scans waiting (the one database wait on the scan path). When PostgreSQL does not
        answer in time, the next group held here, else the fallback, is answered at once."""
        q, new_visitor = self._begin(query, client, cookie_visitor, cookie_sticky)
        result = route(self.catalogue.current, q, self.policy, time.time(), self.live)
        if result.store is not None and not result.spent and not result.repeat:
            result = await self._wait_for_group(q, result)
        return self._finish(q, result, new_visitor, cookie_visitor, cookie_sticky)

    async def _wait_for_group(self, q: RouteQuery, result: RouteResult) -> RouteResult:
        store = result.store
        assert store is not None
        budget = self.lease_wait_s
        if budget <= 0:
            return result
        started = time.monotonic()
        margin = self.policy.expiry_margin_s
        while True:
            now = time.time()
            wanting = self.live.unheld(store.groups, now, margin)
            if wanting is None and result.sent_from is None and result.status is not Outcome.OK:
                # Nothing of its own to show: wait for the store the scan is sent on to.
                target = send_on_store(self.catalogue.current, store, now, self.live, self.policy)
                if target is not None:
                    wanting = self.live.unheld(target.groups, now, margin)
            left = budget - (time.monotonic() - started)
            if wanting is None or left <= 0:
                return result
            if not await self.live.leases.wait(wanting.pk, left):
                self.metrics.lease_waits.labels("timeout").inc()
                # PostgreSQL did not answer in time: whatever is held here now, else the fallback.
                return route(self.catalogue.current, q, self.policy, time.time(), self.live)
            result = route(self.catalogue.current, q, self.policy, time.time(), self.live)
            if result.spent:
                self.metrics.lease_waits.labels("ok").inc()
                return result

    def _begin(
        self,
        query: Mapping[str, str],
        client: str,
        cookie_visitor: str | None,
        cookie_sticky: str | None,
    ) -> tuple[RouteQuery, bool]:
        """Limits and validation: the query to route (its visitor set), and whether the visitor
        is new."""
        self._limit(self.route_ip, client, "scans from this address")
        try:
            q = parse_route_query(query)
        except BadInput:
            self.metrics.outcome(Outcome.BAD_INPUT)
            self.journal.append(
                ScanEvent(at=time.time(), outcome=Outcome.BAD_INPUT, visitor=cookie_visitor)
            )
            raise
        visitor = q.visitor or cookie_visitor
        new_visitor = visitor is None
        if visitor is not None:
            # A new visitor has no history to limit; a known one scans a few times at most.
            self._limit(self.route_visitor, visitor, "scans by this visitor")
        if q.store_id is not None:
            # A picked store answers with its group from anywhere: the way to harvest every
            # store's group, so picks are limited much harder than scans.
            self._limit(self.picks_ip, client, "stores picked from this address", TOO_MANY_PICKS)
            if visitor is not None:
                self._limit(
                    self.picks_visitor, visitor, "stores picked by this visitor", TOO_MANY_PICKS
                )
        if visitor is None:
            visitor = new_visitor_id()
        return q._replace(visitor=visitor, sticky=q.sticky or cookie_sticky), new_visitor

    def _finish(
        self,
        q: RouteQuery,
        result: RouteResult,
        new_visitor: bool,
        cookie_visitor: str | None,
        cookie_sticky: str | None,
    ) -> ScanAnswer:
        """Count, journal and render the decision."""
        now = time.time()
        visitor = q.visitor
        assert visitor is not None
        self.metrics.outcome(result.status)
        point = q.point
        store = result.store
        group = result.group
        # A sticky repeat (the group this visitor's valid token holds at this store, again) is
        # no new scan: the page renewing its link says so (renew=1), else it is the customer
        # asking again. Only the server's check of the token decides: renew=1 without a valid
        # token for this visitor and store is an ordinary scan, with a showing if one was made.
        if not result.repeat:
            kind = EventKind.SCAN
        else:
            kind = EventKind.RENEWAL if q.renew else EventKind.REPEAT
        # Journalled before the answer leaves: an answered scan is never missing from the books.
        self.journal.append(
            ScanEvent(
                at=now,
                outcome=result.status,
                kind=kind,
                entry=q.entry,
                store_csv=store.csv_id if store is not None else b"",
                group_csv=group.csv_id if group is not None else b"",
                visitor=visitor,
                distance_m=result.distance_m,
                accuracy_m=q.accuracy_m,
                lat=point.lat if point is not None else None,
                lng=point.lng if point is not None else None,
                coord=point.system.value if point is not None else None,
            )
        )
        return ScanAnswer(
            body=result.render(self.links.fragment(group, now)),
            set_visitor=visitor if new_visitor or visitor != cookie_visitor else None,
            set_sticky=(
                result.sticky
                if result.sticky is not None and result.sticky != cookie_sticky
                else None
            ),
        )

    def stores(self, query: Mapping[str, str], client: str) -> dict[str, object]:
        """The picker's stores in a city and/or matching text (`GET /api/v1/stores`)."""
        self._limit(self.picker_ip, client, "store searches from this address")
        return search_stores(self.catalogue.current, query)

    def cities(self, client: str, query: Mapping[str, str] | None = None) -> dict[str, object]:
        """The picker's cities with their store counts, most stores first (`GET
        /api/v1/cities[?province=&district=&region=]`)."""
        self._limit(self.picker_ip, client, "store searches from this address")
        return {"cities": city_counts(self.catalogue.current, query or {})}
