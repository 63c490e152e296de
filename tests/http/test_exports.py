"""Templates and exports: every template uploads as it is, and an export uploads again unchanged."""

from __future__ import annotations

import codecs
import csv
import io
import json
from typing import Any

import asyncpg
import openpyxl
import pytest

from router.ops.exports import COLUMNS
from router.ops.uploads import LABELS, read_table
from router.ops.uploads.headers import field_of
from tests.conftest import ADMIN_TOKEN, group_row, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ORDER = ("stores", "fallbacks", "groups", "entries")  # each may refer to the ones before


def cells(fmt: str, body: bytes) -> list[list[str]]:
    if fmt == "csv":
        assert body.startswith(codecs.BOM_UTF8)  # Excel needs it to read UTF-8
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    if fmt == "json":
        rows = json.loads(body)
        return [list(rows[0])] + [list(r.values()) for r in rows]
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("lang", [None, "zh", "en"])
@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
async def test_every_template_uploads_as_it_is(
    pool: asyncpg.Pool, make_client: Any, fmt: str, lang: str | None
) -> None:
    client = await make_client()
    for kind in ORDER:
        params = {} if lang is None else {"lang": lang}
        response = await client.get(
            f"/admin/api/templates/{kind}.{fmt}", headers=AUTH, params=params
        )
        assert response.status == 200
        suffix = "-en" if lang == "en" else ""
        assert f"huoma-{kind}-template{suffix}.{fmt}" in response.headers["Content-Disposition"]
        body = await response.read()
        header = template_cells(fmt, body)[0]
        if fmt == "json":
            assert header == list(COLUMNS[kind])
        else:
            # Ops' names, in the language asked (Chinese by default), each read as its field.
            names = [LABELS[kind][c][1 if lang == "en" else 0] for c in COLUMNS[kind]]
            assert header == names
            assert [field_of(kind, h) for h in header] == list(COLUMNS[kind])
        # Valid as it stands, and caught as the template's example row: it commits only once
        # ops accept that warning with the dry run's token.
        dry = await client.post(
            f"/admin/api/uploads/{kind}",
            data=body,
            params={"filename": f"t.{fmt}", "dry_run": "1"},
            headers=AUTH,
        )
        assert dry.status == 200, await dry.text()
        checked = await dry.json()
        assert [w["code"] for w in checked["warnings"]] == ["template_example"]
        uploaded = await client.post(
            f"/admin/api/uploads/{kind}",
            data=body,
            params={"filename": f"t.{fmt}", "confirm": checked["confirm_token"]},
            headers=AUTH,
        )
        assert uploaded.status == 200, await uploaded.text()
        assert (await uploaded.json())["inserted"] == 1
    assert await pool.fetchval("SELECT count(*) FROM entries") == 1


def template_cells(fmt: str, body: bytes) -> list[list[str]]:
    """A template's data: an XLSX explains the columns on its first sheet, the data follows."""
    if fmt != "xlsx":
        return cells(fmt, body)
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    notes, data = book.worksheets
    explained = [r[1] for r in notes.iter_rows(min_row=2, values_only=True) if len(r) > 1 and r[1]]
    header = [str(v) for v in next(data.iter_rows(values_only=True))]
    assert explained == [field_of(kind, h) for kind in [_kind_of(data.title)] for h in header]
    return [header]


def _kind_of(sheet: str) -> str:
    names = {"门店": "stores", "群": "groups", "兜底码": "fallbacks", "入口码": "entries"}
    return names.get(sheet, sheet.lower())


async def test_the_chinese_template_explains_every_column_on_a_sheet_of_its_own(
    make_client: Any,
) -> None:
    client = await make_client()
    response = await client.get("/admin/api/templates/stores.xlsx", headers=AUTH)
    book = openpyxl.load_workbook(io.BytesIO(await response.read()), read_only=True)
    assert book.sheetnames == ["说明", "门店"]
    rows = list(book["说明"].iter_rows(values_only=True))
    assert rows[0] == ("列名", "字段", "是否必填", "说明")
    explained = {r[1]: (r[0], r[2], r[3]) for r in rows[1:] if len(r) > 1 and r[1]}
    assert list(explained) == list(COLUMNS["stores"])
    assert explained["lat"][:2] == ("纬度", "必填")
    assert explained["region"][1] == "可选" and "华东大区" in explained["region"][2]
    english = await client.get("/admin/api/templates/stores.xlsx?lang=en", headers=AUTH)
    book = openpyxl.load_workbook(io.BytesIO(await english.read()), read_only=True)
    assert book.sheetnames == ["Instructions", "Stores"]
    bad = await client.get("/admin/api/templates/stores.xlsx?lang=fr", headers=AUTH)
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_lang"


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
async def test_an_export_uploads_again_unchanged(
    pool: asyncpg.Pool, make_client: Any, fmt: str
) -> None:
    area = "POLYGON((121.40 31.20, 121.50 31.20, 121.50 31.30, 121.40 31.30, 121.40 31.20))"
    await seed(
        pool,
        [
            store_row("S1"),
            store_row("S2", lat="31.2287", lng="121.4690", coord="wgs84", service_area=area),
            store_row("00123", name="前导零店", active="false"),
        ],
        [
            group_row("G1", capacity=150, expires_at="2030-01-02 03:04:05", display_cap=900),
            group_row("G2", member_count=17, position=5),
            group_row("G3", store_id="S2"),
        ],
    )
    await pool.execute(
        "INSERT INTO groups (group_id, store_id, name, qr_payload, kind, state, capacity) "
        "VALUES ('fallback:*', NULL, '品牌群', 'https://example.com/brand', 'fallback', 'active', 1)"
    )
    await pool.execute("INSERT INTO entries VALUES ('C1', 'counter', NULL, '收银台')")
    await pool.execute("INSERT INTO entries VALUES ('P1', 'store', 'S2', '')")
    client = await make_client()
    for kind in ORDER:
        response = await client.get(f"/admin/api/exports/{kind}.{fmt}", headers=AUTH)
        assert response.status == 200
        body = await response.read()
        rows = cells(fmt, body)
        assert rows[0] == list(COLUMNS[kind])
        uploaded = await client.post(
            f"/admin/api/uploads/{kind}", data=body, params={"filename": f"e.{fmt}"}, headers=AUTH
        )
        assert uploaded.status == 200, await uploaded.text()
        summary = await uploaded.json()
        assert (summary["inserted"], summary["updated"]) == (0, 0), (kind, summary)
        assert summary["unchanged"] == len(rows) - 1 > 0
    stores = cells(
        fmt, await (await client.get(f"/admin/api/exports/stores.{fmt}", headers=AUTH)).read()
    )
    s2 = next(r for r in stores if r[0] == "S2")
    # As uploaded: WGS-84 coordinates and the area in the store's own system.
    assert s2[4:7] == ["31.2287", "121.469", "wgs84"]
    assert s2[7] == area
    assert next(r for r in stores if r[0] == "00123")[8] in ("false", "False")
    groups = cells(
        fmt, await (await client.get(f"/admin/api/exports/groups.{fmt}", headers=AUTH)).read()
    )
    assert groups[1][:7] == [
        "G1",
        "S1",
        "Group G1",
        "https://weixin.qq.com/g/TESTG1",
        "150",
        "",
        "2030-01-02 03:04:05",
    ]


async def test_templates_and_exports_need_a_token_and_known_names(make_client: Any) -> None:
    client = await make_client()
    assert (await client.get("/admin/api/exports/stores.csv")).status == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.get("/admin/api/templates/stores.csv", headers=wrong)).status == 401
    response = await client.get("/admin/api/exports/shops.csv", headers=AUTH)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "unknown_kind"
    response = await client.get("/admin/api/templates/stores.xls", headers=AUTH)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "unknown_format"


def tricky_brand(stores: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """A brand of `stores` stores whose text holds what breaks files: quotes, commas, semicolons,
    tabs, line breaks, Chinese, emoji, escapes Excel uses, and ids with leading zeros."""
    names = [
        'Mall "A"',
        "Starbucks, Level 2",
        "two\nlines",
        "crlf\r\nlines",
        '"quoted" 开头',
        "人民广场店",
        "a;b\tc",
        "☕ 咖啡",
        "literal _x000D_ and _x005F_",
        '末尾引号"',
    ]
    store_rows, group_rows = [], []
    for i in range(stores):
        sid = f"{i:05d}"  # 00000, 00123...
        if i < 100:
            # Plain rows first, as in real brands: the first quote comes well past 4 KB.
            store_rows.append(store_row(sid, name=f"门店 {i}", address=f"人民路 {i} 号"))
            group_rows.append(group_row(f"{sid}-G1", sid, name=f"门店 {i} 群"))
            continue
        coord = ("gcj02", "wgs84", "bd09")[i % 3]
        store_rows.append(
            store_row(
                sid,
                name=f"{names[i % len(names)]} {i}",
                city=("上海", "北京", "广州")[i % 3],
                address=f'{i} 号, "B" 座\n{names[(i + 3) % len(names)]}',
                lat=f"{31 + (i % 997) / 1000:.6f}",
                lng=f"{121 + (i % 991) / 1000:.6f}",
                coord=coord,
                active="false" if i % 17 == 0 else "true",
            )
        )
        group_rows.append(
            group_row(
                f"{sid}-G1",
                sid,
                name=f"{names[(i + 1) % len(names)]} 群",
                capacity=150 + i % 50,
                expires_at="2030-01-02 03:04:05" if i % 2 else "",
            )
        )
    return store_rows, group_rows


@pytest.mark.slow
async def test_every_export_of_a_brand_of_thousands_uploads_back_identical(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """Export -> upload -> export gives the same data, in every format and kind."""
    stores, groups = tricky_brand(2_000)
    await seed(pool, stores, groups)
    await pool.executemany(
        "INSERT INTO groups (group_id, store_id, name, qr_payload, kind, state, capacity) "
        "VALUES ($1, $2, $3, $4, 'fallback', 'active', 1)",
        [("fallback:*", None, '品牌群, "总部"', "https://example.com/brand")]
        + [
            (f"fallback:{i:05d}", f"{i:05d}", f"店长\n{i}", f"https://work.weixin.qq.com/u/{i}")
            for i in range(100, 2_000, 7)
        ],
    )
    await pool.executemany(
        "INSERT INTO entries VALUES ($1, 'store', $2, $3)",
        [(f"E{i:05d}", f"{i:05d}", f'收银台 "{i}", 左') for i in range(100, 2_000, 3)],
    )
    client = await make_client()
    for fmt in ("csv", "json", "xlsx"):
        for kind in ORDER:
            first = await (
                await client.get(f"/admin/api/exports/{kind}.{fmt}", headers=AUTH)
            ).read()
            uploaded = await client.post(
                f"/admin/api/uploads/{kind}",
                data=first,
                params={"filename": f"e.{fmt}"},
                headers=AUTH,
            )
            assert uploaded.status == 200, (fmt, kind, await uploaded.text())
            summary = await uploaded.json()
            assert (summary["inserted"], summary["updated"]) == (0, 0), (fmt, kind, summary)
            second = await (
                await client.get(f"/admin/api/exports/{kind}.{fmt}", headers=AUTH)
            ).read()
            assert cells(fmt, second) == cells(fmt, first), (fmt, kind)
            if fmt != "xlsx":  # a workbook carries its creation time
                assert second == first, (fmt, kind)
        export = await (await client.get(f"/admin/api/exports/stores.{fmt}", headers=AUTH)).read()
        by_id = {
            v["store_id"]: v for _, v in read_table(export, f"e.{fmt}", "stores", 10**8, 10**6).rows
        }
        assert len(by_id) == 2_000
        for store in stores:  # the text is what was first uploaded, not a copy of a copy
            got = by_id[store["store_id"]]
            assert [got[c] for c in ("name", "city", "address")] == [
                store["name"],
                store["city"],
                store["address"],
            ], fmt
