"""The worker's PostgreSQL pool, opened (migrations applied) and closed with the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from router.keys import (
    POOL,
    QR_IMAGES,
    SETTINGS,
)
from router.store.db import create_pool, migrate

log = logging.getLogger(__name__)


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
