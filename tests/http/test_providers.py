"""Coordinate providers through real HTTP: where an upload's or a page's shift applies decides
where a store and a phone really are (README "Coordinate providers").

References are `prcoords`' raw transforms, applied where the case says the provider shifts.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import prcoords
import pytest

from tests.conftest import ADMIN_TOKEN, group_row, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TIMES_SQUARE = (22.2783, 114.1822)  # Heytea, Times Square, Hong Kong (WGS-84)
SENADO = (22.1935, 113.5391)  # Macau
TAIPEI_101 = (25.0339, 121.5645)


def gcj(p: tuple[float, float]) -> tuple[float, float]:
    g = prcoords.wgs_gcj(p, False)
    return round(g.lat, 7), round(g.lon, 7)


def bd(p: tuple[float, float]) -> tuple[float, float]:
    b = prcoords.gcj_bd(prcoords.wgs_gcj(p, False))
    return round(b.lat, 7), round(b.lon, 7)


def store(store_id: str, p: tuple[float, float], coord: str) -> dict[str, str]:
    return store_row(
        store_id, name=store_id, city="x", address="x", lat=p[0], lng=p[1], coord=coord
    )


async def route(client: Any, query: str) -> Any:
    response = await client.get(f"/api/v1/route?{query}&acc=10")
    assert response.status == 200, await response.text()
    return await response.json()


def phone(p: tuple[float, float], coord: str = "wgs84", src: str | None = None) -> str:
    q = f"lat={p[0]}&lng={p[1]}&coord={coord}"
    return q + (f"&src={src}" if src else "")


async def test_heytea_times_square_uploaded_from_amap_is_where_the_phone_stands(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    at = gcj(TIMES_SQUARE)
    await seed(pool, [store("hk-amap", at, "高德")], [group_row("g", "hk-amap")])
    client = await make_client()
    body = await route(client, phone(TIMES_SQUARE))
    assert body["store"]["id"] == "hk-amap"
    assert body["distance_m"] == 0
    # Shown as uploaded: AMap's GCJ-02 numbers, saying so.
    assert (body["store"]["lat"], body["store"]["lng"]) == at
    assert (body["store"]["coord"], body["store"]["provider"]) == ("gcj02", "amap")


async def test_the_same_numbers_as_plain_gcj02_keep_the_first_rule(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """A plain 'gcj02' says nothing about Hong Kong: GCJ-02 there is WGS-84, as before."""
    await seed(pool, [store("hk-plain", gcj(TIMES_SQUARE), "gcj02")], [group_row("g", "hk-plain")])
    client = await make_client()
    body = await route(client, phone(TIMES_SQUARE))
    assert 500 < body["distance_m"] < 650
    assert (body["store"]["coord"], body["store"]["provider"]) == ("gcj02", "gcj02")


async def test_a_store_uploaded_as_wgs84_in_hong_kong_is_not_moved(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [store("hk-gps", TIMES_SQUARE, "GPS设备"), store("hk-wgs", (22.2790, 114.1822), "WGS-84")],
        [group_row("g1", "hk-gps"), group_row("g2", "hk-wgs")],
    )
    client = await make_client()
    body = await route(client, phone(TIMES_SQUARE))
    assert (body["store"]["id"], body["distance_m"]) == ("hk-gps", 0)
    assert [(a["store"]["id"], a["distance_m"]) for a in body["alternatives"]] == [("hk-wgs", 78)]
    assert (body["store"]["lat"], body["store"]["lng"], body["store"]["coord"]) == (
        *TIMES_SQUARE,
        "wgs84",
    )


async def test_macau_from_tencent_and_taiwan_from_amap_and_baidu(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [
            store("mo-tencent", gcj(SENADO), "腾讯地图"),
            # AMap and Tencent give Taiwan in WGS-84; Baidu gives BD-09 there as in the mainland.
            store("tw-amap", TAIPEI_101, "AMap"),
            store("tw-baidu", bd((25.0350, 121.5645)), "百度"),
        ],
        [group_row("g1", "mo-tencent"), group_row("g2", "tw-amap"), group_row("g3", "tw-baidu")],
    )
    client = await make_client()
    body = await route(client, phone(SENADO))
    assert (body["store"]["id"], body["distance_m"]) == ("mo-tencent", 0)
    body = await route(client, phone(TAIPEI_101))
    assert (body["store"]["id"], body["distance_m"]) == ("tw-amap", 0)
    assert [(a["store"]["id"], a["distance_m"]) for a in body["alternatives"]] == [
        ("tw-baidu", 122)
    ]


async def test_the_page_says_its_fix_came_from_wechat_and_hong_kong_is_then_shifted(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store("hk-gps", TIMES_SQUARE, "gps")], [group_row("g", "hk-gps")])
    client = await make_client()
    # wx.getLocation({type: 'gcj02'}) in Hong Kong: shifted, as Tencent's map is.
    body = await route(client, phone(gcj(TIMES_SQUARE), "gcj02", "wechat"))
    assert body["distance_m"] == 0
    # Without src the plain code's rule applies: Hong Kong's GCJ-02 is taken as WGS-84.
    body = await route(client, phone(gcj(TIMES_SQUARE), "gcj02"))
    assert 500 < body["distance_m"] < 650
    # The browser's fix, said to be GPS, is what it was.
    body = await route(client, phone(TIMES_SQUARE, "wgs84", "gps"))
    assert body["distance_m"] == 0
    # src alone gives its system.
    body = await route(client, f"lat={gcj(TIMES_SQUARE)[0]}&lng={gcj(TIMES_SQUARE)[1]}&src=wechat")
    assert body["distance_m"] == 0


async def test_an_unknown_src_is_a_400_naming_it(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client()
    response = await client.get("/api/v1/route?lat=22.3&lng=114.1&src=beidou")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_coord_source"


CSV_NO_COORD = "store_id,name,city,address,lat,lng\nhk-1,时代广场店,香港,x,{},{}\n"


async def test_a_file_without_a_coord_column_is_refused_until_the_upload_names_one(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    at = gcj(TIMES_SQUARE)
    data = CSV_NO_COORD.format(*at).encode()
    client = await make_client()
    url = "/admin/api/uploads/stores"
    for params in ({"filename": "s.csv", "dry_run": "1"}, {"filename": "s.csv"}):
        response = await client.post(url, data=data, params=params, headers=AUTH)
        assert response.status == 422
        error = (await response.json())["error"]
        assert error["code"] == "coord_source_required"
        assert error["errors"][0]["message"].startswith(
            "文件没有坐标来源（coord）列：请为整个文件选择坐标来源（高德"
        )
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0
    response = await client.post(
        url, data=data, params={"filename": "s.csv", "coord": "高德"}, headers=AUTH
    )
    assert response.status == 200, await response.text()
    row = await pool.fetchrow("SELECT source_coord, coord_provider FROM stores")
    assert (row["source_coord"], row["coord_provider"]) == ("gcj02", "amap")
    response = await client.post(
        url, data=data, params={"filename": "s.csv", "coord": "北斗"}, headers=AUTH
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_coord_source"


async def test_an_unknown_coord_word_is_one_row_error_in_chinese_first(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    data = "store_id,name,city,address,lat,lng,coord\nS1,a,上海,x,31.2,121.4,北斗\n".encode()
    client = await make_client()
    response = await client.post(
        "/admin/api/uploads/stores", data=data, params={"filename": "s.csv"}, headers=AUTH
    )
    assert response.status == 422
    errors = (await response.json())["error"]["errors"]
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [(2, "coord", "北斗")]
    assert errors[0]["message"].startswith("坐标来源「北斗」无法识别，请填：高德、腾讯、百度")


async def test_an_export_names_the_provider_so_the_file_uploads_again(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store("hk-amap", gcj(TIMES_SQUARE), "高德地图")])
    client = await make_client()
    response = await client.get("/admin/api/exports/stores.csv", headers=AUTH)
    assert response.status == 200, await response.text()
    text = (await response.read()).decode("utf-8-sig")
    assert text.splitlines()[1].split(",")[6] == "amap"
