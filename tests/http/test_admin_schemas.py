"""Every admin answer matches the schema /openapi.yaml promises for it (success and errors)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jsonschema
import openpyxl
import pytest
import yaml

from router.keeper import sweep as keeper
from router.keeper.providers import OpsProvider
from router.settings import Settings
from tests.conftest import ADMIN_TOKEN, group_row, seed, store_row
from tests.http.test_api import _nullable_to_json_schema

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def response_schema(doc: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    responses = doc["paths"][path][method]["responses"]
    answer = responses[status]
    if "$ref" in answer:
        answer = doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer["content"]["application/json"]["schema"]
    return {
        **_nullable_to_json_schema(schema),
        "$defs": _nullable_to_json_schema(doc["components"]["schemas"]),
    }


async def test_admin_answers_match_their_documented_schemas(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    await seed(pool, [store_row("S1"), store_row("S2")], [group_row("G1", member_count=3)])
    await keeper.sweep(pool, settings.with_(low_water=1), OpsProvider())
    await pool.execute("INSERT INTO entries (code, kind, store_id) VALUES ('P1', 'store', 'S1')")
    await pool.execute(
        "INSERT INTO scan_events (event_id, at, entry, store_id, group_id, visitor, outcome) "
        "VALUES ($1, $2, 'P1', 'S1', 'G1', 'v1', 'ok')",
        uuid.uuid4(),
        datetime.now(UTC),
    )
    client = await make_client()
    doc = yaml.safe_load(await (await client.get("/openapi.yaml")).text())
    cases: list[tuple[str, str, str, str, Any, int]] = [
        ("get", "/admin/api/health", "/admin/api/health", "200", None, 200),
        ("get", "/admin/api/health", "/admin/api/health?status=odd", "400", None, 400),
        (
            "get",
            "/admin/api/stores/{store_id}/groups",
            "/admin/api/stores/S1/groups",
            "200",
            None,
            200,
        ),
        (
            "put",
            "/admin/api/stores/{store_id}/order",
            "/admin/api/stores/S1/order",
            "200",
            {"group_ids": ["G1"]},
            200,
        ),
        (
            "post",
            "/admin/api/groups/{group_id}/retire",
            "/admin/api/groups/G1/retire",
            "200",
            None,
            200,
        ),
        (
            "post",
            "/admin/api/groups/{group_id}/restore",
            "/admin/api/groups/G1/restore",
            "200",
            None,
            200,
        ),
        ("get", "/admin/api/entries", "/admin/api/entries", "200", None, 200),
        (
            "post",
            "/admin/api/entries",
            "/admin/api/entries",
            "201",
            {"kind": "poster", "label": "x"},
            201,
        ),
        (
            "post",
            "/admin/api/entries",
            "/admin/api/entries",
            "409",
            {"kind": "poster", "code": "P1"},
            409,
        ),
        ("get", "/admin/api/alerts", "/admin/api/alerts", "200", None, 200),
        ("get", "/admin/api/funnel", "/admin/api/funnel", "200", None, 200),
        ("get", "/admin/api/funnel", "/admin/api/funnel?by=", "200", None, 200),
        ("get", "/admin/api/funnel", "/admin/api/funnel?from=x", "400", None, 400),
        (
            "get",
            "/admin/api/exports/{kind}.{fmt}",
            "/admin/api/exports/shops.csv",
            "404",
            None,
            404,
        ),
    ]
    for method, documented, url, status, body, expected in cases:
        response = await client.request(method.upper(), url, json=body, headers=AUTH)
        assert response.status == expected, (url, await response.text())
        jsonschema.validate(await response.json(), response_schema(doc, documented, method, status))
    upload = await client.post(
        "/admin/api/uploads/stores",
        data=b"store_id,name,city,address,lat,lng,coord\nS9,,x,y,1,2,utm\n",
        params={"filename": "s.csv", "dry_run": "1"},
        headers=AUTH,
    )
    assert upload.status == 422
    jsonschema.validate(
        await upload.json(), response_schema(doc, "/admin/api/uploads/{kind}", "post", "422")
    )
    # A dry run's answer, for a Big5 CSV (an encoding) and a workbook (none).
    book = openpyxl.Workbook()
    book.active.append(["store_id", "name", "city", "address", "lat", "lng", "coord"])
    book.active.append(["S9", "旺角店", "香港", "彌敦道", 22.3193, 114.1694, "wgs84"])
    workbook = io.BytesIO()
    book.save(workbook)
    for data, name in (
        (
            "store_id,name,city,address,lat,lng,coord\nS9,旺角店,香港,彌敦道,22.3,114.1,wgs84\n".encode(
                "big5"
            ),
            "s.csv",
        ),
        (workbook.getvalue(), "s.xlsx"),
    ):
        upload = await client.post(
            "/admin/api/uploads/stores",
            data=data,
            params={"filename": name, "dry_run": "1"},
            headers=AUTH,
        )
        assert upload.status == 200, await upload.text()
        jsonschema.validate(
            await upload.json(), response_schema(doc, "/admin/api/uploads/{kind}", "post", "200")
        )
