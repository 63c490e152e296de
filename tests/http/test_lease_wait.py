"""A scan whose worker holds no display of its store waits for a lease, bounded: a database that
cannot answer gives the fallback at once, and the wait is counted."""

from __future__ import annotations

from typing import Any

import asyncpg

from router.keys import LIVE, POOL
from tests.conftest import group_row, seed, store_row


async def test_a_scan_waits_for_its_lease_and_a_failed_database_gives_the_fallback(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    from router.ops.uploads import import_file

    await seed(pool, [store_row("S1")], [group_row("G1")])
    await import_file(
        pool,
        "fallbacks",
        b"store_id,name,qr_payload\n*,brand,https://weixin.qq.com/g/BRAND\n",
        "f.csv",
        timezone="Asia/Shanghai",
        max_bytes=10**6,
        max_rows=10,
    )
    client = await make_client()
    book = client.app[LIVE].leases
    assert book.held() == {}  # nothing leased ahead of need
    body = await (await client.get("/api/v1/route?store=S1&vid=visitor-0001")).json()
    assert body["status"] == "ok" and body["group"]["id"] == "G1"
    assert await pool.fetchval("SELECT displays_leased FROM groups WHERE group_id = 'G1'") == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'huoma_lease_waits_total{result="ok"} 1.0' in metrics

    await client.app[POOL].close()  # PostgreSQL as good as gone
    body = await (await client.get("/api/v1/route?store=S1&vid=visitor-0002")).json()
    assert body["status"] == "fallback"
    metrics = await (await client.get("/metrics")).text()
    assert 'huoma_lease_waits_total{result="timeout"} 1.0' in metrics
