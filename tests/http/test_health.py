"""Group health for ops: per-store fill and expiry, low and fallback lists, retire, restore, reorder."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from router.store import sql
from tests.conftest import (
    ADMIN_TOKEN,
    assert_needs_a_valid_token,
    eventually,
    group_row,
    scan,
    seed,
    store_row,
)

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def sweep(pool: asyncpg.Pool) -> None:
    await pool.fetch(sql.SWEEP_STATES, 500, 3600)


async def seeded(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [store_row("S1", city="上海"), store_row("S2", city="北京"), store_row("S3", city="上海")],
        [
            group_row("G1", member_count=50, capacity=200, expires_at="2099-01-01 00:00"),
            group_row("G2"),
            group_row("G3", store_id="S2"),
        ],
    )
    await sweep(pool)


async def groups_of(client: Any, store_id: str) -> dict[str, str]:
    response = await client.get(f"/admin/api/stores/{store_id}/groups", headers=AUTH)
    assert response.status == 200
    return {g["group_id"]: g["state"] for g in (await response.json())["groups"]}


async def test_health_shows_each_stores_active_group_and_what_is_left(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    response = await client.get("/admin/api/health", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["summary"] == {"stores": 3, "low": 2, "on_fallback": 1}
    assert body["total"] == 3
    # Emptiest first: what ops must look at leads the table.
    assert [(s["store_id"], s["usable"], s["status"]) for s in body["stores"]] == [
        ("S3", 0, "fallback"),
        ("S2", 1, "low"),
        ("S1", 2, "ok"),
    ]
    s1 = body["stores"][2]["active_group"]
    assert s1["group_id"] == "G1"
    assert (s1["member_count"], s1["capacity"], s1["member_fill"]) == (50, 200, 0.25)
    assert s1["display_cap"] == 500
    assert s1["expires_in_s"] > 365 * 86_400
    assert body["stores"][0]["active_group"] is None

    low = await (await client.get("/admin/api/health?status=low", headers=AUTH)).json()
    assert [s["store_id"] for s in low["stores"]] == ["S3", "S2"]
    empty = await (await client.get("/admin/api/health?status=fallback", headers=AUTH)).json()
    assert [s["store_id"] for s in empty["stores"]] == ["S3"]
    city = await (await client.get("/admin/api/health?city=北京", headers=AUTH)).json()
    assert [s["store_id"] for s in city["stores"]] == ["S2"]
    found = await (await client.get("/admin/api/health?q=s1", headers=AUTH)).json()
    assert [s["store_id"] for s in found["stores"]] == ["S1"]
    page = await (await client.get("/admin/api/health?limit=1&offset=1", headers=AUTH)).json()
    assert [s["store_id"] for s in page["stores"]] == ["S2"]
    assert page["total"] == 3


async def test_a_retired_group_is_never_shown_again_and_can_be_restored(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    assert (await scan(client))["group"]["id"] == "G1"
    response = await client.post("/admin/api/groups/G1/retire", headers=AUTH)
    assert response.status == 200
    assert await response.json() == {"group_id": "G1", "store_id": "S1", "state": "retired"}
    assert await groups_of(client, "S1") == {"G2": "active", "G1": "retired"}

    async def shows_g2() -> bool:
        return bool((await scan(client))["group"]["id"] == "G2")

    await eventually(shows_g2)
    response = await client.post("/admin/api/groups/G1/restore", headers=AUTH)
    assert (await response.json())["state"] == "active"
    assert await groups_of(client, "S1") == {"G1": "active", "G2": "standby"}


async def test_reordering_puts_the_chosen_group_first(pool: asyncpg.Pool, make_client: Any) -> None:
    await seeded(pool)
    client = await make_client()
    response = await client.put(
        "/admin/api/stores/S1/order", json={"group_ids": ["G2"]}, headers=AUTH
    )
    assert response.status == 200
    assert (await response.json())["group_ids"] == ["G2", "G1"]
    assert await groups_of(client, "S1") == {"G2": "active", "G1": "standby"}

    async def shows_g2() -> bool:
        return bool((await scan(client))["group"]["id"] == "G2")

    await eventually(shows_g2)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("PUT", "/admin/api/stores/S1/order", {"group_ids": ["G3"]}, 400, "bad_order"),
        ("PUT", "/admin/api/stores/S1/order", {"group_ids": ["G1", "G1"]}, 400, "bad_order"),
        ("PUT", "/admin/api/stores/S1/order", {"group_ids": []}, 400, "bad_order"),
        ("PUT", "/admin/api/stores/S9/order", {"group_ids": ["G1"]}, 404, "store_not_found"),
        ("POST", "/admin/api/groups/G9/retire", None, 404, "group_not_found"),
        ("GET", "/admin/api/stores/S9/groups", None, 404, "store_not_found"),
        ("GET", "/admin/api/health?status=odd", None, 400, "bad_status"),
        ("GET", "/admin/api/health?limit=100000", None, 400, "bad_limit"),
        ("GET", "/admin/api/health?offset=-1", None, 400, "bad_offset"),
        # Found by schemathesis: a NUL in a search was a 503 ("the database did not answer").
        ("GET", "/admin/api/health?q=a%00b", None, 400, "bad_value"),
    ],
)
async def test_bad_health_requests_are_clear_4xx(
    pool: asyncpg.Pool,
    make_client: Any,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    await seeded(pool)
    client = await make_client()
    response = await client.request(method, path, json=body, headers=AUTH)
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/api/health"),
        ("GET", "/admin/api/stores/S1/groups"),
        ("PUT", "/admin/api/stores/S1/order"),
        ("POST", "/admin/api/groups/G1/retire"),
        ("POST", "/admin/api/groups/G1/restore"),
    ],
)
async def test_health_endpoints_need_a_valid_token(
    pool: asyncpg.Pool, make_client: Any, method: str, path: str
) -> None:
    await assert_needs_a_valid_token(await make_client(), method, path)
    # Without HUOMA_ADMIN_TOKENS, a bearer token is looked up among the named ones: not there.
    closed = await make_client(admin_tokens=())
    assert (await closed.request(method, path, headers=AUTH)).status == 401
