"""The app factory and its resources: database pool, catalogue loading and reload listening."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from router import sql
from router.catalogue import Catalogue, CatalogueRef, build_catalogue
from router.db import create_pool, migrate
from router.handlers import add_routes, observe
from router.keys import CATALOGUE, METRICS, POOL, QR_IMAGES, SETTINGS
from router.metrics import Metrics
from router.qr import QrImages
from router.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Notifications often come in bursts (an import, then its groups): wait this long and reload once.
RELOAD_DEBOUNCE_S = 0.05
# How often the listening connection is checked when nothing is happening, seconds.
LISTEN_KEEPALIVE_S = 5.0
LISTEN_RETRY_MAX_S = 10.0


def create_app(settings: Settings) -> web.Application:
    """Build the application. Resources are opened by cleanup contexts when it starts."""
    if not settings.database_url:
        raise SettingsError("HUOMA_DATABASE_URL must be resolved before create_app")
    if not settings.secret:
        raise SettingsError("HUOMA_SECRET must be resolved before create_app")
    app = web.Application(middlewares=[observe], client_max_size=1024**2)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[QR_IMAGES] = QrImages(settings.qr_cache_images)
    app[CATALOGUE] = CatalogueRef(empty_catalogue(settings))
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(catalogue)
    add_routes(app)
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
        secret=settings.secret.encode(),
        base_url=settings.base_url,
        k_max=1 + settings.alternatives,
        cache_cells=settings.cell_cache_cells,
    )


def empty_catalogue(settings: Settings) -> Catalogue:
    return _build(settings, [], [], [])


async def database(app: web.Application) -> AsyncIterator[None]:
    pool = await create_pool(app[SETTINGS])
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        app[POOL] = pool
        yield
    finally:
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


def _install(app: web.Application, new: Catalogue) -> None:
    metrics = app[METRICS]
    app[CATALOGUE].swap(new)
    # A catalogue is millions of long-lived objects; left to the cyclic collector, every full
    # collection walks all of them (pauses of hundreds of ms under load). Freezing moves what
    # exists now out of its sight; reference counting still frees a replaced catalogue.
    gc.freeze()
    metrics.reloads.labels("ok").inc()
    metrics.catalogue_loaded.set(new.built_at)
    metrics.catalogue_build.set(new.build_seconds)


async def reload(app: web.Application, lock: asyncio.Lock) -> None:
    async with lock:
        try:
            new = await load_catalogue(app)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            app[METRICS].reloads.labels("error").inc()
            log.exception("catalogue reload failed; keeping the current catalogue")
            return
        _install(app, new)


async def _subscribe(settings: Settings, dirty: asyncio.Event) -> asyncpg.Connection:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url, timeout=settings.db_connect_timeout_s)
    await conn.add_listener(sql.CATALOGUE_CHANNEL, lambda *_: dirty.set())
    return conn


async def _listen(
    app: web.Application, lock: asyncio.Lock, conn: asyncpg.Connection, dirty: asyncio.Event
) -> None:
    """Reload on every NOTIFY; reconnect (and reload, to catch missed changes) after a loss."""
    settings = app[SETTINGS]
    retry = 0.5
    while True:
        try:
            while not conn.is_closed():
                try:
                    await asyncio.wait_for(dirty.wait(), LISTEN_KEEPALIVE_S)
                except TimeoutError:
                    await conn.fetchval(sql.PING, timeout=settings.db_timeout_s)
                    continue
                await asyncio.sleep(RELOAD_DEBOUNCE_S)
                dirty.clear()
                await reload(app, lock)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("reload listener lost its connection (%s); reconnecting", exc)
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1.0)
        while True:
            try:
                conn = await _subscribe(settings, dirty)
                break
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("reload listener cannot connect (%s); retrying in %.1fs", exc, retry)
                await asyncio.sleep(retry)
                retry = min(retry * 2, LISTEN_RETRY_MAX_S)
        retry = 0.5
        dirty.set()  # changes may have happened while we were away


async def catalogue(app: web.Application) -> AsyncIterator[None]:
    lock = asyncio.Lock()
    dirty = asyncio.Event()
    # Subscribe first, then load: a change committed between the two is then seen twice (harmless)
    # rather than never.
    conn = await _subscribe(app[SETTINGS], dirty)
    try:
        # The first load is not forgiving: a worker that cannot read its catalogue must not serve.
        _install(app, await load_catalogue(app))
    except BaseException:
        await conn.close()
        raise
    task = asyncio.create_task(_listen(app, lock, conn, dirty), name="huoma-reload-listener")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
