"""The app factory and its resources: database pool, catalogue loading and reload listening."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any

import asyncpg
from aiohttp import web

from router.keeper import sweep as keeper
from router.keeper.providers import GroupProvider, make_provider
from router.keeper.wecom_provider import WeComProvider
from router.keys import (
    CATALOGUE,
    DB_HEALTH,
    IN_FLIGHT,
    JOURNAL,
    LIVE,
    METRICS,
    POOL,
    QR_IMAGES,
    SETTINGS,
    WECOM,
)
from router.metrics import Metrics
from router.ops import handlers as admin
from router.scan.catalogue import Catalogue, CatalogueRef, Store, add_groups, build_catalogue
from router.scan.journal import Journal
from router.scan.live import LeaseBook, LiveState, StickySigner
from router.settings import Settings, SettingsError
from router.store import journal as journal_store
from router.store import sql
from router.store.db import DB_ERRORS, DbHealth, connection, create_pool, migrate, ping
from router.store.qr_images import QrImages
from router.web import pages
from router.web.middleware import InFlight, json_protocol_errors, observe
from router.web.public import add_routes
from router.wecom import http as wecom_http
from router.wecom.service import open_service

log = logging.getLogger(__name__)

# Notifications often come in bursts (an import, then its groups): wait this long and reload once.
RELOAD_DEBOUNCE_S = 0.05
# How often the listening connection is checked when nothing is happening, seconds.
LISTEN_KEEPALIVE_S = 5.0
LISTEN_RETRY_MAX_S = 10.0


# A background loop that fails unexpectedly is started again after this long, seconds.
RESTART_DELAY_S = 1.0


async def _forever(loop: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
    """Run a background loop; should it ever end with an error nobody foresaw, log it and start
    it again: a worker without its event flusher or lease refill fails slowly and silently."""
    while True:
        try:
            await loop()
            return
        except Exception:
            log.exception("background task %s failed; restarting it", name)
        await asyncio.sleep(RESTART_DELAY_S)


@contextlib.asynccontextmanager
async def running(loop: Callable[[], Coroutine[Any, Any, None]], name: str) -> AsyncIterator[None]:
    """A background loop for the duration of a block (restarted if it fails), cancelled and
    awaited on the way out."""
    task = asyncio.create_task(_forever(loop, name), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(settings: Settings) -> web.Application:
    """Build the application. Resources are opened by cleanup contexts when it starts."""
    if not settings.database_url:
        raise SettingsError("HUOMA_DATABASE_URL must be resolved before create_app")
    if not settings.secret:
        raise SettingsError("HUOMA_SECRET must be resolved before create_app")
    # Uploads are the only large bodies; every other handler reads none.
    app = web.Application(
        middlewares=[observe], client_max_size=max(1024**2, settings.import_max_bytes + 65_536)
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[DB_HEALTH] = DbHealth()
    app[IN_FLIGHT] = InFlight()
    json_protocol_errors()
    app[QR_IMAGES] = QrImages(
        settings.qr_cache_images, lookup_timeout_s=settings.qr_store_timeout_s
    )
    app[CATALOGUE] = CatalogueRef(empty_catalogue(settings))
    app[LIVE] = LiveState(LeaseBook(settings.lease_block), StickySigner(settings.secret.encode()))
    app[JOURNAL] = Journal(
        settings.data_dir / "journal", settings.journal_max_bytes, settings.journal_rotate_bytes
    )
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(scan_events)
    app.cleanup_ctx.append(leases)
    app.cleanup_ctx.append(catalogue)
    app.cleanup_ctx.append(wecom)
    app.cleanup_ctx.append(keeper_task)
    add_routes(app)
    admin.add_routes(app)
    wecom_http.add_routes(app)
    pages.add_routes(app)
    return app


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


async def database(app: web.Application) -> AsyncIterator[None]:
    pool = await create_pool(app[SETTINGS])
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        app[POOL] = pool
        app[QR_IMAGES].pool = pool
        yield
    finally:
        await app[QR_IMAGES].drain()
        await pool.close()


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
    that never served a store's active group still has its successor when that one fills."""
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
    """What notifications asked for since the last reload: everything, or just new groups."""

    __slots__ = ("dirty", "everything", "new_groups")

    def __init__(self) -> None:
        self.dirty = asyncio.Event()
        self.everything = False
        self.new_groups: set[int] = set()

    def note(self, payload: str) -> None:
        if payload.startswith(sql.NEW_GROUPS_PREFIX):
            try:
                self.new_groups.update(
                    int(p) for p in payload[len(sql.NEW_GROUPS_PREFIX) :].split(",")
                )
            except ValueError:
                self.everything = True
        else:
            self.everything = True
        self.dirty.set()

    def take(self) -> tuple[bool, set[int]]:
        taken = (self.everything, self.new_groups)
        self.everything, self.new_groups = False, set()
        self.dirty.clear()
        return taken


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
            app[CATALOGUE].swap(new)
            _want_initial_leases(app, changed)
            gc.freeze()  # as after a full build: the new containers stay out of the collector's way
            app[METRICS].reloads.labels("patch").inc()
            log.info("catalogue: %d new group(s) added", len(rows))
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
    retry = 0.5
    while True:
        try:
            while not conn.is_closed():
                try:
                    await asyncio.wait_for(changes.dirty.wait(), LISTEN_KEEPALIVE_S)
                except TimeoutError:
                    await conn.fetchval(sql.PING, timeout=settings.db_timeout_s)
                    continue
                await asyncio.sleep(RELOAD_DEBOUNCE_S)
                everything, new_groups = changes.take()
                if everything:
                    await reload(app, lock)
                elif new_groups:
                    await add_new_groups(app, lock, new_groups)
        except DB_ERRORS as exc:
            log.warning("reload listener lost its connection (%r); reconnecting", exc)
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1.0)
        while True:
            try:
                conn = await _subscribe(app, changes)
                break
            except DB_ERRORS as exc:
                log.warning("reload listener cannot connect (%r); retrying in %.1fs", exc, retry)
                await asyncio.sleep(retry)
                retry = min(retry * 2, LISTEN_RETRY_MAX_S)
        retry = 0.5
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
        # Serve only once the first groups of every store are leased: otherwise the first scans
        # of each store would see its fallback.
        await lease_wanted(app)
    except BaseException:
        await conn.close()
        raise
    async with running(
        functools.partial(_listen, app, lock, conn, changes), "huoma-reload-listener"
    ):
        yield


# ---- display leases -----------------------------------------------------------------------------

# Groups leased per statement: bounded so one statement never holds many row locks for long.
LEASE_CHUNK = 2_000


async def lease_wanted(app: web.Application) -> None:
    """Lease displays for every group the book wants, in bulk."""
    book = app[LIVE].leases
    settings = app[SETTINGS]
    wanted = book.take_wanted()
    groups = app[CATALOGUE].current.groups_by_pk
    for i in range(0, len(wanted), LEASE_CHUNK):
        chunk = wanted[i : i + LEASE_CHUNK]
        try:
            async with connection(app[POOL]) as conn:
                rows = await conn.fetch(
                    sql.LEASE_DISPLAYS,
                    [pk for pk, _ in chunk],
                    [n for _, n in chunk],
                    settings.display_cap,
                )
        except BaseException:
            for pk, _ in wanted[i:]:
                book.want(pk)
            raise
        for r in rows:
            g = groups.get(r["group_pk"])
            book.grant(r["group_pk"], r["granted"], g.display_cap if g else settings.display_cap)


async def _refill(app: web.Application) -> None:
    book = app[LIVE].leases
    retry = 0.2
    while True:
        await book.wake.wait()
        await asyncio.sleep(0.002)  # let a burst of wants gather into one statement
        try:
            await lease_wanted(app)
            retry = 0.2
        except DB_ERRORS as exc:
            app[DB_HEALTH].failed(exc)
            log.warning("leasing displays failed (%r); retrying in %.1fs", exc, retry)
            await asyncio.sleep(retry)
            retry = min(retry * 2, 5.0)


async def return_leases(app: web.Application) -> int:
    """Give unspent displays back to PostgreSQL; returns how many."""
    book = app[LIVE].leases
    held = book.held()
    if not held:
        return 0
    pks = sorted(held)
    async with app[POOL].acquire() as conn:
        await conn.execute(sql.RETURN_DISPLAYS, pks, [held[pk] for pk in pks])
    book.drop(pks)
    return sum(held.values())


async def leases(app: web.Application) -> AsyncIterator[None]:
    try:
        async with running(functools.partial(_refill, app), "huoma-lease-refill"):
            yield
    finally:
        try:
            returned = await return_leases(app)
            log.info("returned %d unshown display(s)", returned)
        except DB_ERRORS as exc:
            log.warning("could not return leased displays (%r); they stay used", exc)


async def wecom(app: web.Application) -> AsyncIterator[None]:
    """WeCom's client, join-way sync and callback receiver, when WeCom is configured."""
    settings = app[SETTINGS]
    if not settings.wecom_corp_id:
        app[WECOM] = None
        yield
        return
    service = open_service(app[POOL], settings)
    app[WECOM] = service
    try:
        yield
    finally:
        await service.close()


async def keeper_task(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    service = app[WECOM]
    provider: GroupProvider
    if settings.group_provider == "wecom" and service is not None:
        provider = WeComProvider(service.sync)
    else:
        provider = make_provider(settings.group_provider, keeper.wechat_lifetime(settings))
    keep = functools.partial(keeper.run, app[POOL], settings, provider, service)
    async with running(keep, "huoma-keeper"):
        yield


# ---- scan events --------------------------------------------------------------------------------

# Journals of workers that died are looked for this often, seconds (and at every start and stop).
ORPHAN_SCAN_S = 5.0


# An idle worker still asks PostgreSQL this often whether it answers, seconds (for /readyz).
DB_WATCH_S = 2.0
# While PostgreSQL does not answer, the waiting journal is logged this often, seconds.
BACKLOG_LOG_S = 10.0


async def _flush_forever(app: web.Application) -> None:
    journal = app[JOURNAL]
    settings = app[SETTINGS]
    pool = app[POOL]
    health = app[DB_HEALTH]
    last_orphan_scan = -ORPHAN_SCAN_S
    last_contact = last_log = -DB_WATCH_S
    while True:
        try:
            if time.monotonic() - last_orphan_scan >= ORPHAN_SCAN_S:
                await journal_store.adopt_orphans(journal, pool)
                last_orphan_scan = time.monotonic()
            flushed = await journal_store.flush(journal, pool)
            if not flushed and time.monotonic() - last_contact >= DB_WATCH_S:
                await ping(pool, settings)
                flushed = 1
            if flushed:
                last_contact = time.monotonic()
                health.ok()
        except DB_ERRORS as exc:
            # The journal keeps everything; the next round retries from the saved offset.
            health.failed(exc)
            if time.monotonic() - last_log >= BACKLOG_LOG_S:
                last_log = time.monotonic()
                log.warning(
                    "scan events wait in the journal (%r): %d bytes", exc, journal.backlog()
                )
        await asyncio.sleep(settings.events_flush_s)


async def _final_flush(app: web.Application) -> None:
    journal = app[JOURNAL]
    await journal_store.flush(journal, app[POOL])
    await journal_store.adopt_orphans(journal, app[POOL])


async def scan_events(app: web.Application) -> AsyncIterator[None]:
    journal = app[JOURNAL]
    journal.open()
    try:
        async with running(functools.partial(_flush_forever, app), "huoma-event-flusher"):
            yield
    finally:
        try:
            await asyncio.wait_for(_final_flush(app), app[SETTINGS].shutdown_timeout_s)
        except DB_ERRORS as exc:
            log.warning("final event flush failed (%r); the journal is replayed at next start", exc)
        journal.close()
