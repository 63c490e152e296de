"""Store and group lists as ops have them, through the admin API: the dry run says which column
was read as what, messages come in the caller's language, grouped; province, district and region
are kept and filter the picker, its cities and the health page."""

from __future__ import annotations

import io
import uuid
import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any

import asyncpg
import openpyxl
import pytest

from router.store import funnel
from tests.conftest import ADMIN_TOKEN, group_row, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

ERP_HEADER = [
    "门店编码",
    "门店名称",
    "省份",
    "城市",
    "区县",
    "大区",
    "详细地址",
    "经纬度",
    "坐标来源",
    "备注",
]


def erp_workbook(rows: list[list[Any]]) -> bytes:
    """What a chain's ERP exports: a 说明 sheet first, then a title row above the header."""
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["字段", "说明"])
    notes.append(["门店编码", "门店的唯一编码"])
    notes.append(["经纬度", "高德地图拾取的坐标"])
    data = book.create_sheet("门店清单")
    data.append(["XX 咖啡 门店清单（2026-11 导出）"])
    data.append(ERP_HEADER)
    for row in rows:
        data.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def erp_row(n: int, coord: str = "gcj02") -> list[Any]:
    return [
        f"SH{n:03d}",
        f"{n} 号店",
        "上海",
        "上海",
        "黄浦区",
        "华东大区",
        "人民大道 1 号",
        f"121.47{n % 10},31.23{n % 10}",
        coord,
        "",
    ]


async def upload(client: Any, data: bytes, name: str, kind: str = "stores", **params: str) -> Any:
    headers = dict(AUTH)
    if "accept_language" in params:
        headers["Accept-Language"] = params.pop("accept_language")
    return await client.post(
        f"/admin/api/uploads/{kind}",
        data=data,
        params={"filename": name, **params},
        headers=headers,
    )


async def test_an_erp_workbook_is_read_from_its_data_sheet_and_says_what_each_column_was(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    data = erp_workbook([erp_row(1), erp_row(2)])
    response = await upload(client, data, "门店.xlsx", dry_run="1")
    assert response.status == 200, await response.text()
    summary = await response.json()
    assert (summary["rows"], summary["inserted"], summary["dry_run"]) == (2, 2, True)
    mapping = summary["mapping"]
    assert (mapping["sheet"], mapping["header_row"]) == ("门店清单", 2)
    assert {c["header"]: c["field"] for c in mapping["columns"]} == {
        "门店编码": "store_id",
        "门店名称": "name",
        "省份": "province",
        "城市": "city",
        "区县": "district",
        "大区": "region",
        "详细地址": "address",
        "经纬度": "coordinates",
        "坐标来源": "coord",
        "备注": None,
    }
    assert mapping["ignored"] == ["备注"] and summary["ignored_columns"] == ["备注"]
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0
    response = await upload(client, data, "门店.xlsx")
    assert response.status == 200
    stored = await pool.fetchrow(
        "SELECT province, district, region, source_lat, source_lng FROM stores "
        "WHERE store_id = 'SH001'"
    )
    assert tuple(stored) == ("上海", "黄浦区", "华东大区", 31.231, 121.471)


async def test_repeated_problems_are_grouped_and_in_the_language_asked(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    rows = [erp_row(n, coord="火星") for n in range(1, 51)]
    rows.append([*erp_row(51)[:7], "31.2,45.6", "gcj02", ""])
    data = erp_workbook(rows)
    answers = {}
    for how, params in {
        "zh": {"accept_language": "zh-CN,zh;q=0.9"},
        "en": {"accept_language": "en-US,en;q=0.9"},
        "page-en": {"lang": "en", "accept_language": "zh-CN"},
        "both": {},
    }.items():
        response = await upload(client, data, "门店.xlsx", **params)
        assert response.status == 422
        answers[how] = (await response.json())["error"]
    zh = answers["zh"]
    assert len(zh["errors"]) == 51  # per-row detail for machines
    # Each column named as the file wrote it (坐标来源, 经纬度), the field it was read as beside.
    assert [(g["code"], g["column"], g["count"]) for g in zh["grouped"]] == [
        ("bad_coord", "坐标来源", 50),
        ("ambiguous_coordinates", "经纬度", 1),
    ]
    assert {(e["column"], e["field"]) for e in zh["errors"]} == {
        ("坐标来源", "coord"),
        ("经纬度", "coordinates"),
    }
    assert zh["grouped"][0]["rows"] == list(range(3, 53))
    assert zh["grouped"][0]["message"].startswith("第3-52行 坐标来源「火星」：")
    assert "无法判断哪个是经度" in zh["grouped"][1]["message"]
    assert zh["message"].startswith("51 处错误（2 类）")
    assert {e["code"] for e in zh["errors"]} == {"bad_coord", "ambiguous_coordinates"}
    en = answers["en"]
    assert en["grouped"][0]["message"].startswith("rows 3-52 坐标来源 '火星': ")
    assert "cannot be told" in en["grouped"][1]["message"]
    assert en["message"].startswith("51 error(s)")
    assert not any("无法" in e["message"] for e in en["errors"])
    assert answers["page-en"]["grouped"] == en["grouped"]
    both = answers["both"]["grouped"][1]["message"]
    assert both.index("无法判断") < both.index("cannot be told")
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0
    bad = await upload(client, data, "门店.xlsx", lang="fr")
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_lang"


async def test_a_missing_column_is_named_in_both_languages(make_client: Any) -> None:
    client = await make_client()
    data = "门店编号,门店名称,城市\r\nS1,店,上海\r\n".encode()
    response = await upload(client, data, "s.csv", accept_language="zh")
    error = (await response.json())["error"]
    assert response.status == 422
    assert error["errors"][0]["code"] == "missing_columns"
    assert "缺少列" in error["errors"][0]["message"] and "纬度" in error["errors"][0]["message"]
    response = await upload(client, data, "s.csv", accept_language="en")
    assert (
        "missing column(s): address, lat, lng, coord"
        in (await response.json())["error"]["errors"][0]["message"]
    )


async def test_a_group_list_with_english_headers_and_a_title_row_is_imported(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")])
    client = await make_client()
    csv_text = (
        "Group list,,,,\r\n"
        "Group ID,Store Number,Group Name,QR Content,Capacity\r\n"
        "G1,S1,Group 1,https://work.weixin.qq.com/gm/abc,150\r\n"
    )
    response = await upload(client, csv_text.encode(), "g.csv", kind="groups")
    assert response.status == 200, await response.text()
    assert (await response.json())["mapping"]["header_row"] == 2
    assert await pool.fetchval("SELECT capacity FROM groups WHERE group_id = 'G1'") == 150


PLACED = [
    store_row("S1", name="甲", province="上海", district="黄浦区", region="华东大区"),
    store_row("S2", name="乙", province="上海", district="静安区", region="华东大区"),
    store_row("S3", name="丙", city="杭州", province="浙江", district="西湖区", region="华东大区"),
    store_row("S4", name="丁", city="北京", province="北京", district="朝阳区", region="华北大区"),
    store_row("S5", name="戊", city="北京"),
]


async def test_the_picker_and_its_cities_filter_by_province_district_and_region(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, PLACED)
    client = await make_client()

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/stores?{query}")
        assert response.status == 200
        return [s["id"] for s in (await response.json())["stores"]]

    assert await ids("region=华东大区") == ["S3", "S2", "S1"]  # name order: 丙 乙 甲
    assert await ids("province=上海") == ["S2", "S1"]
    assert await ids("district=静安区") == ["S2"]
    assert await ids("city=上海&region=华北大区") == []
    assert await ids("region=华东大区&q=丙") == ["S3"]
    response = await client.get("/api/v1/stores?district=黄浦区")
    first = (await response.json())["stores"][0]
    assert (first["province"], first["district"], first["region"]) == ("上海", "黄浦区", "华东大区")
    unplaced = (await (await client.get("/api/v1/stores?q=戊")).json())["stores"][0]
    assert "region" not in unplaced  # a store without places answers as before
    cities = await (await client.get("/api/v1/cities?region=华东大区")).json()
    assert cities == {"cities": [{"name": "上海", "stores": 2}, {"name": "杭州", "stores": 1}]}
    everything = await (await client.get("/api/v1/cities")).json()
    assert {c["name"]: c["stores"] for c in everything["cities"]} == {
        "上海": 2,
        "杭州": 1,
        "北京": 2,
    }
    too_long = await client.get("/api/v1/stores?region=" + "x" * 65)
    assert too_long.status == 400


async def test_the_health_page_filters_by_province_district_and_region(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, PLACED, [group_row("G1", "S1"), group_row("G4", "S4")])
    client = await make_client()

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/admin/api/health?{query}", headers=AUTH)
        assert response.status == 200
        return sorted(s["store_id"] for s in (await response.json())["stores"])

    assert await ids("region=华东大区") == ["S1", "S2", "S3"]
    assert await ids("province=北京") == ["S4"]
    assert await ids("district=黄浦区") == ["S1"]
    assert await ids("region=华北大区&city=北京") == ["S4"]
    body = await (await client.get("/admin/api/health?district=黄浦区", headers=AUTH)).json()
    assert body["stores"][0]["region"] == "华东大区"


@pytest.mark.parametrize("rolled_up", [False, True], ids=["live", "rolled-up"])
async def test_the_funnel_filters_by_province_district_and_region(
    pool: asyncpg.Pool, make_client: Any, settings: Any, rolled_up: bool
) -> None:
    await seed(pool, PLACED)
    tz = zoneinfo.ZoneInfo(settings.timezone)
    today = funnel.today(tz)
    day = today - timedelta(days=1) if rolled_up else today
    at = datetime.combine(day, time(12, 0), tzinfo=tz)
    scans = {"S1": 3, "S2": 2, "S3": 1, "S4": 4, "S5": 5}
    await pool.executemany(
        "INSERT INTO scan_events (event_id, at, entry, store_id, group_id, visitor, outcome) "
        "VALUES ($1, $2, 'E1', $3, NULL, $4, 'no_group')",
        [
            (uuid.uuid4(), at + timedelta(seconds=i), store, f"{store}-{i}")
            for store, n in scans.items()
            for i in range(n)
        ],
    )
    if rolled_up:
        async with pool.acquire() as conn:
            while await funnel.refresh(conn, settings):
                pass
        assert await pool.fetchval("SELECT count(*) FROM funnel_daily WHERE day = $1", day)
    client = await make_client()

    async def figures(query: str) -> tuple[int, dict[str, int]]:
        response = await client.get(
            f"/admin/api/funnel?from={day}&to={day}&by=store&{query}", headers=AUTH
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        return body["totals"]["scans"], {r["store_id"]: r["scans"] for r in body["rows"]}

    assert await figures("region=华东大区") == (6, {"S1": 3, "S2": 2, "S3": 1})
    assert await figures("province=上海") == (5, {"S1": 3, "S2": 2})
    assert await figures("district=朝阳区") == (4, {"S4": 4})
    assert await figures("region=无此大区") == (0, {})
    assert (await figures(""))[0] == 15
    response = await client.get(
        f"/admin/api/funnel.csv?from={day}&to={day}&by=store&region=华北大区", headers=AUTH
    )
    lines = (await response.read()).decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["S4"]


SWAP_HEADER = "门店编号,门店名称,城市,地址,纬度,经度,坐标系"


async def test_a_row_out_of_range_whose_swapped_pair_fits_its_city_is_called_swapped(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """纬度 120.1644, 经度 30.2549 in 杭州: beyond ±90 as given, 杭州 swapped. The row says the two
    are probably swapped, with the fix, and names the column as the file wrote it (纬度)."""
    client = await make_client()
    text = "\n".join(
        [
            SWAP_HEADER,
            "HZ1,西湖店,杭州,西湖大道 1 号,120.1644,30.2549,gcj02",
            # Beyond ±90 too, but swapped it is nowhere near 北京: only the range is said.
            "BJ1,国贸店,北京,建国门外大街 1 号,120.1644,30.2549,gcj02",
            # A city that is no Chinese division is not judged.
            "SG1,乌节店,Singapore,Orchard Road 1,103.8318,1.3048,wgs84",
            "OK1,正常店,杭州,延安路 1 号,30.2549,120.1644,gcj02",
        ]
    ).encode()
    response = await upload(client, text, "门店.csv", accept_language="zh-CN")
    assert response.status == 422
    errors = (await response.json())["error"]["errors"]
    by_row = {e["row"]: e for e in errors}
    assert set(by_row) == {2, 3, 4}
    swapped = by_row[2]
    assert (swapped["code"], swapped["column"], swapped["field"]) == (
        "swapped_coordinates",
        "纬度",
        "lat",
    )
    assert swapped["message"].startswith("经纬度可能填反了")
    assert "纬度 30.2549，经度 120.1644" in swapped["message"] and "互换" in swapped["message"]
    for n in (3, 4):
        assert (by_row[n]["code"], by_row[n]["column"]) == ("out_of_range", "纬度")
        assert by_row[n]["message"] == "纬度须在 -90 到 90 之间"
    english = await upload(client, text, "门店.csv", accept_language="en")
    message = (await english.json())["error"]["errors"][0]["message"]
    assert message.startswith("latitude and longitude are probably swapped")
    # A file whose headers are the fields' own names keeps them.
    plain = text.replace(SWAP_HEADER.encode(), b"store_id,name,city,address,lat,lng,coord")
    first = (await (await upload(client, plain, "s.csv")).json())["error"]["errors"][0]
    assert (first["column"], first["field"], first["code"]) == ("lat", "lat", "swapped_coordinates")
