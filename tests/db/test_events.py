"""Scan events: every answer journalled, flushed into PostgreSQL exactly once, replayed after a crash."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from router.scan.catalogue import csv_field
from router.scan.journal import Journal, ScanEvent
from router.store.journal import adopt_orphans, flush
from tests.conftest import group_row, seed, store_row

pytestmark = pytest.mark.db


async def events(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM scan_events ORDER BY at")


async def wait_for_events(
    pool: asyncpg.Pool, count: int, within: float = 5.0
) -> list[asyncpg.Record]:
    deadline = time.monotonic() + within
    while True:
        rows = await events(pool)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def test_every_answer_becomes_one_event_with_a_rounded_location(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        # S2 is farther than HUOMA_MAX_DISTANCE_M from S1: its customers are not sent on to S1.
        [store_row("S1"), store_row("S2", lat=31.30)],
        [group_row("G1"), group_row("G2", "S2", member_count=200, capacity=200)],
    )
    await seed_brand_fallback(pool)
    client = await make_client(events_flush_s=0.05)
    urls = [
        "/api/v1/route?lat=31.230412&lng=121.473788&coord=gcj02&acc=35&entry=counter-7",  # ok
        "/api/v1/route?store=S2",  # fallback
        "/api/v1/route?lat=10&lng=10",  # no_store_nearby
        "/api/v1/route",  # no_location
        "/api/v1/route?lat=abc&lng=1",  # bad input
    ]
    for url in urls:
        await client.get(url)
    rows = await wait_for_events(pool, len(urls))
    assert [r["outcome"] for r in rows] == [
        "ok",
        "fallback",
        "no_store_nearby",
        "no_location",
        "bad_input",
    ]
    ok = rows[0]
    assert (ok["entry"], ok["store_id"], ok["group_id"], ok["coord"]) == (
        "counter-7",
        "S1",
        "G1",
        "gcj02",
    )
    assert (ok["lat_approx"], ok["lng_approx"]) == (pytest.approx(31.230), pytest.approx(121.474))
    assert ok["accuracy_m"] == 35 and ok["distance_m"] == pytest.approx(8.5, abs=0.5)
    assert rows[1]["group_id"] == "fallback:*"
    assert all(r["visitor"] for r in rows[:4])
    # A returning visitor keeps one id across events.
    first = await (await client.get("/api/v1/route?store=S1")).json()
    await client.get("/api/v1/route?store=S1")
    rows = await wait_for_events(pool, len(urls) + 2)
    assert [r["visitor"] for r in rows[-2:]] == [first["visitor"]] * 2


async def seed_brand_fallback(pool: asyncpg.Pool) -> None:
    from router.ops.uploads import import_file

    data = b"store_id,name,qr_payload\n*,brand,https://weixin.qq.com/g/BRAND\n"
    await import_file(
        pool, "fallbacks", data, "f.csv", timezone="Asia/Shanghai", max_bytes=10**6, max_rows=10
    )


def dead_worker_journal(directory: Path, count: int) -> Journal:
    """A journal written by a worker that died before flushing: its file is left unlocked."""
    journal = Journal(directory, 10**9, 10**9)
    journal.open()
    for i in range(count):
        journal.append(
            ScanEvent(
                at=time.time(),
                store_csv=csv_field("S1"),
                group_csv=csv_field("G1"),
                visitor=f"visitor-{i:04d}",
                outcome="ok",
                distance_m=12.0,
                accuracy_m=20.0,
                lat=31.23,
                lng=121.47,
                coord="wgs84",
            ),
        )
    journal.close()
    return journal


async def test_a_dead_workers_journal_is_replayed_exactly_once(
    pool: asyncpg.Pool, settings: Any, tmp_path: Path
) -> None:
    directory = tmp_path / "journal"
    dead_worker_journal(directory, 250)
    alive = Journal(directory, 10**9, 10**9)
    alive.open()
    assert await adopt_orphans(alive, pool) == 250
    assert await pool.fetchval("SELECT count(*) FROM scan_events") == 250
    assert list(directory.glob("events-*.jsonl")) == [alive._current.path]  # type: ignore[union-attr]
    alive.close()


async def test_a_journal_written_before_event_kinds_is_replayed_as_scans(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """After an upgrade, a dead worker's journal of the old format (no kind at the end of its
    lines, no kind marker in its name) is replayed, each line a scan showing its group."""
    directory = tmp_path / "journal"
    directory.mkdir()
    await seed(pool, [store_row("S1")], [group_row("G1")])
    old = directory / "events-4242-1700000000000-abcdef.jsonl"
    old.write_bytes(
        b"0123456789abcdef0000000000000001,1700000000.000,counter-1,S1,G1,visitor-0001,ok,12.0,20.0,"
        b"31.230,121.470,wgs84\n"
        b"0123456789abcdef0000000000000002,1700000001.000,,,,visitor-0002,no_location,,,,,\n"
    )
    alive = Journal(directory, 10**9, 10**9)
    alive.open()
    assert await adopt_orphans(alive, pool) == 2
    alive.close()
    rows = await pool.fetch("SELECT kind, outcome, group_id FROM scan_events ORDER BY at")
    assert [tuple(r) for r in rows] == [("scan", "ok", "G1"), ("scan", "no_location", None)]
    assert await pool.fetchval("SELECT displays_shown FROM groups WHERE group_id = 'G1'") == 1


async def test_a_new_journal_is_never_visible_to_other_workers_before_it_is_locked(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker adopting orphans at the very moment this one opens its journal (between
    creating the file and locking it) must not take it: that lost a worker's events once."""
    import fcntl

    from router.scan import journal as events

    directory = tmp_path / "journal"
    adopter = Journal(directory, 10**9, 10**9)
    seen_unlocked: list[list[Path]] = []
    real_flock = fcntl.flock

    def flock_after_a_look(fd: int, op: int) -> None:
        # What an adopter scanning right now would find, before the owner holds its lock.
        seen_unlocked.append(sorted(directory.glob("events-*.jsonl")))
        real_flock(fd, op)

    monkeypatch.setattr(events.fcntl, "flock", flock_after_a_look)
    owner = Journal(directory, 10**9, 10**9)
    owner.open()
    monkeypatch.setattr(events.fcntl, "flock", real_flock)
    assert seen_unlocked == [[]]
    adopter.open()
    assert await adopt_orphans(adopter, pool) == 0
    assert owner._current is not None and owner._current.path.exists()
    owner.append(
        ScanEvent(
            at=1.0,
            store_csv=b'"S1"',
            group_csv=b'"G1"',
            visitor="visitor-x",
            outcome="ok",
            distance_m=1.0,
            accuracy_m=1.0,
            lat=1.0,
            lng=1.0,
            coord="gcj02",
        )
    )
    assert await flush(owner, pool) == 1
    owner.close()
    adopter.close()


async def test_a_replay_after_a_crash_between_commit_and_offset_inserts_nothing_twice(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    directory = tmp_path / "journal"
    journal = Journal(directory, 10**9, 10**9)
    journal.open()
    for i in range(10):
        journal.append(
            ScanEvent(
                at=time.time(),
                store_csv=csv_field("S1"),
                group_csv=csv_field("G1"),
                visitor=f"v-{i:04d}-xxxx",
                outcome="ok",
                distance_m=1.0,
                accuracy_m=1.0,
                lat=31.0,
                lng=121.0,
                coord="gcj02",
            ),
        )
    assert await flush(journal, pool) == 10
    path = journal._current.path  # type: ignore[union-attr]
    journal.close()
    path.with_suffix(".offset").unlink()  # as if the process died before saving the offset
    other = Journal(directory, 10**9, 10**9)
    other.open()
    await adopt_orphans(other, pool)
    assert await pool.fetchval("SELECT count(*) FROM scan_events") == 10
    other.close()


def test_at_its_bound_the_journal_drops_and_counts_instead_of_failing_the_scan(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path, max_bytes=500, rotate_bytes=10**9)
    journal.open()
    results = [
        journal.append(
            ScanEvent(
                at=1.0,
                store_csv=b'"S1"',
                group_csv=b'"G1"',
                visitor="visitor-x",
                outcome="ok",
                distance_m=1.0,
                accuracy_m=1.0,
                lat=1.0,
                lng=1.0,
                coord="gcj02",
            )
        )
        for _ in range(10)
    ]
    assert results[0] is True
    assert results[-1] is False
    assert journal.dropped == results.count(False) > 0
    assert journal.backlog() <= 500 + 200
    journal.close()


def test_a_journal_that_cannot_be_written_drops_without_raising(tmp_path: Path) -> None:
    journal = Journal(tmp_path, max_bytes=10**6, rotate_bytes=10**9)
    assert journal.append(ScanEvent(at=1.0, outcome="ok")) is False  # never opened
    assert journal.dropped == 1


async def test_a_large_flushed_journal_is_rotated_and_deleted(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    journal = Journal(tmp_path, max_bytes=10**9, rotate_bytes=1000)
    journal.open()
    first = journal._current.path  # type: ignore[union-attr]
    for i in range(20):
        journal.append(
            ScanEvent(
                at=time.time(),
                store_csv=csv_field("S1"),
                group_csv=csv_field("G1"),
                visitor=f"v-{i:04d}-rotate",
                outcome="ok",
                distance_m=1.0,
                accuracy_m=1.0,
                lat=31.0,
                lng=121.0,
                coord="gcj02",
            ),
        )
    await flush(journal, pool)
    assert not first.exists()
    assert journal._current.path != first  # type: ignore[union-attr]
    assert await pool.fetchval("SELECT count(*) FROM scan_events") == 20
    journal.close()


async def test_metrics_show_the_journal(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client(events_flush_s=0.05)
    await client.get("/api/v1/route")
    await wait_for_events(pool, 1)
    text = await (await client.get("/metrics")).text()
    assert "huoma_events_journalled 1.0" in text
    assert "huoma_events_dropped 0.0" in text


async def test_ids_with_commas_quotes_and_chinese_survive_the_journal(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    journal = Journal(tmp_path, 10**9, 10**9)
    journal.open()
    journal.append(
        ScanEvent(
            at=time.time(),
            entry="e-1",
            store_csv=csv_field('店,"一"'),
            group_csv=csv_field("G\n2"),
            visitor="visitor-odd1",
            outcome="ok",
        ),
    )
    assert await flush(journal, pool) == 1
    row = await pool.fetchrow("SELECT * FROM scan_events")
    assert (row["store_id"], row["group_id"], row["entry"], row["distance_m"]) == (
        '店,"一"',
        "G\n2",
        "e-1",
        None,
    )
    journal.close()


async def test_a_torn_line_is_skipped_and_does_not_block_the_journal(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    journal = Journal(tmp_path, 10**9, 10**9)
    journal.open()
    journal.append(
        ScanEvent(
            at=time.time(),
            store_csv=b'"S1"',
            group_csv=b'"G1"',
            visitor="visitor-good1",
            outcome="ok",
            distance_m=1.0,
            accuracy_m=1.0,
            lat=1.0,
            lng=1.0,
            coord="gcj02",
        )
    )
    path = journal._current.path  # type: ignore[union-attr]
    with path.open("ab") as f:
        f.write(b"not-a-uuid,garbage\n")
    journal._size = path.stat().st_size  # as if this worker had written it
    journal.append(
        ScanEvent(
            at=time.time(),
            store_csv=b'"S1"',
            group_csv=b'"G1"',
            visitor="visitor-good2",
            outcome="ok",
            distance_m=1.0,
            accuracy_m=1.0,
            lat=1.0,
            lng=1.0,
            coord="gcj02",
        )
    )
    await flush(journal, pool)
    assert sorted(r["visitor"] for r in await pool.fetch("SELECT visitor FROM scan_events")) == [
        "visitor-good1",
        "visitor-good2",
    ]
    assert journal.backlog() == 0
    journal.close()
