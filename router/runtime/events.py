"""Scan events in a worker: the journal flushed into PostgreSQL in the background, orphaned
journals adopted, PostgreSQL's health watched for /readyz."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from router.keys import (
    DB_HEALTH,
    JOURNAL,
    POOL,
    SETTINGS,
)
from router.runtime.loops import running
from router.store import journal as journal_store
from router.store.db import DB_ERRORS, ping

log = logging.getLogger(__name__)

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
