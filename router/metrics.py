"""Prometheus metrics: one registry per app (no global state), no per-store labels."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Fine at the bottom: the hot path answers in tens of microseconds, and a histogram whose first
# bucket is 5 ms would hide everything that matters about it.
LATENCY_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "huoma_http_request_duration_seconds",
            "Time to answer a request, by endpoint, method and status.",
            ("endpoint", "method", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outcomes = Counter(
            "huoma_route_outcomes_total",
            "Answers of /api/v1/route by outcome (ok, no_store_nearby, no_group, no_location, "
            "bad_input; rate_limited also counts refused picker requests).",
            ("outcome",),
            registry=self.registry,
        )
        self.connections_closed = Counter(
            "huoma_connections_closed_total",
            "Client connections closed by the connection guard: per_address (over "
            "HUOMA_CONNECTIONS_PER_IP), descriptors (into HUOMA_FD_RESERVE), header_timeout "
            "(headers not complete within HUOMA_HEADER_TIMEOUT_S).",
            ("reason",),
            registry=self.registry,
        )
        self.stores = Gauge(
            "huoma_catalogue_stores", "Stores in the loaded catalogue.", registry=self.registry
        )
        self.groups = Gauge(
            "huoma_catalogue_groups", "Groups in the loaded catalogue.", registry=self.registry
        )
        self.catalogue_loaded = Gauge(
            "huoma_catalogue_loaded_timestamp_seconds",
            "When the current catalogue was built (Unix time).",
            registry=self.registry,
        )
        self.catalogue_build = Gauge(
            "huoma_catalogue_build_seconds",
            "How long the current catalogue took to build.",
            registry=self.registry,
        )
        self.reloads = Counter(
            "huoma_catalogue_reloads_total",
            "Catalogue reloads by result (ok: rebuilt whole, patch: only the changed stores or new "
            "groups rebuilt in place, error).",
            ("result",),
            registry=self.registry,
        )
        self.events_written = Gauge(
            "huoma_events_journalled",
            "Scan events journalled by this worker since it started.",
            registry=self.registry,
        )
        self.events_flushed = Gauge(
            "huoma_events_flushed",
            "Scan events this worker moved into PostgreSQL.",
            registry=self.registry,
        )
        self.events_dropped = Gauge(
            "huoma_events_dropped",
            "Scan events dropped (journal full or unwritable); should stay 0.",
            registry=self.registry,
        )
        self.journal_backlog = Gauge(
            "huoma_journal_backlog_bytes",
            "Journal bytes not yet in PostgreSQL.",
            registry=self.registry,
        )
        self.database_available = Gauge(
            "huoma_database_available",
            "1 while PostgreSQL answers this worker, 0 while it serves from memory alone.",
            registry=self.registry,
        )
        self.lease_waits = Counter(
            "huoma_lease_waits_total",
            "Scans that waited for a lease because this worker held no display of their store's "
            "usable groups: ok (a group was shown), timeout (PostgreSQL did not answer within "
            "HUOMA_LEASE_WAIT_S, or failed: the next group held, else the fallback).",
            ("result",),
            registry=self.registry,
        )
        self.displays_unshown = Gauge(
            "huoma_displays_leased_unshown",
            "Displays leased from the groups' caps but not shown, all workers and hosts (read "
            "every 30 s): held by live workers (handed back after HUOMA_LEASE_IDLE_S unused), "
            "shown but not yet flushed, or stranded by a worker whose journal is never replayed "
            "(its host gone). With no scans for HUOMA_LEASE_IDLE_S, what is left is stranded.",
            registry=self.registry,
        )
        self.qr_renders = Counter(
            "huoma_qr_renders_total", "QR images rendered (cache misses).", registry=self.registry
        )

        # Label lookups cost more than the observation itself; keep the children we have used.
        self._latency_children: dict[tuple[str, str, int], Any] = {}
        self._outcome_children: dict[str, Any] = {}

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, status)
        child = self._latency_children.get(key)
        if child is None:
            child = self.latency.labels(endpoint, method, str(status))
            self._latency_children[key] = child
        child.observe(seconds)

    def outcome(self, outcome: str) -> None:
        child = self._outcome_children.get(outcome)
        if child is None:
            child = self._outcome_children[outcome] = self.outcomes.labels(outcome)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
