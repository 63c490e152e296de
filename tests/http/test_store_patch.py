"""A change to a few stores reaches every worker as a patch of those stores, not a rebuild."""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from tests.conftest import AUTH, eventually, group_row, scan, seed, store_row


async def reloads(client: Any) -> dict[str, float]:
    text = await (await client.get("/metrics")).text()
    return {
        m[1]: float(m[2])
        for m in re.finditer(r'huoma_catalogue_reloads_total\{result="(\w+)"\} (\S+)', text)
    }


async def test_two_workers_patch_a_retired_group_and_an_uploaded_one_without_rebuilding(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2", lat=31.3)],
        [group_row("G1"), group_row("G2", position=1), group_row("G3", "S2")],
    )
    a, b = await make_client(), await make_client()
    before = [await reloads(a), await reloads(b)]
    assert all(r.get("patch", 0) == 0 for r in before)
    # Retire G1 through worker a: both workers hand out G2 next.
    response = await a.post("/admin/api/groups/G1/retire", headers=AUTH)
    assert response.status == 200, await response.text()
    for client in (a, b):

        async def moved_on(c: Any = client) -> bool:
            return (await scan(c))["group"]["id"] == "G2"

        await eventually(moved_on)
    # An upload for one store: a replaced code and a new group, patched in place everywhere.
    form = "group_id,store_id,name,qr_payload,position\r\nG2,S1,换码,https://weixin.qq.com/g/NEW2,0\r\n"
    form += "G4,S1,新群,https://weixin.qq.com/g/NEW4,1\r\n"
    response = await b.post(
        "/admin/api/uploads/groups?filename=g.csv", data=form.encode(), headers=AUTH
    )
    assert response.status == 200, await response.text()
    for client in (a, b):

        async def renamed(c: Any = client) -> bool:
            return (await scan(c))["group"]["name"] == "换码"

        await eventually(renamed)
        after = await reloads(client)
        i = 0 if client is a else 1
        # At least one patch (a worker may apply the retire and the upload in one, when both
        # notices are waiting: a scan may already move on before the retire's patch lands, since a
        # retired group is never leased) and no rebuild.
        assert after.get("patch", 0) >= before[i].get("patch", 0) + 1
        assert after.get("ok", 0) == before[i].get("ok", 0)  # no rebuild
    # The other store was never touched.
    assert (await scan(a, "/api/v1/route?store=S2"))["group"]["id"] == "G3"


async def test_a_change_to_more_stores_than_the_threshold_rebuilds(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1"), store_row("S2", lat=31.3)], [group_row("G1")])
    client = await make_client(patch_max_stores=1)
    before = await reloads(client)
    form = "group_id,store_id,name,qr_payload\r\nG8,S1,a,https://weixin.qq.com/g/A8\r\n"
    form += "G9,S2,b,https://weixin.qq.com/g/A9\r\n"
    response = await client.post(
        "/admin/api/uploads/groups?filename=g.csv", data=form.encode(), headers=AUTH
    )
    assert response.status == 200, await response.text()

    async def rebuilt() -> bool:
        return (await reloads(client)).get("ok", 0) > before.get("ok", 0)

    await eventually(rebuilt)
    assert (await reloads(client)).get("patch", 0) == before.get("patch", 0)
    assert (await scan(client, "/api/v1/route?store=S2"))["group"]["id"] == "G9"
