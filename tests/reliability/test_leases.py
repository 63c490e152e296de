"""Display leases under a rush: a burst at one store gets the displays its groups have left, on
one worker and across `huoma serve` processes sharing one database; never above a cap."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from router.settings import Settings
from tests.conftest import eventually, group_row, seed, store_row
from tests.serving import Server, scan_once

pytestmark = [pytest.mark.db, pytest.mark.slow]

CAP = 25
GROUPS = 4  # 100 displays in all

# The wait for a lease is bounded by HUOMA_LEASE_WAIT_S (50 ms by default). Several test runs share
# this machine's two cores, so a database round trip can take longer than that here: the bound is
# raised to keep the test about the design (scans wait together, one statement each time) rather
# than about this machine's load. A wait that times out still answers at once (the fallback).
WAIT = {"HUOMA_LEASE_WAIT_S": "1"}


async def seed_rush(pool: asyncpg.Pool) -> None:
    groups = [group_row(f"G{i}", display_cap=CAP, position=i) for i in range(1, GROUPS + 1)]
    await seed(pool, [store_row("S1")], groups)
    from router.ops.uploads import import_file

    await import_file(
        pool,
        "fallbacks",
        b"store_id,name,qr_payload\n*,brand,https://weixin.qq.com/g/BRAND\n",
        "f.csv",
        timezone="Asia/Shanghai",
        max_bytes=10**6,
        max_rows=10,
    )


async def burst(
    bases: list[str], visitors: int, spread_s: float = 0.0, prefix: str = "rush"
) -> list[dict[str, Any] | None]:
    """`visitors` new visitors (distinct vid, no cookies) scanning S1, alternating between
    `bases`, all at once or their starts spread evenly over `spread_s` seconds."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:

        async def one(i: int) -> dict[str, Any] | None:
            if spread_s:
                await asyncio.sleep(spread_s * i / visitors)
            return await scan_once(session, bases[i % len(bases)], f"{prefix}-{i:05d}")

        return await asyncio.gather(*(one(i) for i in range(visitors)))


def statuses(answers: list[dict[str, Any] | None]) -> Counter[str]:
    return Counter(a["status"] if a is not None else "error" for a in answers)


async def assert_caps_hold(pool: asyncpg.Pool, answers: list[dict[str, Any] | None]) -> None:
    shown = Counter(a["group"]["id"] for a in answers if a is not None and a["status"] == "ok")
    assert all(n <= CAP for n in shown.values()), shown
    over = await pool.fetch(
        "SELECT group_id FROM groups WHERE displays_leased > coalesce(display_cap, 500)"
    )
    assert not over


async def test_a_burst_at_one_store_on_one_worker_gets_every_display_its_groups_have(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed_rush(pool)
    server = Server(settings, 1, HUOMA_STICKY_S="0", **WAIT)
    servers.append(server)
    await server.wait_ready(1)
    answers = await burst([server.base], 100)
    assert statuses(answers) == {"ok": 100}
    await assert_caps_hold(pool, answers)
    # The next one finds every cap used: the brand's fallback, at once.
    (after,) = await burst([server.base], 1, prefix="late")
    assert after is not None and after["status"] == "fallback"


async def two_hosts(settings: Settings, servers: list[Server]) -> list[Server]:
    """Two `huoma serve` processes (two workers each) sharing one database and secret, each with
    its own data directory: two hosts."""
    started = []
    for name in ("host-a", "host-b"):
        data_dir = settings.data_dir / name
        data_dir.mkdir()
        server = Server(
            dataclasses.replace(settings, data_dir=data_dir), 2, HUOMA_STICKY_S="0", **WAIT
        )
        servers.append(server)
        started.append(server)
    for server in started:
        await server.wait_ready(2)
    return started


async def test_a_burst_at_once_across_two_hosts_gets_nine_in_ten_of_the_displays(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed_rush(pool)
    hosts = await two_hosts(settings, servers)
    answers = await burst([h.base for h in hosts], 100)
    got = statuses(answers)
    assert got["ok"] >= 90, got
    assert got["ok"] + got["fallback"] == 100, got
    await assert_caps_hold(pool, answers)


async def test_workers_stopped_together_at_a_large_brand_return_every_unshown_display(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    stores = [store_row(f"S{i:05d}", lat=f"{30 + i / 10_000:.4f}") for i in range(6_000)]
    groups = [
        group_row(f"S{i:05d}-G{n}", f"S{i:05d}", position=n) for i in range(6_000) for n in (1, 2)
    ]
    await seed(pool, stores, groups)
    # Leases taken at start-up (two groups of every store: without waits for a lease) and idle
    # return off: every worker holds all it leased until the stop, the most a stop ever has to
    # give back; three workers stop together.
    # A short statement timeout: the stop must return in batches small enough for it while the
    # workers wait on each other's row locks (one statement over every group, as before, was
    # cancelled by the timeout and its displays stayed used).
    server = Server(
        settings, 3, HUOMA_LEASE_IDLE_S="0", HUOMA_LEASE_WAIT_S="0", HUOMA_DB_TIMEOUT_S="0.5"
    )
    servers.append(server)
    await server.wait_ready(3)
    assert await pool.fetchval("SELECT sum(displays_leased) FROM groups") > 12_000
    server.stop()
    assert server.process.returncode == 0
    # No traffic: nothing was shown, so nothing may stay marked used.
    assert await pool.fetchval("SELECT sum(displays_leased) FROM groups") == 0
    log = server.log.read_text()
    assert "stay used" not in log, log[-2000:]


async def test_a_burst_spread_over_three_seconds_across_two_hosts_gets_every_display(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed_rush(pool)
    hosts = await two_hosts(settings, servers)
    answers = await burst([h.base for h in hosts], 100, spread_s=3.0)
    assert statuses(answers) == {"ok": 100}
    await assert_caps_hold(pool, answers)


async def test_a_killed_workers_displays_come_back_when_its_journal_is_replayed(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    stores = [store_row(f"S{i}", lat=f"31.{i:04d}") for i in range(1, 4)]
    groups = [group_row(f"S{i}-G{n}", f"S{i}", position=n) for i in range(1, 4) for n in (1, 2, 3)]
    await seed(pool, stores, groups)
    # Start-up leases (no waits) and no idle return: each worker holds blocks it has not shown.
    server = Server(settings, 2, HUOMA_STICKY_S="0", HUOMA_LEASE_WAIT_S="0", HUOMA_LEASE_IDLE_S="0")
    servers.append(server)
    await server.wait_ready(2)
    async with aiohttp.ClientSession() as session:
        for i in range(30):
            async with session.get(
                f"{server.base}/api/v1/route?store=S{i % 3 + 1}&vid=visitor-{i:05d}",
                headers={"Connection": "close"},
            ) as r:
                assert r.status == 200
    victim = server.workers()[0]
    os.kill(victim, signal.SIGKILL)
    await server.wait_ready(2)  # replaced; its journal is replayed by a worker
    assert victim not in server.workers()
    # The replay (by the replacement at its start, or a worker's periodic look for orphans)
    # consumes the dead worker's ledger: wait for it before stopping, or the stop could come
    # first and leave the replay to the next start.
    journal_dir = Path(settings.data_dir) / "journal"

    async def replayed() -> bool:
        return not list(journal_dir.glob(f"leases-{victim}-*.ledger"))

    await eventually(replayed, within=30.0)
    server.stop()
    assert server.process.returncode == 0
    # Every display leased was shown: the killed worker's unshown ones came back (counted from
    # its journal), the others' went back at the stop.
    leased = dict(await pool.fetch("SELECT group_id, displays_leased FROM groups"))
    shown = dict(
        await pool.fetch(
            "SELECT group_id, count(*) FROM scan_events WHERE outcome = 'ok' GROUP BY group_id"
        )
    )
    assert sum(shown.values()) == 30
    assert {g: n for g, n in leased.items() if n} == shown
