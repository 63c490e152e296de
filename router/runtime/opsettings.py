"""The settings ops own, in every worker: loaded at start, re-read on every NOTIFY of a change
and every HUOMA_SETTINGS_REREAD_S (a safety net for a notification lost with a connection).
The brand settings among them become this worker's brand (`BrandSource.replace`) at once."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from router.brand import BrandError, BrandSource, Logo, with_values
from router.keys import BRAND, OPS_SETTINGS, POOL, SETTINGS
from router.runtime.loops import reconnect, running
from router.store import opsettings, sql
from router.store.db import DB_ERRORS
from router.store.opsettings import LOGO_FILE, OpsSettings

log = logging.getLogger(__name__)


async def refresh(live: OpsSettings, pool: asyncpg.Pool, brands: BrandSource | None = None) -> None:
    """Read the stored values into this worker's OpsSettings (one reference swapped), and when
    given the worker's BrandSource, make the brand they describe its current one."""
    live.stored = await opsettings.load(pool)
    live.loaded_at = datetime.now(UTC)
    if brands is not None:
        await apply_brand(live, pool, brands)


async def _logo(ref: str, pool: asyncpg.Pool, brands: BrandSource) -> Logo | None:
    if not ref:
        return None
    if ref.startswith(LOGO_FILE):
        return brands.default.logo  # HUOMA_BRAND_LOGO_PATH, read once at start
    now = brands.current().logo
    if now is not None and now.digest == ref:
        return now
    row = await pool.fetchrow(sql.BRAND_LOGO, ref)
    if row is None:
        log.warning("brand logo %s is not stored; showing none", ref[:12])
        return None
    return Logo(bytes(row["png"]), row["width"], row["height"])


async def apply_brand(live: OpsSettings, pool: asyncpg.Pool, brands: BrandSource) -> None:
    """The brand as the settings say (ops' values over the HUOMA_BRAND_* defaults) becomes the
    one this worker serves; unchanged, nothing is swapped (the page stays rendered)."""
    logo = await _logo(live.brand_logo, pool, brands)
    try:
        brand = with_values(brands.default, live.brand_texts(), logo)
    except BrandError as exc:  # each value was checked when stored: a tightened rule since
        log.warning("brand settings not applied: %s", exc.message)
        return
    if brand != brands.current():
        brands.replace(brand)


async def _subscribe(app: web.Application, changed: asyncio.Event) -> asyncpg.Connection:
    settings = app[SETTINGS]
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url, timeout=settings.db_connect_timeout_s)
    await conn.add_listener(sql.SETTINGS_CHANNEL, lambda *_args: changed.set())
    return conn


async def _listen(app: web.Application, conn: asyncpg.Connection, changed: asyncio.Event) -> None:
    settings = app[SETTINGS]
    while True:
        try:
            while not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), settings.settings_reread_s)
                changed.clear()
                await refresh(app[OPS_SETTINGS], app[POOL], app.get(BRAND))
                await conn.fetchval(sql.PING, timeout=settings.db_timeout_s)
        except DB_ERRORS as exc:
            log.warning("settings listener lost its connection (%r); reconnecting", exc)
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1.0)
        conn = await reconnect(functools.partial(_subscribe, app, changed), "settings listener")
        changed.set()  # changes may have happened while we were away


async def ops_settings(app: web.Application) -> AsyncIterator[None]:
    changed = asyncio.Event()
    # Subscribe first, then load: a change committed between the two is read twice, not never.
    conn = await _subscribe(app, changed)
    try:
        await refresh(app[OPS_SETTINGS], app[POOL], app.get(BRAND))
    except BaseException:
        await conn.close()
        raise
    async with running(functools.partial(_listen, app, conn, changed), "huoma-settings-listener"):
        yield
