"""Stores picked by hand have their own, far lower limit than scans, and their own 429 code and
wording, so the customer's page can keep the QR it shows and say honestly what happened."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.conftest import group_row, seed, store_row


async def test_picking_stores_too_fast_is_its_own_429_and_scans_still_answer(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1"), store_row("S2")], [group_row("G1"), group_row("G2", "S2")])
    client = await make_client(rate_picks_per_visitor=1, rate_picks_visitor_burst=2)
    vid = "&vid=visitor-aaaa"
    for store in ("S1", "S2"):
        assert (await client.get(f"/api/v1/route?store={store}{vid}")).status == 200
    refused = await client.get(f"/api/v1/route?store=S1{vid}")
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "60"  # one a minute
    error = (await refused.json())["error"]
    assert error["code"] == "picks_limited"
    assert error["message"].startswith("您切换门店太频繁，请 60 秒后再试 / too many stores picked")
    # The scan limit is another: the same visitor scanning where it stands is answered.
    located = await client.get(f"/api/v1/route?lat=31.2304&lng=121.4737&coord=gcj02{vid}")
    assert located.status == 200
    metrics = await (await client.get("/metrics")).text()
    assert 'huoma_route_outcomes_total{outcome="rate_limited"} 1.0' in metrics
