"""Across the Hong Kong and Macau borders, through real HTTP: true distances between real places."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import seed, store_row
from tests.http.test_api import get_json

pytestmark = pytest.mark.db

MACAU = store_row(
    "mo-1", name="澳门店", city="澳门", address="x", lat=22.2, lng=113.548, coord="wgs84"
)
# GCJ-02 of the WGS-84 point 22.2185, 113.548 in Zhuhai, just north of the border gate.
ZHUHAI = store_row(
    "zh-1", name="珠海店", city="珠海", address="x", lat=22.2155451, lng=113.5530936, coord="gcj02"
)


async def test_a_macau_phone_goes_to_the_macau_store_at_the_true_distance_not_the_zhuhai_one(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [MACAU, ZHUHAI])
    client = await make_client()
    body = await get_json(client, "/api/v1/route?lat=22.2080&lng=113.5530&coord=wgs84&acc=10")
    assert body["store"]["id"] == "mo-1"
    assert body["distance_m"] == 1028
    assert [(a["store"]["id"], a["distance_m"]) for a in body["alternatives"]] == [("zh-1", 1276)]
    # Each store is shown as it was uploaded, in its own system: the Macau one in WGS-84, the
    # Zhuhai one with the coordinates AMap gave.
    assert (body["store"]["lat"], body["store"]["lng"], body["store"]["coord"]) == (
        22.2,
        113.548,
        "wgs84",
    )
    zh = body["alternatives"][0]["store"]
    assert (zh["lat"], zh["lng"], zh["coord"]) == (22.2155451, 113.5530936, "gcj02")


async def test_the_same_macau_phone_asking_in_gcj02_or_bd09_gets_the_same_answer(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [MACAU, ZHUHAI])
    client = await make_client()
    # GCJ-02 leaves Macau unshifted; BD-09 (Baidu's shift on top of GCJ-02) applies everywhere.
    for query in (
        "lat=22.2080&lng=113.5530&coord=gcj02",
        "lat=22.21394827&lng=113.55951841&coord=bd09",
    ):
        body = await get_json(client, f"/api/v1/route?{query}&acc=10")
        assert (body["store"]["id"], body["distance_m"]) == ("mo-1", 1028), query
        assert [(a["store"]["id"], a["distance_m"]) for a in body["alternatives"]] == [
            ("zh-1", 1276)
        ]


async def test_a_zhuhai_phone_asking_in_any_system_gets_the_zhuhai_store_at_about_zero(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [MACAU, ZHUHAI])
    client = await make_client()
    for query in (
        "lat=22.2185&lng=113.548&coord=wgs84",
        "lat=22.2155451&lng=113.5530936&coord=gcj02",
    ):
        body = await get_json(client, f"/api/v1/route?{query}&acc=10")
        assert (body["store"]["id"], body["distance_m"]) == ("zh-1", 0), query
