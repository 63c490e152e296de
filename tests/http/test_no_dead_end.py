"""No dead end on the customer's page: a store with nothing to show sends the customer on (the
nearest store with a group within the distance limit, else the brand's fallback) and the answer
says why; the QR's caption kind (`shows`) is true to what is shown; every spelling of a city is
one city in the picker and its search."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from router.ops.uploads import import_file
from router.scan.catalogue import city_key
from tests.conftest import group_row, seed, store_row

pytestmark = pytest.mark.db

# E1 has no group and no fallback; N1 (about 300 m away) has one; FAR (50 km) has one too.
STORES = [
    store_row("E1", name="空店", lat=31.2304, lng=121.4737),
    store_row("N1", name="近店", city="上海市", lat=31.2330, lng=121.4750),
    store_row("FAR", name="远店", lat=31.60, lng=121.90),
    store_row("LONE", name="孤店", lat=30.30, lng=120.10, city="杭州"),
]


async def get_json(client: Any, url: str) -> Any:
    response = await client.get(url)
    assert response.status == 200, await response.text()
    return await response.json()


async def brand_fallback(pool: asyncpg.Pool, rows: str) -> None:
    await import_file(
        pool,
        "fallbacks",
        ("store_id,name,qr_payload\n" + rows).encode(),
        "f.csv",
        timezone="Asia/Shanghai",
        max_bytes=10**6,
        max_rows=10,
    )


async def test_a_store_with_nothing_sends_the_customer_to_the_nearest_store_with_a_group(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, [group_row("N1-G1", "N1"), group_row("FAR-G1", "FAR")])
    client = await make_client()
    for how in ("store=E1", "lat=31.2304&lng=121.4737&coord=gcj02"):
        body = await get_json(client, f"/api/v1/route?{how}")
        assert (body["status"], body["store"]["id"], body["group"]["id"]) == ("ok", "N1", "N1-G1")
        assert body["sent_on"] == {"from": body["sent_on"]["from"], "reason": "no_group"}
        assert body["sent_on"]["from"]["id"] == "E1"
        assert body["matched_by"] == "sent_on" and body["shows"] == "group"
        assert all(a["store"]["id"] != "N1" for a in body["alternatives"])
    # With a location the distance is the customer's to the store sent to; picked without one,
    # there is none.
    body = await get_json(client, "/api/v1/route?lat=31.2304&lng=121.4737&coord=gcj02")
    assert 250 < body["distance_m"] < 400
    body = await get_json(client, "/api/v1/route?store=E1")
    assert body["distance_m"] is None
    # A store with its own group is never sent on.
    body = await get_json(client, "/api/v1/route?store=N1")
    assert body["sent_on"] is None and body["matched_by"] == "picked"


async def test_nothing_within_the_limit_is_the_brand_fallback_captioned_as_the_brand(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, [group_row("FAR-G1", "FAR")])
    await brand_fallback(pool, "*,品牌福利群,https://weixin.qq.com/g/BRAND\n")
    client = await make_client()
    body = await get_json(client, "/api/v1/route?store=LONE")
    assert (body["status"], body["store"]["id"]) == ("fallback", "LONE")
    assert body["group"]["name"] == "品牌福利群"
    assert body["shows"] == "brand" and body["sent_on"] is None


async def test_a_stores_own_fallback_is_shown_as_the_staff_contact_not_sent_on(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, [group_row("N1-G1", "N1")])
    await brand_fallback(pool, "E1,店长微信,https://u.wechat.com/STAFF\n")
    client = await make_client()
    body = await get_json(client, "/api/v1/route?store=E1")
    assert (body["status"], body["store"]["id"], body["shows"]) == ("fallback", "E1", "staff")
    assert body["sent_on"] is None
    body = await get_json(client, "/api/v1/route?store=N1")
    assert body["shows"] == "group"


async def test_no_group_anywhere_and_no_fallback_is_still_said_plainly(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES)
    client = await make_client()
    body = await get_json(client, "/api/v1/route?store=E1")
    assert (body["status"], body["group"], body["shows"], body["sent_on"]) == (
        "no_group",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("spellings", "key"),
    [
        (["上海", "上海市", " 上海市 ", "上海 市"], "上海"),
        (["北京市", "北京"], "北京"),
        (["延边朝鲜族自治州", "延边州", "延边"], "延边"),
        (["恩施土家族苗族自治州", "恩施州", "恩施"], "恩施"),
        (["大兴安岭地区", "大兴安岭"], "大兴安岭"),
        (["锡林郭勒盟", "锡林郭勒"], "锡林郭勒"),
        (["香港特别行政区", "香港"], "香港"),
        (["ＳＨＡＮＧＨＡＩ", "Shanghai"], "shanghai"),
    ],
)
def test_every_spelling_of_a_city_is_one_key(spellings: list[str], key: str) -> None:
    assert {city_key(s) for s in spellings} == {key}


def test_a_city_that_is_only_a_suffix_word_is_kept() -> None:
    assert city_key("沙市") == "沙市"  # 2 characters: 沙 alone would be another place
    assert city_key("市") == "市"


async def test_the_picker_lists_one_city_per_spelling_and_finds_its_stores_by_any(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [*STORES, store_row("X1", name="人民广场店", city="上海市")])
    client = await make_client()
    body = await get_json(client, "/api/v1/cities")
    names = [c["name"] for c in body["cities"]]
    assert len([n for n in names if city_key(n) == "上海"]) == 1
    # Two stores spell it 上海, two 上海市: on a tie the full name is shown.
    assert {"name": "上海市", "stores": 4} in body["cities"]
    for city in ("上海", "上海市"):
        body = await get_json(client, f"/api/v1/stores?city={city}&q=人民广场")
        assert [s["id"] for s in body["stores"]] == ["X1"]
        body = await get_json(client, f"/api/v1/stores?city={city}")
        assert body["total"] == 4
