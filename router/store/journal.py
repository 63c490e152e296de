"""Journal flushing: a worker's scan-event journal copied into PostgreSQL in batches.

Each event carries an id chosen when it was journalled (`router.scan.journal`); inserts skip ids
already present and a file's flushed offset is saved only after the transaction commits, so a
replay after a crash or an outage inserts every event exactly once. Journal lines are CSV rows in
`scan_events` column order, streamed as byte ranges straight into COPY: no Python work per event.
A file no worker holds a lock on belongs to a worker that is gone: any worker adopts it.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
from pathlib import Path

import asyncpg

from router.scan.journal import KINDED, Journal, JournalFile, read_offset
from router.store import sql
from router.store.db import connection
from router.store.ledger import Ledger, ledger_path, read_ledger, shown_after

log = logging.getLogger(__name__)

# Groups per statement when a dead worker's displays are given back.
RETURN_BATCH = 1_000
# Journal bytes per INSERT transaction when catching up (about 30,000 events).
BATCH_BYTES = 4 * 1024 * 1024
# A journal line's fields, in order (the staging table has them under these names).
EVENT_COLUMNS = [
    "event_id", "at_epoch", "entry", "store_id", "group_id", "visitor", "outcome", "distance_m",
    "accuracy_m", "lat_approx", "lng_approx", "coord", "kind",
]  # fmt: skip
# A journal written before events had kinds (replayed after an upgrade): every line a scan.
LEGACY_COLUMNS = EVENT_COLUMNS[:-1]


def columns_of(path: Path) -> list[str]:
    """The fields of a journal file's lines: its name says whether they end with the kind."""
    return EVENT_COLUMNS if path.stem.endswith(KINDED) else LEGACY_COLUMNS


async def flush(journal: Journal, pool: asyncpg.Pool) -> int:
    """Copy this worker's new journal lines into PostgreSQL; returns how many events."""
    current = journal.current
    if current is None:
        return 0
    count = await _flush_file(pool, current)
    journal.flushed(count)
    return count


async def adopt_orphans(journal: Journal, pool: asyncpg.Pool) -> int:
    """Replay and delete journal files whose worker is gone. Returns events replayed."""
    replayed = 0
    own = journal.current.path if journal.current is not None else None
    for path in sorted(journal.directory.glob("events-*.jsonl")):
        if path == own:
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live worker's file
        orphan = JournalFile(path, fd, read_offset(path))
        try:
            n = await _flush_file(pool, orphan)
            replayed += n
            log.info("replayed %d event(s) from %s", n, path.name)
            await return_held(pool, path)
            for p in (orphan.path, orphan.offset_path):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        finally:
            os.close(fd)
    journal.flushed_events += replayed
    return replayed


async def return_held(pool: asyncpg.Pool, journal_path: Path) -> tuple[int, int]:
    """Give back the displays the worker of an orphaned journal held when it died, counted from
    its lease ledger and its journal (`router.store.ledger`); the ledger is then deleted.
    Returns (displays returned, displays that stay spent because they cannot be counted)."""
    path = ledger_path(journal_path)
    if path is None or not path.exists():
        return 0, 0
    name, offset, held = read_ledger(path)
    held = {pk: n for pk, n in held.items() if n > 0}
    if name != journal_path.name:
        # Its showings since the checkpoint are in a journal file already gone: counting them is
        # impossible, returning without them could exceed a cap. They stay spent.
        stranded = sum(held.values())
        if stranded:
            log.warning(
                "%d display(s) held by the worker of %s stay spent: its lease ledger's "
                "checkpoint names %s",
                stranded,
                journal_path.name,
                name,
            )
        path.unlink(missing_ok=True)
        return 0, stranded
    shown = shown_after(journal_path, offset)
    if shown:
        async with connection(pool) as conn:
            keys = dict(await conn.fetch(sql.GROUP_KEYS, list(shown)))
        for group_id, n in shown.items():
            pk = keys.get(group_id)
            if pk in held:
                held[pk] -= n
    held = {pk: n for pk, n in held.items() if n > 0}
    pks = sorted(held)
    ledger = Ledger(path)
    for i in range(0, len(pks), RETURN_BATCH):
        batch = pks[i : i + RETURN_BATCH]
        async with connection(pool) as conn, conn.transaction():
            await conn.execute(sql.RETURN_DISPLAYS, batch, [held[pk] for pk in batch])
        # Booked at once: a replay interrupted here and retried does not return them twice.
        ledger.note("r", {pk: held[pk] for pk in batch})
    path.unlink(missing_ok=True)
    returned = sum(held.values())
    if returned:
        log.info(
            "returned %d display(s) the worker of %s held unshown", returned, journal_path.name
        )
    return returned, 0


def _read_from(path: Path, offset: int) -> tuple[bytes, int]:
    """Complete lines after `offset` (at most about BATCH_BYTES), and the offset past them."""
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(BATCH_BYTES)
    end = data.rfind(b"\n")
    if end < 0:
        return b"", offset
    return data[: end + 1], offset + end + 1


async def _copy(conn: asyncpg.Connection, data: bytes, columns: list[str]) -> int:
    """Copy journal lines in; returns how many events they held (COPY's own count). Scans
    that showed a group for the first time count on that group's displays shown."""
    await conn.execute(sql.CREATE_EVENT_STAGING)
    status: str = await conn.copy_to_table(
        "import_events", source=io.BytesIO(data), columns=columns, format="csv"
    )
    await conn.execute(sql.INSERT_EVENTS)
    return int(status.rpartition(" ")[2] or 0)


async def _copy_salvaging(conn: asyncpg.Connection, data: bytes, columns: list[str]) -> int:
    """The slow path for a batch PostgreSQL refused: line by line, skipping unreadable ones
    (a torn write after a disk filled up, say) instead of blocking the journal forever."""
    copied = 0
    for line in data.splitlines(keepends=True):
        try:
            async with conn.transaction():
                copied += await _copy(conn, line, columns)
        except asyncpg.PostgresError as exc:
            log.error("skipping an unreadable journal line (%s): %r", exc, line[:200])
    return copied


async def _flush_file(pool: asyncpg.Pool, jf: JournalFile) -> int:
    total = 0
    columns = columns_of(jf.path)
    while True:
        data, end = _read_from(jf.path, jf.flushed)
        if not data:
            return total
        async with connection(pool) as conn:
            try:
                async with conn.transaction():
                    copied = await _copy(conn, data, columns)
            except (asyncpg.DataError, asyncpg.exceptions.BadCopyFileFormatError):
                copied = await _copy_salvaging(conn, data, columns)
        jf.flushed = end
        jf.save_offset()
        total += copied
