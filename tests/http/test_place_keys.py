"""Every comparison of a store's city or region goes through one key (city_key): the trial's
成都 / 成都市 case for a limited account, the health filters, store links by region and alert
robots, for stores uploaded now and stores stored before the keys existed."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg

from router.store.db import refresh_place_keys
from router.store.opsettings import Webhook
from tests.accounts import make_token
from tests.conftest import AUTH, group_row, seed, store_row

STORE_HEADER = "store_id,name,city,address,lat,lng,coord\n"
CHENGDU = {"lat": 30.66, "lng": 104.06}


async def _seed(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [
            store_row("CD1", city="成都", **CHENGDU),
            store_row("CD2", city="成都", **CHENGDU),
            store_row("880103", city="成都市", **CHENGDU),
            store_row("YB1", city="延边朝鲜族自治州", lat=42.9, lng=129.5),
            store_row("SH1", city="上海", region="华东大区"),
            store_row("SH2", city="上海市"),
        ],
        [group_row("G1", "CD1"), group_row("G3", "880103")],
    )


async def _health(client: Any, headers: dict[str, str], **query: str) -> set[str]:
    response = await client.get("/admin/api/health", params=query, headers=headers)
    assert response.status == 200, await response.text()
    return {s["store_id"] for s in (await response.json())["stores"]}


async def test_a_city_limited_account_reaches_every_spelling_of_its_city(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _seed(pool)
    chengdu = await make_token(pool, "chengdu-ops", "editor", ("成都",))
    chengdu_shi = await make_token(pool, "chengdu-shi", "editor", ("成都市",))
    client = await make_client()
    for headers in (chengdu, chengdu_shi):
        assert await _health(client, headers) == {"CD1", "CD2", "880103"}
        assert await _health(client, headers, q="880103") == {"880103"}
    # An upload changing the store written 成都市 goes through for the 成都 account.
    changed = await client.post(
        "/admin/api/uploads/stores",
        data=(STORE_HEADER + "880103,改名,成都市,x,30.66,104.06,gcj02\n").encode(),
        params={"filename": "s.csv"},
        headers=chengdu,
    )
    assert changed.status == 200, await changed.text()
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = '880103'") == "改名"
    # A store of another city is still refused.
    refused = await client.post(
        "/admin/api/uploads/stores",
        data=(STORE_HEADER + "SH2,改名,上海市,x,31.2,121.4,gcj02\n").encode(),
        params={"filename": "s.csv"},
        headers=chengdu,
    )
    assert refused.status == 422
    # An autonomous prefecture by its short name; a region name matches exactly as before.
    yanbian = await make_token(pool, "yanbian", "viewer", ("延边州",))
    assert await _health(client, yanbian) == {"YB1"}
    east = await make_token(pool, "east", "viewer", ("华东大区",))
    assert await _health(client, east) == {"SH1"}
    shanghai = await make_token(pool, "shanghai", "viewer", ("上海",))
    assert await _health(client, shanghai) == {"SH2"}  # SH1 belongs to its region
    nobody = await make_token(pool, "east-short", "viewer", ("华东",))
    assert await _health(client, nobody) == set()


async def test_the_health_filters_treat_every_spelling_as_one_city(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _seed(pool)
    client = await make_client()
    for city in ("成都", "成都市", " 成都市 "):
        assert await _health(client, AUTH, city=city) == {"CD1", "CD2", "880103"}, city
    assert await _health(client, AUTH, city="上海市") == {"SH1", "SH2"}
    assert await _health(client, AUTH, region="华东大区") == {"SH1"}
    assert await _health(client, AUTH, region="华东") == set()


async def test_stores_stored_before_the_keys_are_keyed_when_migrations_run(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _seed(pool)
    await pool.execute("UPDATE stores SET city_key = NULL, region_key = NULL")
    async with pool.acquire() as conn:
        assert await refresh_place_keys(conn) == 6
        assert await refresh_place_keys(conn) == 0
    keys = dict(await pool.fetch("SELECT store_id, coalesce(region_key, city_key) FROM stores"))
    assert keys["880103"] == keys["CD1"] == "成都" and keys["SH1"] == "华东大区"
    assert keys["YB1"] == "延边"
    chengdu = await make_token(pool, "chengdu-ops", "editor", ("成都",))
    client = await make_client()
    assert await _health(client, chengdu) == {"CD1", "CD2", "880103"}


async def test_store_links_by_region_take_every_spelling_and_list_it_once(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _seed(pool)
    chengdu = await make_token(pool, "chengdu-ops", "editor", ("成都",))
    client = await make_client()
    preview = await client.post("/admin/api/store-links", json={"dry_run": True}, headers=chengdu)
    assert (await preview.json())["regions"] == [{"region": "成都", "stores": 3}]
    for regions in (["成都市"], ["成都"]):
        issued = await client.post(
            "/admin/api/store-links", json={"regions": regions}, headers=AUTH
        )
        assert issued.status == 200, await issued.text()
        # The spreadsheet's wording may change; which stores it holds may not.
        cells = {
            c
            for row in csv.reader(io.StringIO((await issued.read()).decode("utf-8-sig")))
            for c in row
        }
        assert {"880103", "CD1", "CD2"} <= cells and not {"SH1", "SH2", "YB1"} & cells


def test_an_alert_robot_of_a_city_serves_every_spelling_of_it() -> None:
    robot = Webhook("cd", "https://example.invalid/hook", ("成都",))
    assert robot.serves(None, "成都市") and robot.serves("", "成都")
    assert not robot.serves(None, "上海市")
    east = Webhook("east", "https://example.invalid/hook", ("华东大区",))
    assert east.serves("华东大区", "上海") and not east.serves("华东", "上海")
    assert Webhook("all", "https://example.invalid/hook").serves(None, "任何")
