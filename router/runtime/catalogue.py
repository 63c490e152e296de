"""The catalogue in a worker: loaded at start, rebuilt off the event loop on every change
PostgreSQL notifies, swapped in one step; a change to a few stores (a code replaced, a group added
or retired, a store edited) and the keeper's new groups patched in without a rebuild."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
from collections.abc import AsyncIterator, Iterable

import asyncpg
from aiohttp import web

from router.keys import (
    CATALOGUE,
    LIVE,
    METRICS,
    POOL,
    SETTINGS,
)
from router.runtime.leases import lease_wanted
from router.runtime.loops import reconnect, running
from router.scan.catalogue import Catalogue, Store, add_groups, build_catalogue, patch_stores
from router.settings import Settings
from router.store import sql
from router.store.changes import parse_stores_payload
from router.store.db import DB_ERRORS

log = logging.getLogger(__name__)

# Notifications often come in bursts (an import, then its groups): wait this long and reload once.
RELOAD_DEBOUNCE_S = 0.05
# How often the listening connection is checked when nothing is happening, seconds.
LISTEN_KEEPALIVE_S = 5.0


def _build(
    settings: Settings,
    stores: list[asyncpg.Record],
    groups: list[asyncpg.Record],
    entries: list[asyncpg.Record],
) -> Catalogue:
    return build_catalogue(
        stores,
        groups,
        entries,
        k_max=1 + settings.alternatives,
        cache_cells=settings.cell_cache_cells,
        default_display_cap=settings.display_cap,
    )


def empty_catalogue(settings: Settings) -> Catalogue:
    return _build(settings, [], [], [])


async def load_catalogue(app: web.Application) -> Catalogue:
    """Read the catalogue's rows and build it in a worker thread."""
    settings = app[SETTINGS]
    async with (
        app[POOL].acquire() as conn,
        conn.transaction(readonly=True, isolation="repeatable_read"),
    ):
        # One snapshot for all three reads, so groups always match their stores.
        stores = await conn.fetch(sql.SELECT_STORES)
        groups = await conn.fetch(sql.SELECT_GROUPS)
        entries = await conn.fetch(sql.SELECT_ENTRIES)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        None, functools.partial(_build, settings, stores, groups, entries)
    )


def _want_initial_leases(app: web.Application, stores: Iterable[Store]) -> None:
    """Lease the first two usable groups of every store ahead of the first scan, so that a worker
    that never served a store's active group still has its successor when that one fills.

    Not when scans may wait for a lease (`HUOMA_LEASE_WAIT_S` > 0, the default): a scan then
    leases what it needs, and blocks taken ahead for every store would sit unshown in one worker
    while others need them (four workers held half of a rushed store's displays this way)."""
    if app[SETTINGS].lease_wait_s > 0:
        return
    live = app[LIVE]
    book = live.leases
    now = time.time()
    margin = app[SETTINGS].expiry_margin_s
    for store in stores:
        ahead = 0
        for g in store.groups:
            if not live.usable(g, now, margin):
                continue
            if book.left(g.pk) == 0:
                book.want(g.pk)
            ahead += 1
            if ahead == 2:
                break


def _install(app: web.Application, new: Catalogue) -> None:
    metrics = app[METRICS]
    app[CATALOGUE].swap(new)
    _want_initial_leases(app, new.stores)
    # A catalogue is millions of long-lived objects; left to the cyclic collector, every full
    # collection walks all of them (pauses of hundreds of ms under load). Freezing moves what
    # exists now out of its sight; reference counting still frees a replaced catalogue.
    gc.freeze()
    metrics.reloads.labels("ok").inc()
    metrics.catalogue_loaded.set(new.built_at)
    metrics.catalogue_build.set(new.build_seconds)


class Changes:
    """What notifications asked for since the last reload: everything, or just some stores and
    new groups."""

    __slots__ = ("dirty", "everything", "new_groups", "stores")

    def __init__(self) -> None:
        self.dirty = asyncio.Event()
        self.everything = False
        self.new_groups: set[int] = set()
        self.stores: set[str] = set()

    def note(self, payload: str) -> None:
        if payload.startswith(sql.NEW_GROUPS_PREFIX):
            try:
                self.new_groups.update(
                    int(p) for p in payload[len(sql.NEW_GROUPS_PREFIX) :].split(",")
                )
            except ValueError:
                self.everything = True
        elif (ids := parse_stores_payload(payload)) is not None:
            self.stores.update(ids)
        else:
            self.everything = True
        self.dirty.set()

    def take(self) -> tuple[bool, set[int], set[str]]:
        taken = (self.everything, self.new_groups, self.stores)
        self.everything, self.new_groups, self.stores = False, set(), set()
        self.dirty.clear()
        return taken


def _patched(app: web.Application, new: Catalogue, changed: list[Store], what: str) -> None:
    app[CATALOGUE].swap(new)
    _want_initial_leases(app, changed)
    gc.freeze()  # as after a full build: the new containers stay out of the collector's way
    app[METRICS].reloads.labels("patch").inc()
    log.info("catalogue: %s patched in %.3fs", what, new.build_seconds)


async def patch_changed_stores(
    app: web.Application, lock: asyncio.Lock, store_ids: set[str], new_groups: set[int]
) -> None:
    """Rebuild just these stores (and those of the keeper's new groups) in the current
    catalogue; rebuild everything when they are too many or a patch would not be exact."""
    settings = app[SETTINGS]
    async with lock:
        try:
            async with app[POOL].acquire() as conn:
                if new_groups:
                    owners = await conn.fetch(sql.STORES_OF_GROUPS, sorted(new_groups))
                    if any(r["store_id"] is None for r in owners):
                        store_ids = set()  # a brand-wide group: rebuild
                    else:
                        store_ids = store_ids | {r["store_id"] for r in owners}
                patched = None
                if 0 < len(store_ids) <= settings.patch_max_stores:
                    # One snapshot: the groups match their stores.
                    async with conn.transaction(readonly=True, isolation="repeatable_read"):
                        ids = sorted(store_ids)
                        stores = await conn.fetch(sql.SELECT_STORES_BY_ID, ids)
                        groups = await conn.fetch(sql.SELECT_GROUPS_OF_STORES, ids)
                    patched = patch_stores(
                        app[CATALOGUE].current,
                        ids,
                        stores,
                        groups,
                        default_display_cap=settings.display_cap,
                    )
        except DB_ERRORS:
            app[METRICS].reloads.labels("error").inc()
            log.exception("reading changed stores failed; keeping the current catalogue")
            return
        if patched is not None:
            new, changed = patched
            _patched(app, new, changed, f"{len(changed)} store(s)")
            return
    await reload(app, lock)


async def add_new_groups(app: web.Application, lock: asyncio.Lock, pks: set[int]) -> None:
    """Add the keeper's new groups to the current catalogue; rebuild it when that is not enough
    (a group that is not new after all, a store this worker does not know yet)."""
    settings = app[SETTINGS]
    async with lock:
        try:
            async with app[POOL].acquire() as conn:
                rows = await conn.fetch(sql.SELECT_GROUPS_BY_PK, sorted(pks))
        except DB_ERRORS:
            app[METRICS].reloads.labels("error").inc()
            log.exception("reading new groups failed; keeping the current catalogue")
            return
        patched = add_groups(
            app[CATALOGUE].current,
            rows,
            default_display_cap=settings.display_cap,
        )
        if patched is not None:
            new, changed = patched
            _patched(app, new, changed, f"{len(rows)} new group(s)")
            return
    await reload(app, lock)


async def reload(app: web.Application, lock: asyncio.Lock) -> None:
    async with lock:
        try:
            new = await load_catalogue(app)
        except DB_ERRORS:
            app[METRICS].reloads.labels("error").inc()
            log.exception("catalogue reload failed; keeping the current catalogue")
            return
        _install(app, new)


async def _subscribe(app: web.Application, changes: Changes) -> asyncpg.Connection:
    settings = app[SETTINGS]
    members = app[LIVE].members
    assert settings.database_url is not None

    def on_members(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        pk, _, count = payload.partition(":")
        with contextlib.suppress(ValueError):
            members[int(pk)] = int(count)

    conn = await asyncpg.connect(settings.database_url, timeout=settings.db_connect_timeout_s)
    await conn.add_listener(sql.CATALOGUE_CHANNEL, lambda *args: changes.note(args[3]))
    await conn.add_listener(sql.MEMBERS_CHANNEL, on_members)
    return conn


async def _listen(
    app: web.Application, lock: asyncio.Lock, conn: asyncpg.Connection, changes: Changes
) -> None:
    """Reload on every NOTIFY; reconnect (and reload, to catch missed changes) after a loss."""
    settings = app[SETTINGS]
    while True:
        try:
            while not conn.is_closed():
                try:
                    await asyncio.wait_for(changes.dirty.wait(), LISTEN_KEEPALIVE_S)
                except TimeoutError:
                    await conn.fetchval(sql.PING, timeout=settings.db_timeout_s)
                    continue
                await asyncio.sleep(RELOAD_DEBOUNCE_S)
                everything, new_groups, stores = changes.take()
                if everything:
                    await reload(app, lock)
                elif stores:
                    await patch_changed_stores(app, lock, stores, new_groups)
                elif new_groups:
                    await add_new_groups(app, lock, new_groups)
        except DB_ERRORS as exc:
            log.warning("reload listener lost its connection (%r); reconnecting", exc)
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1.0)
        conn = await reconnect(functools.partial(_subscribe, app, changes), "reload listener")
        changes.note("reconnected")  # changes may have happened while we were away


async def catalogue(app: web.Application) -> AsyncIterator[None]:
    lock = asyncio.Lock()
    changes = Changes()
    # Subscribe first, then load: a change committed between the two is then seen twice (harmless)
    # rather than never.
    conn = await _subscribe(app, changes)
    try:
        # The first load is not forgiving: a worker that cannot read its catalogue must not serve.
        _install(app, await load_catalogue(app))
        # Serve only once the first groups of every store are leased (when scans do not wait for
        # leases): otherwise the first scans of each store would see its fallback. A lease that
        # fails is retried by the refill loop: a worker that stopped here would strand what
        # it had already leased.
        try:
            await lease_wanted(app)
        except DB_ERRORS as exc:
            log.warning("leasing displays at start-up failed (%r); retrying in the background", exc)
            app[LIVE].leases.wake.set()
    except BaseException:
        await conn.close()
        raise
    async with running(
        functools.partial(_listen, app, lock, conn, changes), "huoma-reload-listener"
    ):
        yield
