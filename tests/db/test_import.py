"""Store and group imports: every error reported at once, nothing written unless all is valid."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from router.ops.uploads import ImportRejected, decode_text, import_file
from router.settings import Settings
from tests.conftest import group_row, seed, store_row

pytestmark = pytest.mark.db

HEADER = "store_id,name,city,address,lat,lng,coord\n"
LIMITS = {"timezone": "Asia/Shanghai", "max_bytes": 1_000_000, "max_rows": 1000}


async def stores_in(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM stores ORDER BY store_id")


async def test_a_utf8_csv_is_imported_and_coordinates_are_stored_in_gcj02(
    pool: asyncpg.Pool,
) -> None:
    data = (
        HEADER
        + "S1,人民广场店,上海,人民大道 1 号,31.2304,121.4737,wgs84\nS2,国贸店,北京,建国门外大街,39.9087,116.4605,gcj02\n"
    ).encode()
    summary = await import_file(pool, "stores", data, "stores.csv", **LIMITS)
    assert (summary.rows, summary.inserted, summary.updated) == (2, 2, 0)
    rows = await stores_in(pool)
    assert [r["name"] for r in rows] == ["人民广场店", "国贸店"]
    s1 = rows[0]
    assert (s1["source_lat"], s1["source_lng"], s1["source_coord"]) == (31.2304, 121.4737, "wgs84")
    assert s1["lat"] != 31.2304  # shifted into GCJ-02
    assert (rows[1]["lat"], rows[1]["lng"]) == (39.9087, 116.4605)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
async def test_excel_encodings_are_read(pool: asyncpg.Pool, encoding: str) -> None:
    data = (HEADER + "S9,静安寺店,上海,南京西路,31.2235,121.4453,gcj02\n").encode(encoding)
    await import_file(pool, "stores", data, "stores.csv", **LIMITS)
    assert [r["name"] for r in await stores_in(pool)] == ["静安寺店"]


def test_text_that_is_neither_utf8_nor_gb18030_is_a_clear_error() -> None:
    with pytest.raises(ImportRejected, match="neither UTF-8 nor GB18030"):
        decode_text(b"\x81\x30\xff\xff")


async def test_every_bad_row_is_reported_and_nothing_is_written(pool: asyncpg.Pool) -> None:
    data = (
        HEADER
        + "S1,好店,上海,路,31.2,121.4,gcj02\n"
        + "S2,,上海,路,91,121.4,gcj02\n"
        + "S3,坏坐标,上海,路,abc,121.4,gcj02\n"
        + "S1,重复,上海,路,31.2,121.4,gcj02\n"
        + "S4,无系统,上海,路,31.2,121.4,mercator\n"
        + "S5,零点,上海,路,0,0,wgs84\n"
    ).encode()
    with pytest.raises(ImportRejected) as info:
        await import_file(pool, "stores", data, "stores.csv", **LIMITS)
    found = {(e.row, e.column) for e in info.value.errors}
    assert found == {(3, "name"), (3, "lat"), (4, "lat"), (5, "store_id"), (6, "coord"), (7, "lat")}
    by_row = {e.row: e for e in info.value.errors}
    assert by_row[4].value == "abc"
    assert "duplicates row 2" in by_row[5].message
    assert await stores_in(pool) == []


async def test_a_missing_required_column_is_named(pool: asyncpg.Pool) -> None:
    with pytest.raises(ImportRejected, match=r"missing column.*coord"):
        await import_file(
            pool, "stores", b"store_id,name,city,address,lat,lng\nS1,a,b,c,1,2\n", "s.csv", **LIMITS
        )


async def test_reimporting_updates_changed_rows_and_leaves_the_rest(pool: asyncpg.Pool) -> None:
    await seed(pool, [store_row("S1"), store_row("S2")])
    data = (
        HEADER
        + "S1,Store S1,上海,人民路 1 号,31.2304,121.4737,gcj02\nS2,Renamed,上海,人民路 1 号,31.2304,121.4737,gcj02\nS3,New,上海,x,31.3,121.5,gcj02\n"
    ).encode()
    summary = await import_file(pool, "stores", data, "stores.csv", **LIMITS)
    assert (summary.inserted, summary.updated, summary.unchanged) == (1, 1, 1)
    assert [r["name"] for r in await stores_in(pool)] == ["Store S1", "Renamed", "New"]


async def test_a_dry_run_counts_exactly_and_writes_nothing(pool: asyncpg.Pool) -> None:
    data = (HEADER + "S1,a,上海,x,31.2,121.4,gcj02\n").encode()
    summary = await import_file(pool, "stores", data, "stores.csv", dry_run=True, **LIMITS)
    assert (summary.inserted, summary.dry_run) == (1, True)
    assert await stores_in(pool) == []


async def test_json_stores_with_a_service_area_and_extra_columns(pool: asyncpg.Pool) -> None:
    data = json.dumps(
        {
            "stores": [
                {
                    "store_id": "S1",
                    "name": "a",
                    "city": "上海",
                    "address": "x",
                    "lat": 31.25,
                    "lng": 121.45,
                    "coord": "gcj02",
                    "note": "ignored",
                    "service_area": {
                        "type": "Polygon",
                        "coordinates": [
                            [[121.4, 31.2], [121.5, 31.2], [121.5, 31.3], [121.4, 31.2]]
                        ],
                    },
                }
            ]
        }
    ).encode()
    summary = await import_file(pool, "stores", data, "stores.json", **LIMITS)
    assert summary.ignored_columns == ["note"]
    area = json.loads((await stores_in(pool))[0]["service_area"])
    assert area["type"] == "Polygon"


async def test_json_that_is_not_a_list_of_objects_is_rejected(pool: asyncpg.Pool) -> None:
    with pytest.raises(ImportRejected, match="list of objects"):
        await import_file(pool, "stores", b'{"x": 1}', "s.json", **LIMITS)
    with pytest.raises(ImportRejected, match="not valid JSON"):
        await import_file(pool, "stores", b"[{", "s.json", **LIMITS)
    with pytest.raises(ImportRejected) as info:
        await import_file(pool, "stores", b'[1, {"store_id": {"a": 1}}]', "s.json", **LIMITS)
    assert {e.row for e in info.value.errors} == {1, 2}


async def test_size_and_row_limits_are_enforced(pool: asyncpg.Pool) -> None:
    data = (HEADER + "S1,a,上海,x,31.2,121.4,gcj02\n" * 3).encode()
    with pytest.raises(ImportRejected, match="limit is 10"):
        await import_file(
            pool, "stores", data, "s.csv", timezone="Asia/Shanghai", max_bytes=10, max_rows=1000
        )
    with pytest.raises(ImportRejected, match="more than 2 rows"):
        await import_file(
            pool, "stores", data, "s.csv", timezone="Asia/Shanghai", max_bytes=10_000, max_rows=2
        )


async def test_groups_need_known_stores_and_every_unknown_row_is_listed(pool: asyncpg.Pool) -> None:
    await seed(pool, [store_row("S1")])
    data = b"group_id,store_id,name,qr_payload\nG1,S1,a,https://weixin.qq.com/g/1\nG2,S404,b,https://weixin.qq.com/g/2\nG3,S404,c,https://weixin.qq.com/g/3\n"
    with pytest.raises(ImportRejected) as info:
        await import_file(pool, "groups", data, "groups.csv", **LIMITS)
    assert [(e.row, e.column, e.value) for e in info.value.errors] == [
        (3, "store_id", "S404"),
        (4, "store_id", "S404"),
    ]
    assert await pool.fetchval("SELECT count(*) FROM groups") == 0


async def test_group_fields_are_validated_together(pool: asyncpg.Pool) -> None:
    await seed(pool, [store_row("S1")])
    data = (
        b"group_id,store_id,name,qr_payload,capacity,member_count,expires_at\n"
        b"G1,S1,a,https://weixin.qq.com/g/1,0,-1,tomorrow\n"
        b"G2,S1,b,,200.5,5,2026-13-01\n"
    )
    with pytest.raises(ImportRejected) as info:
        await import_file(pool, "groups", data, "groups.csv", **LIMITS)
    assert {(e.row, e.column) for e in info.value.errors} == {
        (2, "capacity"),
        (2, "member_count"),
        (2, "expires_at"),
        (3, "qr_payload"),
        (3, "capacity"),
        (3, "expires_at"),
    }


async def test_group_reimport_keeps_reported_counts_and_bumps_the_qr_version_on_a_new_payload(
    pool: asyncpg.Pool,
) -> None:
    await seed(
        pool,
        [store_row("S1")],
        [
            group_row(
                "G1",
                qr_payload="https://work.weixin.qq.com/gm/OLD",
                member_count=150,
                capacity=300,
                expires_at="2030-01-01 12:00",
            )
        ],
    )
    data = b"group_id,store_id,name,qr_payload\nG1,S1,Group G1,https://work.weixin.qq.com/gm/NEW\n"
    await import_file(pool, "groups", data, "groups.csv", **LIMITS)
    g = await pool.fetchrow("SELECT * FROM groups WHERE group_id = 'G1'")
    assert (g["member_count"], g["capacity"], g["qr_version"]) == (150, 300, 2)
    assert g["expires_at"].isoformat() == "2030-01-01T04:00:00+00:00"  # 12:00 in Asia/Shanghai
    await import_file(pool, "groups", data, "groups.csv", **LIMITS)
    assert await pool.fetchval("SELECT qr_version FROM groups WHERE group_id = 'G1'") == 2


async def test_a_personal_wechat_code_without_expiry_lives_seven_days_from_its_making(
    pool: asyncpg.Pool,
) -> None:
    await seed(pool, [store_row("S1")])
    data = (
        b"group_id,store_id,name,qr_payload,qr_created_at\n"
        b"G1,S1,a,https://weixin.qq.com/g/AAA,\n"
        b"G2,S1,b,https://weixin.qq.com/g/BBB,2026-11-20 09:00\n"
        b"G3,S1,c,https://work.weixin.qq.com/gm/CCC,\n"
    )
    before = datetime.now(UTC).replace(microsecond=0)  # derived expiries are whole seconds
    await import_file(pool, "groups", data, "groups.csv", **LIMITS)
    rows = {
        r["group_id"]: r["expires_at"]
        for r in await pool.fetch("SELECT group_id, expires_at FROM groups")
    }
    assert before + timedelta(days=7) <= rows["G1"] <= datetime.now(UTC) + timedelta(days=7)
    assert rows["G2"].isoformat() == "2026-11-27T01:00:00+00:00"
    assert rows["G3"] is None  # WeCom join-way codes do not expire
    # Re-uploading the same code later does not extend its life; a new code gets a new week.
    await import_file(pool, "groups", data, "groups.csv", **LIMITS)
    assert await pool.fetchval("SELECT expires_at FROM groups WHERE group_id = 'G1'") == rows["G1"]
    renewed = b"group_id,store_id,name,qr_payload,qr_created_at\nG2,S1,b,https://weixin.qq.com/g/NEWB,2026-11-23 09:00\n"
    await import_file(pool, "groups", renewed, "groups.csv", **LIMITS)
    assert (
        await pool.fetchval("SELECT expires_at FROM groups WHERE group_id = 'G2'")
    ).isoformat() == "2026-11-30T01:00:00+00:00"


async def test_display_caps_are_imported_and_reserved_ids_refused(pool: asyncpg.Pool) -> None:
    await seed(pool, [store_row("S1")])
    data = b"group_id,store_id,name,qr_payload,display_cap\nG1,S1,a,p,50\nfallback:x,S1,b,p,0\n"
    with pytest.raises(ImportRejected) as info:
        await import_file(pool, "groups", data, "groups.csv", **LIMITS)
    assert {(e.row, e.column) for e in info.value.errors} == {(3, "group_id"), (3, "display_cap")}
    await import_file(pool, "groups", data.split(b"\nfallback")[0] + b"\n", "groups.csv", **LIMITS)
    assert await pool.fetchval("SELECT display_cap FROM groups") == 50


async def test_fallbacks_for_a_store_and_for_the_brand(pool: asyncpg.Pool) -> None:
    await seed(pool, [store_row("S1")])
    data = "store_id,name,qr_payload\nS1,店长微信,https://u.wechat.com/STAFF\n*,品牌福利群,https://weixin.qq.com/g/BRAND\n".encode()
    summary = await import_file(pool, "fallbacks", data, "fallbacks.csv", **LIMITS)
    assert summary.inserted == 2
    rows = await pool.fetch("SELECT group_id, store_id, kind FROM groups ORDER BY group_id")
    assert [(r["group_id"], r["store_id"], r["kind"]) for r in rows] == [
        ("fallback:*", None, "fallback"),
        ("fallback:S1", "S1", "fallback"),
    ]
    with pytest.raises(ImportRejected) as info:
        await import_file(
            pool, "fallbacks", b"store_id,name,qr_payload\nS1,x,y\n,x,y\n", "f.csv", **LIMITS
        )
    assert [(e.row, e.column) for e in info.value.errors] == [(3, "store_id")]
    with pytest.raises(ImportRejected) as info:
        await import_file(
            pool, "fallbacks", b"store_id,name,qr_payload\nS1,x,y\nS404,x,y\n", "f.csv", **LIMITS
        )
    assert [(e.row, e.column, e.value) for e in info.value.errors] == [(3, "store_id", "S404")]


async def test_groups_keep_file_order_per_store_unless_positions_are_given(
    pool: asyncpg.Pool,
) -> None:
    await seed(pool, [store_row("S1"), store_row("S2")])
    data = b"group_id,store_id,name,qr_payload\nA,S1,a,p1\nB,S2,b,p2\nC,S1,c,p3\n"
    await import_file(pool, "groups", data, "groups.csv", **LIMITS)
    rows = await pool.fetch("SELECT group_id, position FROM groups ORDER BY store_id, position")
    assert [(r["group_id"], r["position"]) for r in rows] == [("A", 0), ("C", 1), ("B", 0)]


async def test_an_import_notifies_every_listener(pool: asyncpg.Pool, settings: Settings) -> None:
    got: list[str] = []
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.add_listener("huoma_catalogue", lambda *args: got.append(args[3]))
        data = (HEADER + "S1,a,上海,x,31.2,121.4,gcj02\n").encode()
        await import_file(pool, "stores", data, "s.csv", **LIMITS)
        await conn.execute("SELECT 1")  # let the notification arrive
        assert got == ["stores"]
    finally:
        await conn.close()
