"""Display leases in a worker: refilled in bulk in the background, returned on a graceful stop."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from router.keys import (
    CATALOGUE,
    DB_HEALTH,
    LIVE,
    POOL,
    SETTINGS,
)
from router.runtime.loops import running
from router.store import sql
from router.store.db import DB_ERRORS, connection

log = logging.getLogger(__name__)

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
