"""Several worker processes on one port, one database: caps hold, events balance, kills lose nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from router.settings import Settings
from tests.conftest import ADMIN_TOKEN, group_row, seed, store_row
from tests.serving import Load, Server, scan_once

pytestmark = [pytest.mark.db, pytest.mark.slow]


async def test_two_workers_never_show_a_group_beyond_its_cap_and_log_every_answer_once(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    groups = [group_row(f"G{i}", display_cap=7, position=i) for i in range(1, 5)]  # 28 displays
    await seed(pool, [store_row("S1")], groups)
    await seed_fallback(pool)
    server = Server(settings, 2, HUOMA_LEASE_BLOCK="3", HUOMA_STICKY_S="0")
    servers.append(server)
    await server.wait_ready(2)
    answered: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        vids = [f"visitor-{i:05d}" for i in range(300)]
        sem = asyncio.Semaphore(32)

        async def one(vid: str) -> None:
            async with sem:
                body = await scan_once(session, server.base, vid)
                if body is not None:
                    answered[vid] = body

        await asyncio.gather(*(one(v) for v in vids))
    server.stop()
    assert server.process.returncode == 0
    assert len(answered) == 300
    shown: dict[str, int] = {}
    for body in answered.values():
        if body["status"] == "ok":
            shown[body["group"]["id"]] = shown.get(body["group"]["id"], 0) + 1
    assert all(n <= 7 for n in shown.values()), shown
    assert sum(shown.values()) >= 28 - 2 * 3 * 4  # at most one block per worker and group unused
    assert {b["status"] for b in answered.values()} <= {"ok", "fallback"}
    rows = await pool.fetch("SELECT visitor, outcome, group_id FROM scan_events")
    assert len(rows) == 300
    assert {r["visitor"] for r in rows} == set(answered)
    per_group = await pool.fetch(
        "SELECT group_id, count(*) AS n FROM scan_events WHERE outcome = 'ok' GROUP BY group_id"
    )
    assert {r["group_id"]: r["n"] for r in per_group} == shown
    # Unshown leases went back: what is leased is what was shown.
    leased = dict(
        await pool.fetch("SELECT group_id, displays_leased FROM groups WHERE kind = 'group'")
    )
    assert {g: n for g, n in leased.items() if n} == shown


async def test_a_member_count_reaches_every_worker_process_within_a_second(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1", position=0), group_row("G2", position=1)])
    # Blocks larger than the scans below: this is about the count reaching both workers.
    server = Server(settings, 2, HUOMA_STICKY_S="0", HUOMA_LEASE_BLOCK="50")
    servers.append(server)
    await server.wait_ready(2)
    async with aiohttp.ClientSession() as session:
        assert (await scan_once(session, server.base, "visitor-00000"))["group"]["id"] == "G1"  # type: ignore[index]
        async with session.post(
            f"{server.base}/admin/api/groups/G1/member-count",
            json={"member_count": 200},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as r:
            assert r.status == 200
        await asyncio.sleep(1.0)
        seen = [await scan_once(session, server.base, f"visitor-{i:05d}") for i in range(1, 21)]
    assert all(b is not None and b["group"] is not None for b in seen), " ".join(
        str(b and b["status"]) for b in seen
    )
    assert [b["group"]["id"] for b in seen if b] == ["G2"] * 20


async def test_a_worker_killed_mid_load_loses_no_answered_scan(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed(pool, [store_row("S1")], [group_row(f"G{i}", position=i) for i in range(3)])
    server = Server(settings, 2, HUOMA_STICKY_S="0", HUOMA_EVENTS_FLUSH_S="2")
    servers.append(server)
    await server.wait_ready(2)
    answered: set[str] = set()
    killed: list[int] = []
    halfway = asyncio.Event()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        sem = asyncio.Semaphore(8)

        async def one(vid: str) -> None:
            async with sem:
                if await scan_once(session, server.base, vid) is not None:
                    answered.add(vid)
                    if len(answered) >= 150:
                        halfway.set()

        async def killer() -> None:
            await halfway.wait()
            victim = server.workers()[0]
            os.kill(victim, signal.SIGKILL)  # its journal holds unflushed events (flush every 2 s)
            killed.append(victim)

        await asyncio.gather(killer(), *(one(f"visitor-{i:05d}") for i in range(600)))
    assert killed
    await server.wait_ready(2)  # the supervisor replaced the dead worker
    assert killed[0] not in server.workers()
    server.stop()
    assert len(answered) > 400
    rows = await pool.fetch("SELECT visitor, count(*) AS n FROM scan_events GROUP BY visitor")
    counts = {r["visitor"]: r["n"] for r in rows}
    missing = answered - set(counts)
    assert not missing, f"{len(missing)} answered scans missing from scan_events"
    assert all(n == 1 for n in counts.values())


async def seed_fallback(pool: asyncpg.Pool) -> None:
    from router.ops.uploads import import_file

    data = b"store_id,name,qr_payload\n*,brand,https://weixin.qq.com/g/BRAND\n"
    await import_file(
        pool, "fallbacks", data, "f.csv", timezone="Asia/Shanghai", max_bytes=10**6, max_rows=10
    )


async def test_sigterm_finishes_requests_in_flight_flushes_events_and_returns_leases(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2", lat="31.24")],
        [group_row(f"{s}-G{i}", s, position=i) for s in ("S1", "S2") for i in range(3)],
    )
    # Events stay in the journals until the stop: the final flush has to move them.
    server = Server(settings, 2, HUOMA_STICKY_S="0", HUOMA_EVENTS_FLUSH_S="30")
    servers.append(server)
    await server.wait_ready(2)
    load = Load(server.base, ["S1", "S2"], customers=4)
    load.start()
    await asyncio.sleep(2)

    # An upload whose body trickles in over two seconds is in flight when SIGTERM arrives.
    rows = "store_id,name,city,address,lat,lng,coord\n" + "".join(
        f"N{i},店{i},上海,路{i}号,31.{i:04d},121.4,gcj02\n" for i in range(2000)
    )
    chunks = [rows[i : i + 8000].encode() for i in range(0, len(rows), 8000)]

    async def trickle() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
            await asyncio.sleep(2.0 / len(chunks))

    async with aiohttp.ClientSession() as session:
        upload = asyncio.create_task(
            session.post(
                f"{server.base}/admin/api/uploads/stores",
                params={"filename": "stores.csv", "dry_run": "1"},
                data=trickle(),
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        )
        await asyncio.sleep(0.5)
        load.phase = "stopping"
        stop_sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        response = await upload
        assert response.status == 200, await response.text()
        assert (await response.json())["rows"] == 2000
    await asyncio.to_thread(server.process.wait, 60)
    stopped_in = time.monotonic() - stop_sent
    await load.stop()

    assert server.process.returncode == 0
    assert stopped_in < settings.shutdown_timeout_s + 5  # bounded: nothing hangs the stop
    assert load.errors == [] or all("stopping" in e for e in load.errors)
    answered = load.all_answered()
    rows_by_visitor = dict(
        await pool.fetch("SELECT visitor, count(*) FROM scan_events GROUP BY visitor")
    )
    assert answered <= set(rows_by_visitor), "answered scans missing: the final flush failed"
    assert set(rows_by_visitor.values()) == {1}
    # Unshown displays went back: what stays leased is what was shown.
    leased = dict(await pool.fetch("SELECT group_id, displays_leased FROM groups"))
    shown = dict(
        await pool.fetch(
            "SELECT group_id, count(*) FROM scan_events WHERE outcome = 'ok' GROUP BY group_id"
        )
    )
    assert {g: n for g, n in leased.items() if n} == shown
    assert sum(load.shown.values()) <= sum(shown.values())
