"""Issue 16: stores without coordinates are geocoded through the provider interface, against a
fake of AMap's and Tencent's web services: placement, rough matches, the cache shared by the dry
run and the commit, quota and key errors, the wrong-system warning from a geocode."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from geo.coords import Coord, CoordSystem, Shift, to_system
from tests.conftest import ADMIN_TOKEN
from tests.fake_geocoder import KEY, FakeGeocoder

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HEADER = "store_id,name,city,address,lng,lat,coord\r\n"
PEOPLE = (121.473701, 31.230416, "兴趣点", 11)  # 人民广场 (GCJ-02)
FILE = (
    HEADER + "SH1,人民广场店,上海,黄浦区人民大道120号,,,\r\n"
    "SH2,浦东店,上海,浦东新区,,,\r\n"  # geocoded to the district only
)


async def start(aiohttp_client: Any, make_client: Any, provider: str) -> tuple[Any, FakeGeocoder]:
    fake = FakeGeocoder({"人民大道120号": PEOPLE, "浦东新区": (121.544379, 31.221517, "区县", 2)})
    server = await aiohttp_client(fake.app())
    client = await make_client(
        geocode_provider=provider,
        geocode_key=KEY,
        geocode_url=str(server.make_url("")),
        geocode_qps=1000.0,
    )
    return client, fake


async def post(client: Any, data: str, **params: str) -> Any:
    return await client.post(
        "/admin/api/uploads/stores",
        data=data.encode(),
        params={"filename": "门店.csv", **params},
        headers=AUTH,
    )


@pytest.mark.parametrize("provider", ["amap", "tencent"])
async def test_rows_without_coordinates_are_geocoded_once_and_rough_ones_come_back(
    pool: asyncpg.Pool, aiohttp_client: Any, make_client: Any, provider: str
) -> None:
    client, fake = await start(aiohttp_client, make_client, provider)
    dry = await (await post(client, FILE, dry_run="1")).json()
    assert [(w["row"], w["code"]) for w in dry["warnings"]] == [(3, "geocoded_roughly")]
    assert len(fake.requests) == 2
    # The commit reuses the dry run's geocodes: no request more, the quota spent once.
    done = await post(client, FILE, confirm=dry["confirm_token"])
    assert done.status == 200, await done.text()
    assert len(fake.requests) == 2
    row = await pool.fetchrow("SELECT lat, lng, coord_provider FROM stores WHERE store_id='SH1'")
    assert (round(row["lat"], 6), round(row["lng"], 6)) == (31.230416, 121.473701)
    assert row["coord_provider"] == provider
    cached = await pool.fetch("SELECT level, precise FROM geocode_cache ORDER BY precise")
    assert [r["precise"] for r in cached] == [False, True]


@pytest.mark.parametrize(
    ("provider", "error", "status", "code"),
    [
        ("amap", "10003", 429, "geocode_quota_exceeded"),
        ("amap", "10044", 429, "geocode_quota_exceeded"),
        ("tencent", "121", 429, "geocode_quota_exceeded"),
    ],
)
async def test_quota_errors_are_4xx_and_nothing_is_written(
    pool: asyncpg.Pool,
    aiohttp_client: Any,
    make_client: Any,
    provider: str,
    error: str,
    status: int,
    code: str,
) -> None:
    client, fake = await start(aiohttp_client, make_client, provider)
    fake.errors.append(error)
    response = await post(client, FILE, dry_run="1")
    assert response.status == status
    assert (await response.json())["error"]["code"] == code
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


@pytest.mark.parametrize(("provider", "busy"), [("amap", "10004"), ("tencent", "120")])
async def test_too_fast_is_retried(
    pool: asyncpg.Pool, aiohttp_client: Any, make_client: Any, provider: str, busy: str
) -> None:
    client, fake = await start(aiohttp_client, make_client, provider)
    fake.errors.extend([busy, busy])
    response = await post(client, FILE, dry_run="1")
    assert response.status == 200, await response.text()
    assert len(fake.requests) == 4


async def test_a_wrong_key_is_a_400_naming_the_setting(
    pool: asyncpg.Pool, aiohttp_client: Any, make_client: Any
) -> None:
    fake = FakeGeocoder()
    server = await aiohttp_client(fake.app())
    client = await make_client(
        geocode_provider="amap", geocode_key="wrong-key", geocode_url=str(server.make_url(""))
    )
    response = await post(client, FILE, dry_run="1")
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["code"], "HUOMA_GEOCODE_KEY" in error["message"]) == ("geocode_refused", True)


async def test_baidu_coordinates_labelled_amap_are_caught_by_the_geocode(
    pool: asyncpg.Pool, aiohttp_client: Any, make_client: Any
) -> None:
    client, _ = await start(aiohttp_client, make_client, "amap")
    amap = Coord(PEOPLE[1], PEOPLE[0], CoordSystem.GCJ02, Shift.MAINLAND)
    baidu = to_system(amap, CoordSystem.BD09, Shift.MAINLAND)
    data = HEADER + f"SH1,人民广场店,上海,黄浦区人民大道120号,{baidu.lng},{baidu.lat},amap\r\n"
    dry = await (await post(client, data, dry_run="1")).json()
    [warning] = dry["warnings"]
    assert warning["code"] == "wrong_coord_system"
    assert warning["message"].startswith("坐标可能是百度坐标")


async def test_rows_with_coordinates_are_geocoded_only_up_to_the_check_sample(
    pool: asyncpg.Pool, aiohttp_client: Any, make_client: Any
) -> None:
    fake = FakeGeocoder({"人民大道120号": (*PEOPLE[:2], "兴趣点", 11)})
    server = await aiohttp_client(fake.app())
    client = await make_client(
        geocode_provider="amap",
        geocode_key=KEY,
        geocode_url=str(server.make_url("")),
        geocode_qps=1000.0,
        geocode_check_rows=3,
    )
    rows = "".join(
        f"S{i},店{i},上海,测试路{i}号,121.{4000 + i},31.2{i:03d},gcj02\r\n" for i in range(10)
    )
    blank = "SH1,人民广场店,上海,黄浦区人民大道120号,,,\r\n"
    response = await post(client, HEADER + rows + blank, dry_run="1")
    assert response.status == 200, await response.text()
    # Three rows with coordinates sampled, and the row without them.
    assert len(fake.requests) == 4
    assert fake.requests[-1]["address"] == "黄浦区人民大道120号"
