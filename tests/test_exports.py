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

from router.exports import COLUMNS

from .conftest import ADMIN_TOKEN, group_row, seed, store_row

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


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
async def test_every_template_uploads_as_it_is(
    pool: asyncpg.Pool, make_client: Any, fmt: str
) -> None:
    client = await make_client()
    for kind in ORDER:
        response = await client.get(f"/admin/api/templates/{kind}.{fmt}", headers=AUTH)
        assert response.status == 200
        assert f"huoma-{kind}-template.{fmt}" in response.headers["Content-Disposition"]
        body = await response.read()
        assert cells(fmt, body)[0] == list(COLUMNS[kind])
        uploaded = await client.post(
            f"/admin/api/uploads/{kind}",
            data=body,
            params={"filename": f"t.{fmt}"},
            headers=AUTH,
        )
        assert uploaded.status == 200, await uploaded.text()
        assert (await uploaded.json())["inserted"] == 1
    assert await pool.fetchval("SELECT count(*) FROM entries") == 1


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
