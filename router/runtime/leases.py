"""Display leases in a worker: taken in bulk ahead of need, taken at once for waiting scans,
handed back when idle, and returned on a graceful stop.

Every lease and return statement runs in a task of its own that a stop does not cancel midway
(`_Statements`): a statement PostgreSQL committed is always booked here, so a graceful stop
returns every display it leased. (A lease cancelled after PostgreSQL had granted it, before the
grant reached the book, used to leave a block marked used with nobody holding it.)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from router.keys import (
    DB_HEALTH,
    JOURNAL,
    LIVE,
    METRICS,
    POOL,
    SETTINGS,
)
from router.runtime.loops import running
from router.scan.live import LeaseBook
from router.store import sql
from router.store.db import DB_ERRORS, connection
from router.store.ledger import Ledger, ledger_path

log = logging.getLogger(__name__)

# Groups leased per statement: bounded so one statement never holds many row locks for long.
LEASE_CHUNK = 2_000
# Groups returned per statement, for the same reason: a stop returns in batches of this many.
RETURN_BATCH = 1_000
# Attempts of a return batch (with back-off) before its displays are given up as stranded.
RETURN_ATTEMPTS = 5
# How often held displays are looked at for idle return, seconds.
IDLE_CHECK_S = 1.0
# How often the lease ledger is checkpointed (when anything changed), seconds.
CHECKPOINT_S = 1.0

# How often the displays leased but not shown are read for /metrics, seconds.
UNSHOWN_READ_S = 30.0

# Each worker's lease ledger (`router.store.ledger`), by its book.
_LEDGERS: weakref.WeakKeyDictionary[LeaseBook, Ledger] = weakref.WeakKeyDictionary()


def _note(book: LeaseBook, kind: str, items: dict[int, int]) -> None:
    ledger = _LEDGERS.get(book)
    if ledger is not None and items:
        try:
            ledger.note(kind, items)
        except OSError as exc:
            log.warning("cannot write the lease ledger (%r)", exc)


def _checkpoint(app: web.Application) -> None:
    book = app[LIVE].leases
    ledger = _LEDGERS.get(book)
    current = app[JOURNAL].current
    if ledger is None or current is None:
        return
    try:
        journal = app[JOURNAL]
        ledger.checkpoint(
            current.path.name,
            current.flushed + journal.backlog(),
            book.held(),
            complete=journal.dropped == 0,
        )
    except OSError as exc:
        log.warning("cannot write the lease ledger (%r)", exc)


async def _run(book: LeaseBook, work: Callable[[], Awaitable[None]]) -> None:
    """Run one statement (and its booking) in a task a cancelled caller does not stop."""
    task = asyncio.ensure_future(work())
    book.in_flight.add(task)
    task.add_done_callback(book.in_flight.discard)
    await asyncio.shield(task)


async def _settle(book: LeaseBook) -> None:
    """Wait for every statement in flight (their errors are their callers' concern)."""
    while book.in_flight:
        await asyncio.gather(*book.in_flight, return_exceptions=True)


async def _lease(app: web.Application, chunk: list[tuple[int, int]]) -> None:
    """One statement leasing `chunk` ((group, displays) sorted by group); grants booked in the
    same task, so a stop cannot separate PostgreSQL's grant from the book's."""
    book = app[LIVE].leases
    settings = app[SETTINGS]

    async def work() -> None:
        # In a transaction: a statement that times out is rolled back, never granted in
        # PostgreSQL yet unknown here (only a COMMIT lost on its way back could still be). Booked
        # only once committed: a grant rolled back must never be shown.
        async with connection(app[POOL]) as conn, conn.transaction():
            rows = await conn.fetch(
                sql.LEASE_DISPLAYS,
                [pk for pk, _ in chunk],
                [n for _, n in chunk],
                settings.display_cap,
            )
        asked = dict(chunk)
        for r in rows:
            pk = r["group_pk"]
            book.grant(pk, r["granted"], r["cap"], asked=asked[pk], leased=r["leased"])
        _note(book, "g", {r["group_pk"]: r["granted"] for r in rows})

    try:
        await _run(app[LIVE].leases, work)
    except BaseException:
        book.failed([pk for pk, _ in chunk])
        raise


async def lease_wanted(app: web.Application) -> None:
    """Lease displays for every group the book wants, in bulk."""
    book = app[LIVE].leases
    wanted = book.take_wanted()
    for i in range(0, len(wanted), LEASE_CHUNK):
        try:
            await _lease(app, wanted[i : i + LEASE_CHUNK])
        except BaseException:
            for pk, _ in wanted[i:]:
                book.want(pk)
            raise


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


async def _serve_waiters(app: web.Application) -> None:
    """Leases for scans waiting (`LeaseBook.wait`): the waiters of every group that gathered
    meanwhile, in one statement; the next statement starts as soon as this one is answered."""
    book = app[LIVE].leases
    while True:
        await book.urgent_wake.wait()
        await asyncio.sleep(0)  # scans already running add themselves to this statement
        urgent = book.take_urgent()
        if not urgent:
            continue
        try:
            await _lease(app, urgent[:LEASE_CHUNK])
        except DB_ERRORS as exc:
            app[DB_HEALTH].failed(exc)
            log.warning("leasing displays for waiting scans failed (%r)", exc)
        if len(urgent) > LEASE_CHUNK:
            book.urgent_wake.set()


async def _give_back(app: web.Application, held: dict[int, int]) -> dict[int, int]:
    """Return `held` to PostgreSQL in batches of `RETURN_BATCH` groups, each retried with
    back-off. Returns what could not be returned (empty when all went back)."""
    book = app[LIVE].leases
    pks = sorted(held)
    kept: dict[int, int] = {}
    for i in range(0, len(pks), RETURN_BATCH):
        batch = {pk: held[pk] for pk in pks[i : i + RETURN_BATCH]}
        delay = 0.1
        for attempt in range(1, RETURN_ATTEMPTS + 1):
            try:
                await _return_batch(app, batch)
                book.returned(batch)
                break
            except DB_ERRORS as exc:
                if attempt == RETURN_ATTEMPTS:
                    app[DB_HEALTH].failed(exc)
                    log.warning("returning %d group(s)' displays failed (%r)", len(batch), exc)
                    kept.update(batch)
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
    return kept


async def _return_batch(app: web.Application, batch: dict[int, int]) -> None:
    pks = sorted(batch)

    async def work() -> None:
        # In a transaction: a batch that times out is rolled back, so retrying it cannot return
        # its displays twice.
        async with connection(app[POOL]) as conn, conn.transaction():
            await conn.execute(sql.RETURN_DISPLAYS, pks, [batch[pk] for pk in pks])

    await _run(app[LIVE].leases, work)


async def _return_idle(app: web.Application) -> None:
    """Hand back displays held but unspent for `lease_idle_s`: other workers and hosts can then
    show them (a group this worker leased for a rush that moved elsewhere is not kept from them)."""
    book = app[LIVE].leases
    idle_s = app[SETTINGS].lease_idle_s
    while True:
        await asyncio.sleep(min(IDLE_CHECK_S, idle_s / 2))
        idle = book.take_idle(time.monotonic(), idle_s)
        _note(book, "r", idle)
        if idle:
            await _run(book, functools.partial(_give_back_idle, app, idle))


async def _give_back_idle(app: web.Application, idle: dict[int, int]) -> None:
    """Hand back displays taken out as idle; what could not go back is still this worker's
    (shown later, or returned later). One task that a stop lets finish: displays taken out of
    the book are either returned or put back, never neither."""
    book = app[LIVE].leases
    kept = await _give_back(app, idle)
    book.put_back(kept)
    _note(book, "g", kept)


async def return_leases(app: web.Application) -> int:
    """Give every unspent display back to PostgreSQL (a graceful stop), in bounded batches, each
    retried; returns how many went back."""
    await _settle(app[LIVE].leases)  # a lease in flight is booked before the book is emptied
    book = app[LIVE].leases
    held = book.take_all()
    _note(book, "r", held)
    kept = await _give_back(app, held)
    book.put_back(kept)
    _note(book, "g", kept)
    if kept:
        log.error(
            "could not return %d leased display(s) of %d group(s); they stay used",
            sum(kept.values()),
            len(kept),
        )
    return sum(held.values()) - sum(kept.values())


async def _checkpoints(app: web.Application) -> None:
    """Checkpoint the lease ledger while anything changed (grants, returns, showings)."""
    ledger = _LEDGERS.get(app[LIVE].leases)
    journal = app[JOURNAL]
    last: tuple[str | None, int] = (None, -1)
    while True:
        await asyncio.sleep(CHECKPOINT_S)
        current = journal.current
        seen = (current.path.name if current else None, journal.written)
        if ledger is not None and (ledger.changed or seen != last):
            _checkpoint(app)
            last = seen


async def _read_unshown(app: web.Application) -> None:
    """`huoma_displays_leased_unshown`: how many displays are spent from caps without a showing
    (ops see what workers on a host gone for good stranded)."""
    while True:
        try:
            async with connection(app[POOL]) as conn:
                app[METRICS].displays_unshown.set(await conn.fetchval(sql.LEASED_UNSHOWN))
        except DB_ERRORS as exc:
            app[DB_HEALTH].failed(exc)
        await asyncio.sleep(UNSHOWN_READ_S)


async def _loops(app: web.Application) -> None:
    """The lease loops of one worker: refills, waiting scans' leases, idle return, ledger."""
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_refill(app))
        tg.create_task(_serve_waiters(app))
        tg.create_task(_checkpoints(app))
        tg.create_task(_read_unshown(app))
        # Idle return only where scans wait for a lease: without waiting, what a worker holds
        # ahead of need is what its scans show (also while PostgreSQL is away).
        if app[SETTINGS].lease_idle_s > 0 and app[SETTINGS].lease_wait_s > 0:
            tg.create_task(_return_idle(app))


async def leases(app: web.Application) -> AsyncIterator[None]:
    current = app[JOURNAL].current
    path = ledger_path(current.path) if current is not None else None
    if path is not None:
        _LEDGERS[app[LIVE].leases] = Ledger(path)
        _checkpoint(app)
    try:
        async with running(functools.partial(_loops, app), "huoma-lease-refill"):
            yield
    finally:
        returned = await return_leases(app)
        _checkpoint(app)  # what could not be returned goes back when this journal is replayed
        log.info("returned %d unshown display(s)", returned)
