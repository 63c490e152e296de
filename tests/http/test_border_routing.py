"""Scans at mainland China's land borders and at the Shenzhen River, through real HTTP.

The outline that decides where GCJ-02 applies once put these places on the wrong side: a phone's
WGS-84 fix was then left unshifted and compared with stores uploaded in GCJ-02.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import group_row, seed, store_row

pytestmark = pytest.mark.db

# hh-1 is the GCJ-02 of WGS-84 (50.2450, 127.4900), in Heihe on the Amur, across from
# Blagoveshchensk; hh-2 is 282 m away.
HH_1 = store_row("hh-1", name="黑河店", city="黑河", address="x", lat=50.2467340, lng=127.4974494)
HH_2 = store_row("hh-2", name="黑河二店", city="黑河", address="x", lat=50.2458784, lng=127.4937407)
HEIHE_PHONE = "/api/v1/route?lat=50.2450&lng=127.4900&coord=wgs84&acc=10"

# A Luckin in the Futian Free Trade Zone, Shenzhen, by the Shenzhen River: the phone's WGS-84 fix
# inside the shop, and the shop as AMap gives it.
FUTIAN_FTZ = store_row(
    "ftz-1", name="福田保税区店", city="深圳", address="x", lat=22.507182, lng=114.059609
)
FUTIAN_PHONE = "/api/v1/route?lat=22.509907&lng=114.054501&coord=wgs84&acc=10"


async def _route(client: Any, url: str) -> Any:
    response = await client.get(url)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_phone_in_heihe_is_shifted_and_finds_the_store_it_stands_in(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [HH_1], [group_row("hh-1-G1", "hh-1")])
    client = await make_client()
    body = await _route(client, HEIHE_PHONE)
    assert body["store"]["id"] == "hh-1"
    assert body["distance_m"] < 30


async def test_in_heihe_the_nearer_of_two_stores_282_m_apart_wins(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [HH_1, HH_2], [group_row("hh-1-G1", "hh-1"), group_row("hh-2-G1", "hh-2")])
    client = await make_client()
    body = await _route(client, HEIHE_PHONE)
    assert body["store"]["id"] == "hh-1"
    assert body["distance_m"] < 30


async def test_a_phone_in_the_futian_free_trade_zone_is_in_the_shop_not_600_m_away(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [FUTIAN_FTZ], [group_row("ftz-1-G1", "ftz-1")])
    client = await make_client()
    body = await _route(client, FUTIAN_PHONE)
    assert body["store"]["id"] == "ftz-1"
    assert body["distance_m"] < 30
