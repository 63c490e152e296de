"""The keeper: one worker per deployment sweeps group states and refills pools at the low-water
mark through the group provider, raises alerts (stores it cannot refill, stores on their
fallback, groups about to expire), posts them to the ops webhook, and rolls up the scan funnel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from router.keeper.alerts import KIND_FALLBACK, KIND_LOW, AlertSender, drain, raise_expiring
from router.keeper.providers import GroupProvider, StoreRef
from router.settings import Settings
from router.store import audit, funnel, sql
from router.store.db import DB_ERRORS, described, timed_out
from router.store.opsettings import OpsSettings
from router.wecom.service import WeComService

log = logging.getLogger(__name__)

# Stores refilled per sweep: a provider outage or a fresh import cannot start a stampede.
MAX_CREATIONS_PER_SWEEP = 50
# Incremental passes look only where something changed; every this many passes one looks at
# everything (drift such as displays returned by a stopping worker), and expiry alerts are
# checked every EXPIRY_EVERY passes (a day's warning does not need ten-second precision).
FULL_SWEEP_EVERY = 30
EXPIRY_EVERY = 6
# Writes are looked for since the previous pass's start minus this much: a transaction that
# began before that start and committed after it is not missed.
SINCE_MARGIN = timedelta(seconds=60)
# Audit records past HUOMA_AUDIT_RETENTION_DAYS are deleted HUOMA_AUDIT_PRUNE_BATCH at a time, at
# most this many batches per pass: a backlog drains over several passes, never in one long one.
AUDIT_PRUNE_BATCHES = 20


@dataclass
class SweepState:
    """What the keeper remembers between passes, so that most passes touch only what changed
    (a full pass at 100k stores costs PostgreSQL about a second)."""

    passes: int = 0
    last_start: datetime | None = None
    still_low: bool = False


async def sweep(
    pool: asyncpg.Pool,
    settings: Settings,
    provider: GroupProvider,
    alerts: AlertSender | None = None,
    state: SweepState | None = None,
) -> int:
    """One pass: states, then low stores, then alerts. Returns how many groups were created.
    Without a state (tests, one-off calls) the pass is a full one."""
    full = state is None or state.passes % FULL_SWEEP_EVERY == 0 or state.last_start is None
    check_expiry = state is None or state.passes % EXPIRY_EVERY == 0
    async with pool.acquire() as conn:
        started = await conn.fetchval(sql.NOW)
        if full or state is None or state.last_start is None:
            changed = await conn.fetch(
                sql.SWEEP_STATES, settings.display_cap, settings.expiry_margin_s
            )
            look_for_low = True
        else:
            since = state.last_start - SINCE_MARGIN
            changed = await conn.fetch(
                sql.SWEEP_CHANGED_STATES, settings.display_cap, settings.expiry_margin_s, since
            )
            # Low stores appear when states change, when stores are added, and while the
            # provider is still refilling; uploads that change no state are seen within a minute.
            look_for_low = (
                bool(changed)
                or state.still_low
                or check_expiry
                or await conn.fetchval(sql.STORES_CHANGED, since)
            )
        low = (
            await conn.fetch(sql.LOW_STORES, settings.low_water, MAX_CREATIONS_PER_SWEEP)
            if look_for_low
            else []
        )
    if state is not None:
        state.passes += 1
        state.last_start = started
    new_pks, waiting, empty = await _refill(pool, provider, low)
    created = len(new_pks)
    if state is not None:
        # Keep looking while refilling works (or more stores were low than one pass takes).
        state.still_low = bool(new_pks) or len(low) >= MAX_CREATIONS_PER_SWEEP
    if new_pks:
        # One notification per sweep naming the new groups: workers add them to their catalogue
        # instead of rebuilding it (a rebuild at 100k stores costs seconds of CPU per worker).
        async with pool.acquire() as conn:
            payload = sql.NEW_GROUPS_PREFIX + ",".join(map(str, new_pks))
            await conn.execute(sql.NOTIFY_CATALOGUE, payload)
    async with pool.acquire() as conn, conn.transaction():
        for store_id in waiting:
            await conn.execute(
                sql.RAISE_ALERT,
                KIND_LOW,
                store_id,
                f"store {store_id} has fewer than {settings.low_water} usable groups; "
                "upload new groups",
            )
        for store_id in empty:
            await conn.execute(
                sql.RAISE_ALERT,
                KIND_FALLBACK,
                store_id,
                f"store {store_id} has no usable group; customers see its fallback",
            )
        # Only the stores seen this pass can still be low; a full scan would be needed to
        # resolve others, and LOW_STORES is bounded, so resolve only when nothing was cut off.
        if look_for_low and len(low) < MAX_CREATIONS_PER_SWEEP:
            await conn.execute(sql.RESOLVE_ALERTS, KIND_LOW, waiting)
            await conn.execute(sql.RESOLVE_ALERTS, KIND_FALLBACK, empty)
        if check_expiry:
            expiry_h = alerts.live.alert_expiry_h if alerts is not None else settings.alert_expiry_h
            await raise_expiring(conn, settings, expiry_h)
    async with pool.acquire() as conn:
        if alerts is not None:
            await alerts.deliver(conn)
    await _roll_up_funnel(pool, settings, purge=check_expiry)
    return created


async def _refill(
    pool: asyncpg.Pool, provider: GroupProvider, low: list[asyncpg.Record]
) -> tuple[list[int], list[str], list[str]]:
    """Ask the provider for a group for each low store: the new groups' keys, the stores still
    waiting for one (ops are alerted), and the stores with no usable group at all."""
    now = datetime.now(UTC)
    new_pks: list[int] = []
    waiting: list[str] = []
    empty: list[str] = []
    for row in low:
        store = StoreRef(row["store_id"], row["name"], row["city"])
        new = await provider.create_group(store, now)
        if row["usable"] == 0:
            empty.append(store.store_id)
        if new is None:
            waiting.append(store.store_id)
            continue
        async with pool.acquire() as conn, conn.transaction():
            pk = await conn.fetchval(
                sql.INSERT_PROVIDED_GROUP,
                new.group_id,
                store.store_id,
                new.name,
                new.qr_payload,
                new.capacity,
                new.expires_at,
                new.source,
            )
            if pk is not None:
                new_pks.append(pk)
    return new_pks, waiting, empty


async def _roll_up_funnel(pool: asyncpg.Pool, settings: Settings, *, purge: bool) -> None:
    """The funnel's rollups, and (when `purge`) events past their retention. Statistics must
    never stop the group sweeps: a failure is logged and tried again next pass."""
    try:
        async with pool.acquire() as conn:
            await funnel.refresh(conn, settings)
            if purge:
                purged = await funnel.purge(conn, settings)
                if purged:
                    log.info("keeper: deleted %d scan event(s) past their retention", purged)
                pruned = await audit.prune(
                    conn,
                    settings.audit_retention_days,
                    settings.audit_prune_batch,
                    AUDIT_PRUNE_BATCHES,
                )
                if pruned:
                    log.info("keeper: deleted %d audit record(s) past their retention", pruned)
    except (asyncpg.PostgresError, TimeoutError) as exc:
        # Statistics must never stop the group sweeps: log, and try again next pass.
        if timed_out(exc):
            log.warning(
                "keeper: funnel rollup or retention timed out (HUOMA_FUNNEL_TIMEOUT_S, %.0f s: "
                "%s); retrying next pass",
                settings.funnel_timeout_s,
                described(exc),
            )
        else:
            log.warning(
                "keeper: funnel rollup or retention failed (%s); retrying next pass",
                described(exc),
            )


async def run(
    pool: asyncpg.Pool,
    settings: Settings,
    provider: GroupProvider,
    wecom: WeComService | None = None,
    live: OpsSettings | None = None,
) -> None:
    """Forever: hold the keeper lock (or wait for it), and sweep every keeper interval."""
    assert settings.database_url is not None
    alerts = AlertSender(settings, live)
    try:
        await _lead(pool, settings, provider, alerts, wecom)
    finally:
        await drain(alerts)


async def wecom_pass(wecom: WeComService, settings: Settings, last_sync: float) -> float:
    """Callbacks left pending (their worker stopped, or WeCom failed them), and every
    HUOMA_WECOM_SYNC_S a reconcile of every join way. Returns when the last reconcile ran."""
    await wecom.receiver.process_pending()
    if time.monotonic() - last_sync < settings.wecom_sync_s:
        return last_sync
    results = await wecom.sync.reconcile()
    failed = [r for r in results if r.error]
    log.info("keeper: %d WeCom join way(s) reconciled, %d failed", len(results), len(failed))
    return time.monotonic()


async def _lead(
    pool: asyncpg.Pool,
    settings: Settings,
    provider: GroupProvider,
    alerts: AlertSender,
    wecom: WeComService | None,
) -> None:
    while True:
        lock_conn: asyncpg.Connection | None = None
        try:
            lock_conn = await asyncpg.connect(
                settings.database_url, timeout=settings.db_connect_timeout_s
            )
            # No event announces that another session released the lock: polling it is the way.
            while not await lock_conn.fetchval(sql.TRY_KEEPER_LOCK):  # noqa: ASYNC110
                await asyncio.sleep(settings.keeper_interval_s)
            log.info("this worker is the keeper (provider: %s)", provider.name)
            state = SweepState()
            last_sync = -settings.wecom_sync_s
            while True:
                created = await sweep(pool, settings, provider, alerts, state)
                if created:
                    log.info("keeper created %d group(s)", created)
                if wecom is not None:
                    last_sync = await wecom_pass(wecom, settings, last_sync)
                await asyncio.sleep(settings.keeper_interval_s)
                await lock_conn.fetchval(sql.PING)  # notice a lost session promptly
        except DB_ERRORS as exc:
            log.warning("keeper: database trouble (%r); retrying", exc)
            await asyncio.sleep(settings.keeper_interval_s)
        finally:
            if lock_conn is not None:
                with contextlib.suppress(Exception):
                    await lock_conn.close(timeout=1.0)


def wechat_lifetime(settings: Settings) -> timedelta:
    return timedelta(hours=settings.wechat_qr_lifetime_h)
