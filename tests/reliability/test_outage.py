"""PostgreSQL goes away under load, for real: scans go on from memory, nothing is lost, and
everything catches up by itself when it is back.

Each test runs its own embedded PostgreSQL (it is stopped, or frozen, mid-test) and `huoma serve`
with two workers as a real process. Figures land in test-artifacts/reliability/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from router.ops.uploads import import_file
from router.settings import Settings
from router.store.db import EmbeddedPostgres, create_pool, migrate
from tests.conftest import ADMIN_TOKEN, ARTIFACTS_ROOT, group_row, seed, store_row
from tests.serving import Load, Server

pytestmark = [pytest.mark.db, pytest.mark.slow]

ARTIFACTS = ARTIFACTS_ROOT / "reliability"
STORES = [f"S{i:02d}" for i in range(1, 21)]
OUTAGE_S = 60.0  # what the issue asks for: PostgreSQL stopped for a minute at lunchtime
FREEZE_S = 20.0
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class OwnPostgres:
    """An embedded PostgreSQL only this test uses, so that it can be stopped and frozen."""

    def __init__(self) -> None:
        # A short path: PostgreSQL's socket lives in it, and socket paths are limited to 107 bytes.
        self.embedded = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="hm-pg-")))
        self.url = self.embedded.start()

    def stop(self) -> None:
        self.embedded.stop()

    def start(self) -> None:
        assert self.embedded.start() == self.url

    def pids(self) -> list[int]:
        """The postmaster and every backend."""
        pid_file = self.embedded.data_dir / "pg" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze(self, sig: signal.Signals) -> None:
        for pid in self.pids():
            os.kill(pid, sig)


@pytest.fixture
async def own_pg(settings: Settings) -> AsyncIterator[tuple[OwnPostgres, Settings]]:
    pg = OwnPostgres()
    try:
        own = settings.with_(database_url=pg.url)
        conn = await asyncpg.connect(pg.url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield pg, own
    finally:
        # Whatever the test did to it: thawed, then stopped for good.
        with contextlib.suppress(OSError, ValueError):
            pg.freeze(signal.SIGCONT)
        pg.stop()


async def seed_brand(settings: Settings) -> None:
    pool = await create_pool(settings)
    try:
        await seed(
            pool,
            [store_row(s, lat=str(31.2 + i / 100)) for i, s in enumerate(STORES)],
            [group_row(f"{s}-G{n}", s, position=n) for s in STORES for n in (1, 2, 3)],
        )
        fallbacks = "store_id,name,qr_payload\n*,品牌福利群,https://weixin.qq.com/g/BRAND\n"
        await import_file(
            pool,
            "fallbacks",
            fallbacks.encode(),
            "f.csv",
            timezone="Asia/Shanghai",
            max_bytes=10**6,
            max_rows=10,
        )
    finally:
        await pool.close()


async def readiness(server: Server, tries: int = 6) -> list[dict[str, Any]]:
    """/readyz from fresh connections (so both workers get asked)."""
    answers = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for _ in range(tries):
            async with session.get(f"{server.base}/readyz", headers={"Connection": "close"}) as r:
                assert r.status == 200, await r.text()
                answers.append(await r.json())
    return answers


async def events_of(settings: Settings, visitors: set[str]) -> dict[str, int]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT visitor, count(*) AS n FROM scan_events WHERE visitor = ANY($1) GROUP BY 1",
            sorted(visitors),
        )
    finally:
        await conn.close()
    return {r["visitor"]: r["n"] for r in rows}


async def wait_caught_up(settings: Settings, visitors: set[str], within_s: float) -> float:
    """Seconds until every one of `visitors` has its scan event in PostgreSQL."""
    started = time.monotonic()
    while True:
        try:
            if len(await events_of(settings, visitors)) == len(visitors):
                return time.monotonic() - started
        except (OSError, asyncpg.PostgresError):
            pass
        assert time.monotonic() - started < within_s, "events did not catch up"
        await asyncio.sleep(0.2)


async def admin_health_status(server: Server) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.get(f"{server.base}/admin/api/health", headers=AUTH) as r,
    ):
        return r.status, await r.json()


async def shown_groups(server: Server, store: str, scans: int = 20) -> set[str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        seen = set()
        for i in range(scans):
            async with session.get(
                f"{server.base}/api/v1/route?store={store}&vid=probe-{time.time_ns()}-{i}",
                headers={"Connection": "close"},
            ) as r:
                body = await r.json()
                if body["status"] == "ok":
                    seen.add(body["group"]["id"])
        return seen


async def serving_under_load(
    settings: Settings, servers: list[Server], warm_s: float
) -> tuple[Server, Load]:
    """The brand seeded, two workers serving it (small lease blocks, so that an outage soon
    reaches the fallbacks), customers scanning for `warm_s` already."""
    await seed_brand(settings)
    server = Server(settings, 2, HUOMA_LEASE_BLOCK="5", HUOMA_STICKY_S="0")
    servers.append(server)
    await server.wait_ready(2)
    load = Load(server.base, STORES)
    load.start()
    await asyncio.sleep(warm_s)
    return server, load


def record(name: str, figures: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(name, json.dumps(figures))


async def test_a_minute_without_postgresql_under_load_loses_nothing(
    own_pg: tuple[OwnPostgres, Settings], servers: list[Server]
) -> None:
    pg, settings = own_pg
    server, load = await serving_under_load(settings, servers, warm_s=5)

    # PostgreSQL stops (a fast shutdown: every connection is cut).
    load.phase = "outage"
    pg.stop()
    stopped = time.monotonic()
    await asyncio.sleep(5)
    during = await readiness(server)
    admin_status, admin_body = await admin_health_status(server)
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))

    # PostgreSQL is back: nobody tells the workers.
    load.phase = "after"
    pg.start()
    restarted = time.monotonic()
    outage_answered = load.answered.get("outage", set())
    catch_up_s = await wait_caught_up(settings, outage_answered, within_s=60)
    ready_after_s = time.monotonic() - restarted
    while not all(a["status"] == "ready" for a in await readiness(server)):
        assert time.monotonic() - restarted < 60, "workers still degraded"
        await asyncio.sleep(0.5)
    ready_after_s = time.monotonic() - restarted
    # Leases are renewed: every store shows its groups again, not its fallback.
    for store in STORES:
        seen: set[str] = set()
        while not seen:
            seen = await shown_groups(server, store, scans=4)
            assert time.monotonic() - restarted < 60, f"{store} still on its fallback"
    # Notifications are heard again: a group reported full leaves rotation in every worker.
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.base}/admin/api/groups/S01-G1/member-count",
            json={"member_count": 200},
            headers=AUTH,
        ) as r,
    ):
        assert r.status == 200
    # Within a second or so; on a machine busy with other work, allow much longer (what is
    # proven is that the notification arrives at all after the outage, not how fast).
    heard = time.monotonic()
    while "S01-G1" in await shown_groups(server, "S01"):
        assert time.monotonic() - heard < 30, "a full group is still shown after 30 s"
        await asyncio.sleep(0.5)
    assert "S01-G1" not in await shown_groups(server, "S01")  # and stays out, in every worker
    await load.stop()
    server.stop()

    assert server.process.returncode == 0
    assert "Traceback" not in server.log.read_text()  # expected trouble, handled and said plainly
    assert load.errors == []
    assert sum(load.count(str(code)) for code in range(500, 600)) == 0
    outage_total = sum(load.statuses["outage"].values())
    assert load.count("200", "outage") == outage_total > 0
    # Groups first, within the displays leased before the outage; then fallbacks.
    assert load.count("ok", "outage") > 0 and load.count("fallback", "outage") > 0
    assert load.images["outage"][200] == sum(load.images["outage"].values())
    assert all(a["status"] == "degraded" and a["database"] == "unavailable" for a in during)
    assert admin_status == 503 and admin_body["error"]["code"] == "database_unavailable"
    answered = load.all_answered()
    events = await events_of(settings, answered)
    lost = answered - set(events)
    assert not lost, f"{len(lost)} answered scans have no event"
    assert set(events.values()) == {1}, "an event was written twice"
    record(
        "outage",
        {
            "outage_s": OUTAGE_S,
            "answered_during_outage": load.count("200", "outage"),
            "groups_shown_during_outage": load.count("ok", "outage"),
            "fallbacks_during_outage": load.count("fallback", "outage"),
            "answered_total": len(answered),
            "events_lost": len(lost),
            "events_catch_up_s": round(catch_up_s, 1),
            "ready_again_s": round(ready_after_s, 1),
            "status_5xx": 0,
        },
    )


async def test_a_frozen_postgresql_slows_nothing_customers_wait_for(
    own_pg: tuple[OwnPostgres, Settings], servers: list[Server]
) -> None:
    """PostgreSQL that takes connections and never answers (frozen: SIGSTOP) is the nasty case:
    nothing fails fast. Scans must not wait on it."""
    pg, settings = own_pg
    server, load = await serving_under_load(settings, servers, warm_s=3)
    load.phase = "frozen"
    pg.freeze(signal.SIGSTOP)
    await asyncio.sleep(FREEZE_S / 2)
    during = await readiness(server, tries=4)
    await asyncio.sleep(FREEZE_S / 2)
    load.phase = "after"
    pg.freeze(signal.SIGCONT)
    catch_up_s = await wait_caught_up(settings, load.answered.get("frozen", set()), within_s=60)
    await asyncio.sleep(2)
    await load.stop()
    server.stop()

    assert server.process.returncode == 0
    assert "Traceback" not in server.log.read_text()
    assert load.errors == [], load.errors[:5]
    assert sum(load.count(str(code)) for code in range(500, 600)) == 0
    assert load.count("200", "frozen") == sum(load.statuses["frozen"].values()) > 0
    assert load.count("fallback", "frozen") > 0
    assert all(a["status"] == "degraded" for a in during)
    answered = load.all_answered()
    events = await events_of(settings, answered)
    assert set(events) == answered and set(events.values()) == {1}
    record(
        "frozen",
        {
            "frozen_s": FREEZE_S,
            "answered_while_frozen": load.count("200", "frozen"),
            "groups_shown_while_frozen": load.count("ok", "frozen"),
            "fallbacks_while_frozen": load.count("fallback", "frozen"),
            "events_lost": len(answered - set(events)),
            "events_catch_up_s": round(catch_up_s, 1),
        },
    )
