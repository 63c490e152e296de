"""Re-uploads keep what they do not say, place new groups after a store's own, and refuse
capacities WeChat cannot honour."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import pytest

from router.ops.exports import export_rows, render
from router.ops.uploads import (
    ENTRY_OPTIONAL,
    GROUP_OPTIONAL,
    STORE_OPTIONAL,
    WECHAT_SCAN_JOIN_LIMIT,
    ImportRejected,
    import_file,
)
from router.store import sql
from tests.conftest import ADMIN_TOKEN, eventually, group_row, scan, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LIMITS = {"timezone": "Asia/Shanghai", "max_bytes": 1_000_000, "max_rows": 1000}
AREA = "POLYGON((121.40 31.20, 121.50 31.20, 121.50 31.30, 121.40 31.30, 121.40 31.20))"

# Every column of a stored row that an upload may write (not timestamps, not the keeper's state).
SNAPSHOT = {
    "stores": "SELECT store_id, name, city, address, lat, lng, source_lat, source_lng, "
    "source_coord, service_area, active, source_area, province, district, region "
    "FROM stores ORDER BY store_id",
    "groups": "SELECT group_id, store_id, name, qr_payload, qr_version, capacity, member_count, "
    "expires_at, position, display_cap FROM groups ORDER BY group_id",
    "entries": "SELECT code, kind, store_id, label FROM entries ORDER BY code",
}

# A row of each kind with every optional column given a value that is not its default.
FULL_ROWS: dict[str, dict[str, str]] = {
    "stores": store_row(
        "S2",
        address="南京西路 1 号",
        service_area=AREA,
        active="false",
        province="上海市",
        district="静安区",
        region="华东大区",
    ),
    "groups": group_row(
        "G1",
        capacity="150",
        member_count="17",
        expires_at="2030-01-02 03:04:05",
        position="3",
        display_cap="900",
        qr_created_at="2026-01-01 09:00",
    ),
    "entries": {"code": "C1", "kind": "counter", "store_id": "", "label": "收银台"},
}

# Optional cells that keep the stored value when empty, per kind. `address` is a required column
# whose cell may be empty; entries' store_id is not kept: `kind` decides it (required for a store
# code, empty otherwise); fallbacks have no optional column.
KEPT: dict[str, tuple[str, ...]] = {
    "stores": ("address", *STORE_OPTIONAL),
    "groups": GROUP_OPTIONAL,
    "fallbacks": (),
    "entries": tuple(c for c in ENTRY_OPTIONAL if c != "store_id"),
}
CASES = [(kind, column) for kind, columns in KEPT.items() for column in columns]
# An absent column and an empty cell, except for a required column, which cannot be absent.
KEEP_CASES = [
    (kind, column, how)
    for kind, column in CASES
    for how in ("absent", "empty")
    if not (how == "absent" and column == "address")
]


def csv_file(rows: list[dict[str, str]]) -> bytes:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(columns), restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


async def upload(pool: asyncpg.Pool, kind: str, rows: list[dict[str, str]]) -> Any:
    return await import_file(pool, kind, csv_file(rows), f"{kind}.csv", **LIMITS)


async def snapshot(pool: asyncpg.Pool, kind: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(SNAPSHOT[kind])]


def test_every_optional_column_of_every_kind_has_a_keep_case() -> None:
    assert {c for k, c in CASES if k == "stores"} == {"address", *STORE_OPTIONAL}
    assert {c for k, c in CASES if k == "groups"} == set(GROUP_OPTIONAL)
    assert {c for k, c in CASES if k == "entries"} == set(ENTRY_OPTIONAL) - {"store_id"}


@pytest.mark.parametrize(("kind", "column", "how"), KEEP_CASES)
async def test_a_reupload_without_an_optional_value_keeps_the_stored_one(
    pool: asyncpg.Pool, kind: str, column: str, how: str
) -> None:
    await seed(pool, [store_row("S1")])
    full = dict(FULL_ROWS[kind])
    if column == "qr_created_at":
        del full["expires_at"]  # the expiry is then derived from qr_created_at
    await upload(pool, kind, [full])
    stored = await snapshot(pool, kind)
    again = dict(full)
    if how == "absent":
        del again[column]
    else:
        again[column] = ""
    summary = await upload(pool, kind, [again])
    assert await snapshot(pool, kind) == stored
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 0, 1)


async def test_a_store_list_without_the_active_column_does_not_reopen_a_closed_store(
    pool: asyncpg.Pool,
) -> None:
    await upload(pool, "stores", [store_row("S1", active="false"), store_row("S2")])
    await upload(pool, "stores", [store_row("S1", name="改名"), store_row("S2", name="改名")])
    rows = await pool.fetch("SELECT store_id, name, active FROM stores ORDER BY store_id")
    assert [tuple(r) for r in rows] == [("S1", "改名", False), ("S2", "改名", True)]


@pytest.mark.parametrize("word", ["清空", "clear", "CLEAR"])
async def test_the_clear_word_removes_a_stored_area_address_or_label(
    pool: asyncpg.Pool, word: str
) -> None:
    await upload(pool, "stores", [store_row("S1", address="南京西路 1 号", service_area=AREA)])
    await upload(pool, "entries", [{"code": "C1", "kind": "counter", "label": "收银台"}])
    await upload(pool, "stores", [store_row("S1", address=word, service_area=word)])
    await upload(pool, "entries", [{"code": "C1", "kind": "counter", "label": word}])
    store = await pool.fetchrow("SELECT address, service_area, source_area FROM stores")
    assert tuple(store) == ("", None, None)
    assert await pool.fetchval("SELECT label FROM entries") == ""


async def test_a_kept_service_area_follows_the_store_into_another_coordinate_system(
    pool: asyncpg.Pool,
) -> None:
    """The uploaded form of an area is in the row's system; a row that changes system without
    giving the area again keeps the GCJ-02 area, and exports it as gcj02 (not the old
    WGS-84 polygon labelled gcj02)."""
    await upload(pool, "stores", [store_row("S1", coord="wgs84", service_area=AREA)])
    area = await pool.fetchval("SELECT service_area FROM stores")
    await upload(pool, "stores", [store_row("S1", coord="gcj02")])
    assert await pool.fetchval("SELECT service_area FROM stores") == area
    exported = await export_rows(pool, "stores", "Asia/Shanghai")
    assert exported[0][6:8] == ["gcj02", area]
    again = render("stores", "csv", exported)
    summary = await import_file(pool, "stores", again, "stores.csv", **LIMITS)
    assert (summary.updated, summary.unchanged) == (0, 1)
    assert await pool.fetchval("SELECT service_area FROM stores") == area


async def shows(client: Any, group_id: str | None) -> bool:
    group = (await scan(client))["group"]
    return (group and group["id"]) == group_id if group_id else group is None


async def positions(pool: asyncpg.Pool, store_id: str = "S1") -> list[tuple[str, int]]:
    rows = await pool.fetch(
        "SELECT group_id, position FROM groups WHERE store_id = $1 ORDER BY position, id", store_id
    )
    return [(r["group_id"], r["position"]) for r in rows]


@pytest.mark.parametrize("how", ["absent", "empty"])
async def test_a_partial_reupload_of_one_group_keeps_the_stores_order(
    pool: asyncpg.Pool, make_client: Any, how: str
) -> None:
    """The issue: A, B, C uploaded; C alone re-uploaded with a new code and no position. C kept
    position 0 (A 0, C 0, B 1), so customers got C before B once A was full."""
    await seed(pool, [store_row("S1")])
    await upload(pool, "groups", [group_row("A"), group_row("B"), group_row("C")])
    assert await positions(pool) == [("A", 0), ("B", 1), ("C", 2)]
    renewed = group_row("C", qr_payload="https://weixin.qq.com/g/NEWC")
    if how == "empty":
        renewed["position"] = ""
    await upload(pool, "groups", [renewed])
    assert await positions(pool) == [("A", 0), ("B", 1), ("C", 2)]
    client = await make_client()
    assert (await scan(client))["group"]["id"] == "A"
    response = await client.post(
        "/admin/api/groups/A/member-count", json={"member_count": 200}, headers=AUTH
    )
    assert response.status == 200
    await eventually(lambda: shows(client, "B"))


async def test_new_groups_without_a_position_go_after_the_stores_own_in_file_order(
    pool: asyncpg.Pool,
) -> None:
    await seed(pool, [store_row("S1"), store_row("S2")])
    await upload(
        pool,
        "groups",
        [group_row("A", position="0"), group_row("B", position="4"), group_row("X", "S2")],
    )
    await upload(pool, "groups", [group_row("D"), group_row("A"), group_row("E")])
    assert await positions(pool) == [("A", 0), ("B", 4), ("D", 5), ("E", 6)]
    # Below a row that gives a position, a new row follows it; a group moved to another store
    # without a position goes after that store's groups.
    await upload(
        pool,
        "groups",
        [group_row("F", position="10"), group_row("G"), group_row("D", "S2"), group_row("H", "S2")],
    )
    assert await positions(pool) == [("A", 0), ("B", 4), ("E", 6), ("F", 10), ("G", 11)]
    assert await positions(pool, "S2") == [("X", 0), ("D", 1), ("H", 2)]


async def test_a_first_upload_keeps_file_order_with_and_without_positions(
    pool: asyncpg.Pool,
) -> None:
    await seed(pool, [store_row("S1")])
    await upload(
        pool,
        "groups",
        [
            group_row("A"),
            group_row("B", position="5"),
            group_row("C"),
            group_row("D", position="2"),
            group_row("E"),
        ],
    )
    assert await positions(pool) == [("A", 0), ("D", 2), ("B", 5), ("C", 6), ("E", 7)]


# ---- capacities WeChat cannot honour ----------------------------------------------------------


async def test_a_personal_group_code_over_the_scan_join_limit_is_refused_with_its_reason(
    pool: asyncpg.Pool,
) -> None:
    await seed(pool, [store_row("S1")])
    rows = [
        group_row("G1", capacity="500"),
        group_row("G2", capacity=str(WECHAT_SCAN_JOIN_LIMIT)),
        group_row("G3", qr_payload="HTTPS://WEIXIN.QQ.COM/g/UPPER", capacity="201"),
    ]
    for dry_run in (True, False):
        with pytest.raises(ImportRejected) as info:
            await import_file(pool, "groups", csv_file(rows), "g.csv", dry_run=dry_run, **LIMITS)
        assert [(e.row, e.column, e.value) for e in info.value.errors] == [
            (2, "capacity", "500"),
            (4, "capacity", "201"),
        ]
        message = info.value.errors[0].text()  # both languages, Chinese first
        assert message.startswith("个人微信群二维码")
        assert "personal WeChat group code stops scan-joins at 200 members" in message
    assert await pool.fetchval("SELECT count(*) FROM groups") == 0


async def test_the_refusal_reaches_the_ops_api_as_a_422_with_the_row(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")])
    client = await make_client()
    response = await client.post(
        "/admin/api/uploads/groups",
        data=csv_file([group_row("G1", capacity="500")]),
        params={"filename": "g.csv", "dry_run": "1"},
        headers=AUTH,
    )
    assert response.status == 422
    body = await response.json()
    assert body["error"]["code"] == "import_rejected"
    assert [(e["row"], e["column"], e["value"]) for e in body["error"]["errors"]] == [
        (2, "capacity", "500")
    ]


async def test_wecom_and_other_codes_keep_capacities_above_the_personal_limit(
    pool: asyncpg.Pool,
) -> None:
    await seed(pool, [store_row("S1")])
    await upload(
        pool,
        "groups",
        [
            group_row("W1", qr_payload="https://work.weixin.qq.com/gm/abc", capacity="500"),
            group_row("W2", qr_payload="https://weixin.qq.com/x/notagroup", capacity="2000"),
            group_row("P1"),
        ],
    )
    rows = await pool.fetch("SELECT group_id, capacity FROM groups ORDER BY group_id")
    assert [tuple(r) for r in rows] == [("P1", WECHAT_SCAN_JOIN_LIMIT), ("W1", 500), ("W2", 2000)]


async def test_a_stored_capacity_too_large_for_the_new_personal_code_is_refused(
    pool: asyncpg.Pool,
) -> None:
    """An empty capacity keeps the stored one: a WeCom group of 500 given a personal code, or a
    personal group stored before this check, would be shown past 200 members."""
    await seed(pool, [store_row("S1")])
    await upload(
        pool,
        "groups",
        [group_row("G1", qr_payload="https://work.weixin.qq.com/gm/abc", capacity="500")],
    )
    with pytest.raises(ImportRejected) as info:
        await upload(pool, "groups", [group_row("G0"), group_row("G1")])
    [error] = info.value.errors
    assert (error.row, error.column, error.value) == (3, "capacity", "500")
    assert "stored capacity 500" in error.message
    row = await pool.fetchrow("SELECT qr_payload, capacity FROM groups WHERE group_id = 'G1'")
    assert tuple(row) == ("https://work.weixin.qq.com/gm/abc", 500)  # nothing was written
    assert await pool.fetchval("SELECT count(*) FROM groups") == 1
    await upload(pool, "groups", [group_row("G1", capacity="200")])
    assert await pool.fetchval("SELECT capacity FROM groups WHERE group_id = 'G1'") == 200
    # A personal group stored with 500 before uploads checked it: listed until it is fixed.
    await pool.execute("UPDATE groups SET capacity = 500 WHERE group_id = 'G1'")
    with pytest.raises(ImportRejected, match="stored capacity 500"):
        await upload(pool, "groups", [group_row("G1")])


async def test_a_personal_group_reported_past_its_capacity_is_full_not_refused(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """Members can still invite people past 200, so a count above the capacity is real: the
    group is accepted and counts as full."""
    await seed(pool, [store_row("S1")])
    await upload(pool, "groups", [group_row("G1", member_count="230"), group_row("G2")])
    assert await pool.fetchval("SELECT capacity FROM groups WHERE group_id = 'G1'") == 200
    client = await make_client()
    assert (await scan(client))["group"]["id"] == "G2"
    response = await client.post(
        "/admin/api/groups/G2/member-count", json={"member_count": 231}, headers=AUTH
    )
    assert response.status == 200
    await eventually(lambda: shows(client, None))


async def test_a_groups_export_with_a_wecom_join_way_uploads_again_and_leaves_it_alone(
    pool: asyncpg.Pool,
) -> None:
    """The join-way group (capacity and cap 2,000,000,000) was exported, and its row then
    failed the upload's ranges; an upload naming it would have overwritten Huoma's own group."""
    await seed(pool, [store_row("S1")], [group_row("G1")])
    await pool.execute(
        sql.WECOM_UPSERT_GROUP, "wecom-S1", "S1", "企微群", "https://work.weixin.qq.com/gm/x"
    )
    exported = await export_rows(pool, "groups", "Asia/Shanghai")
    assert [row[0] for row in exported] == ["G1"]
    again = render("groups", "csv", exported)
    summary = await import_file(pool, "groups", again, "groups.csv", **LIMITS)
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 0, 1)
    before = await snapshot(pool, "groups")
    with pytest.raises(ImportRejected) as info:
        await upload(
            pool, "groups", [group_row("G1"), group_row("wecom-S1", qr_payload="https://x/y")]
        )
    assert [(e.row, e.column, e.value) for e in info.value.errors] == [(3, "group_id", "wecom-S1")]
    assert await snapshot(pool, "groups") == before
