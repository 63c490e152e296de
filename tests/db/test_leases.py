"""The lease statements: many workers leasing at once never exceed a cap; a dead worker's unshown
displays are counted from its lease ledger and journal and given back, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from router.scan.journal import EventKind, Journal, ScanEvent
from router.settings import Settings
from router.store import sql
from router.store.journal import return_held
from router.store.ledger import Ledger, ledger_path, read_ledger
from tests.conftest import group_row, seed, store_row

pytestmark = pytest.mark.db


async def test_concurrent_leases_of_overlapping_groups_never_exceed_a_cap(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    groups = [group_row(f"G{i}", display_cap=37, position=i) for i in range(6)]
    await seed(pool, [store_row("S1")], groups)
    pks = sorted(r["id"] for r in await pool.fetch("SELECT id FROM groups"))

    async def worker(n: int) -> int:
        got = 0
        for _ in range(20):
            rows = await pool.fetch(sql.LEASE_DISPLAYS, pks, [n] * len(pks), 500)
            got += sum(r["granted"] for r in rows)
            assert all(r["leased"] <= r["cap"] == 37 for r in rows)
        return got

    granted = await asyncio.gather(*(worker(n) for n in (1, 2, 3, 5)))
    assert sum(granted) == 6 * 37
    leased = [r["displays_leased"] for r in await pool.fetch("SELECT displays_leased FROM groups")]
    assert leased == [37] * 6
    # Returned in batches, any order of callers: back to zero, never below.
    await pool.execute(sql.RETURN_DISPLAYS, pks[:3], [37, 37, 37])
    await pool.execute(sql.RETURN_DISPLAYS, pks[3:], [40, 37, 37])
    assert await pool.fetchval("SELECT sum(displays_leased) FROM groups") == 0


def _scan(journal: Journal, group: str, kind: EventKind = EventKind.SCAN) -> None:
    journal.append(
        ScanEvent(at=1.0, outcome="ok", kind=kind, store_csv=b"S1", group_csv=group.encode())
    )


async def test_a_dead_workers_displays_are_counted_from_its_ledger_and_journal(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1"), group_row("G2", position=1)])
    ids = dict(await pool.fetch("SELECT group_id, id FROM groups"))
    g1, g2 = ids["G1"], ids["G2"]
    await pool.execute("UPDATE groups SET displays_leased = 10")
    journal = Journal(tmp_path, 10**6, 10**6)
    journal.open()
    assert journal.current is not None
    path = ledger_path(journal.current.path)
    assert path is not None
    ledger = Ledger(path)
    _scan(journal, "G1")  # shown before the checkpoint: counted in it
    ledger.checkpoint(
        journal.current.path.name, journal.current.flushed + journal.backlog(), {g1: 9}
    )
    ledger.note("g", {g2: 10})
    _scan(journal, "G1")
    _scan(journal, "G2")
    _scan(journal, "G2", EventKind.REPEAT)  # a sticky repeat shows nothing new
    ledger.note("r", {g2: 4})  # taken out to be returned: counted as gone
    assert read_ledger(path)[2] == {g1: 9, g2: 6}
    returned, stranded = await return_held(pool, journal.current.path)
    # G1: 9 held at the checkpoint, 1 shown after; G2: 10 granted, 4 returned, 1 shown.
    assert (returned, stranded) == (8 + 5, 0)
    assert dict(await pool.fetch("SELECT group_id, displays_leased FROM groups")) == {
        "G1": 2,
        "G2": 5,
    }
    assert not path.exists()
    assert await return_held(pool, journal.current.path) == (0, 0)  # once only
    journal.close()


async def test_a_ledger_whose_checkpoint_names_another_journal_returns_nothing(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    g1 = await pool.fetchval("SELECT id FROM groups")
    await pool.execute("UPDATE groups SET displays_leased = 10")
    journal = Journal(tmp_path, 10**6, 10**6)
    journal.open()
    assert journal.current is not None
    path = ledger_path(journal.current.path)
    assert path is not None
    # Its showings since this checkpoint were in a rotated file, gone: they cannot be counted.
    Ledger(path).checkpoint("events-1-2-abcdef-k.jsonl", 100, {g1: 7})
    assert await return_held(pool, journal.current.path) == (0, 7)
    assert await pool.fetchval("SELECT displays_leased FROM groups") == 10  # never above a cap
    journal.close()
