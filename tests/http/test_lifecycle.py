"""Group lifecycle on a real PostgreSQL: rotation, display caps, creation, fallbacks, stickiness."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import zxingcpp
from PIL import Image

from tests.conftest import ADMIN_TOKEN, HERE, eventually, group_row, qr_path, scan, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_a_full_group_by_member_count_rotates_to_the_next_in_every_worker(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1", position=0), group_row("G2", position=1)])
    one = await make_client()
    two = await make_client()  # a second worker: its own catalogue, leases and listener
    assert (await scan(one))["group"]["id"] == "G1"
    assert (await scan(two))["group"]["id"] == "G1"
    response = await one.post(
        "/admin/api/groups/G1/member-count", json={"member_count": 200}, headers=AUTH
    )
    assert response.status == 200
    assert await response.json() == {"group_id": "G1", "member_count": 200}
    started = time.monotonic()
    for client in (one, two):
        await eventually(lambda c=client: _group_is(c, "G2"), within=1.0)
    assert time.monotonic() - started < 1.0


async def _group_is(client: Any, group_id: str) -> bool:
    group = (await scan(client))["group"]
    return group is not None and group["id"] == group_id


async def test_a_group_stops_at_its_display_cap_and_the_next_takes_over(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [store_row("S1")],
        [group_row("G1", display_cap=3, position=0), group_row("G2", position=1)],
    )
    client = await make_client(lease_block=10)
    shown = [(await scan(client))["group"]["id"] for _ in range(6)]
    assert shown == ["G1", "G1", "G1", "G2", "G2", "G2"]
    assert await pool.fetchval("SELECT displays_leased FROM groups WHERE group_id = 'G1'") == 3


async def test_a_group_expiring_within_the_margin_is_skipped(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    later = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
    await seed(
        pool,
        [store_row("S1")],
        [
            group_row("G1", expires_at=soon, position=0),
            group_row("G2", expires_at=later, position=1),
        ],
    )
    client = await make_client(expiry_margin_s=3600.0)
    assert (await scan(client))["group"]["id"] == "G2"


async def test_the_simulated_provider_refills_a_store_at_the_low_water_mark(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2", lat=31.3)],
        [group_row("G1"), group_row("G2", "S2"), group_row("G3", "S2")],
    )
    client = await make_client(group_provider="simulated", low_water=2, keeper_interval_s=0.1)

    async def refilled() -> bool:
        return await pool.fetchval("SELECT count(*) FROM groups WHERE store_id = 'S1'") >= 2

    await eventually(refilled)
    row = await pool.fetchrow("SELECT * FROM groups WHERE store_id = 'S1' AND source = 'simulated'")
    assert row["qr_payload"].startswith("https://weixin.qq.com/g/SIM")
    assert row["expires_at"] > datetime.now(UTC) + timedelta(days=6)
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE store_id = 'S2'") == 2
    states = dict(await pool.fetch("SELECT group_id, state FROM groups WHERE store_id = 'S1'"))
    assert states["G1"] == "active"
    # The new group reaches the workers: once G1 is full, customers get it.
    await client.post("/admin/api/groups/G1/member-count", json={"member_count": 200}, headers=AUTH)
    await eventually(lambda: _group_is(client, row["group_id"]))
    # It got there as an addition to the catalogue, not a rebuild of it.
    metrics = await (await client.get("/metrics")).text()
    assert 'huoma_catalogue_reloads_total{result="patch"}' in metrics


async def test_the_ops_provider_raises_one_alert_and_waits_for_an_upload(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1", member_count=200, capacity=200)])
    await make_client(group_provider="ops", low_water=2, keeper_interval_s=0.1)

    async def alerted() -> list[Any]:
        return await pool.fetch(
            "SELECT kind, store_id FROM alerts WHERE resolved_at IS NULL ORDER BY kind"
        )

    rows = await eventually(alerted)
    await asyncio.sleep(0.3)  # several more sweeps: still one alert of each kind
    rows = await alerted()
    assert [(r["kind"], r["store_id"]) for r in rows] == [
        ("low_groups", "S1"),
        ("on_fallback", "S1"),
    ]
    assert await pool.fetchval("SELECT count(*) FROM groups") == 1
    # An upload brings the store back above the mark; the alerts resolve.
    await seed(pool, [store_row("S1")], [group_row("G8", position=1), group_row("G9", position=2)])

    async def resolved() -> bool:
        return await pool.fetchval("SELECT count(*) FROM alerts WHERE resolved_at IS NULL") == 0

    await eventually(resolved)


async def test_nothing_usable_shows_the_store_fallback_then_the_brand_fallback(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2", lat=31.3)],
        [
            group_row("G1", member_count=200, capacity=200),
            group_row("G2", "S2", member_count=200, capacity=200),
        ],
    )
    await seed_fallbacks(
        pool,
        "store_id,name,qr_payload\nS1,店长微信,https://u.wechat.com/STAFF1\n*,品牌群,https://weixin.qq.com/g/BRAND\n",
    )
    client = await make_client()
    body = await scan(client)
    assert (body["status"], body["group"]["id"], body["group"]["name"]) == (
        "fallback",
        "fallback:S1",
        "店长微信",
    )
    png = await (await client.get(qr_path(body["group"]["qr_url"]))).read()
    assert (
        zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))[0].text == "https://u.wechat.com/STAFF1"
    )
    body = await scan(client, "/api/v1/route?store=S2")
    assert (body["status"], body["group"]["id"]) == ("fallback", "fallback:*")


async def test_without_any_fallback_the_answer_is_no_group(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1", member_count=200, capacity=200)])
    client = await make_client()
    body = await scan(client)
    assert (body["status"], body["group"]) == ("no_group", None)


async def test_a_returning_visitor_gets_the_same_group_without_spending_a_display(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2", lat=31.3)],
        [
            group_row("G1", display_cap=2, position=0),
            group_row("G2", position=1),
            group_row("H1", "S2"),
        ],
    )
    client = await make_client()
    client.session.cookie_jar.clear()
    first = await (await client.get(HERE)).json()
    assert first["group"]["id"] == "G1"
    assert first["visitor"] and first["sticky"]
    for _ in range(3):  # cookies carry the visitor and the sticky token
        again = await (await client.get(HERE)).json()
        assert again["group"]["id"] == "G1"
        assert again["visitor"] == first["visitor"]
    assert (await scan(client))["group"]["id"] == "G1"  # a second visitor: the cap's 2nd display
    assert (await scan(client))["group"]["id"] == "G2"  # a third: G1's cap is spent
    # Without cookies, the page can send the visitor id and the token back itself.
    url = f"{HERE}&vid={first['visitor']}&stk={first['sticky']}"
    client.session.cookie_jar.clear()
    assert (await (await client.get(url)).json())["group"]["id"] == "G1"
    # A token is bound to its visitor and store.
    client.session.cookie_jar.clear()
    stolen = await (await client.get(f"{HERE}&vid=someone-else-123&stk={first['sticky']}")).json()
    assert stolen["group"]["id"] == "G2"
    client.session.cookie_jar.clear()
    other = await (
        await client.get(f"/api/v1/route?store=S2&vid={first['visitor']}&stk={first['sticky']}")
    ).json()
    assert other["group"]["id"] == "H1"


async def test_a_sticky_group_that_filled_up_is_not_shown_again(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1", position=0), group_row("G2", position=1)])
    client = await make_client()
    client.session.cookie_jar.clear()
    assert (await (await client.get(HERE)).json())["group"]["id"] == "G1"
    await client.post("/admin/api/groups/G1/member-count", json={"member_count": 200}, headers=AUTH)

    async def moved() -> bool:
        return (await (await client.get(HERE)).json())["group"]["id"] == "G2"

    await eventually(moved)


async def test_unshown_leased_displays_are_returned_on_shutdown(
    pool: asyncpg.Pool, make_client: Any, settings: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1"), group_row("G2")])
    client = await make_client(lease_block=10)
    for _ in range(3):
        await scan(client)
    assert await pool.fetchval("SELECT sum(displays_leased) FROM groups") >= 3
    await client.close()
    assert await pool.fetchval("SELECT displays_leased FROM groups WHERE group_id = 'G1'") == 3
    assert await pool.fetchval("SELECT displays_leased FROM groups WHERE group_id = 'G2'") == 0


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer wrong-token-0123456789"}, 401, "unauthorized"),
        ({"Authorization": f"Basic {ADMIN_TOKEN}"}, 401, "unauthorized"),
    ],
)
async def test_member_counts_need_a_valid_token(
    pool: asyncpg.Pool, make_client: Any, headers: dict[str, str], status: int, code: str
) -> None:
    client = await make_client()
    response = await client.post(
        "/admin/api/groups/G1/member-count", json={"member_count": 5}, headers=headers
    )
    assert response.status == status
    assert (await response.json())["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_without_configured_tokens_only_accounts_and_named_tokens_get_in(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(admin_tokens=())
    response = await client.post(
        "/admin/api/groups/G1/member-count", json={"member_count": 5}, headers=AUTH
    )
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"member_count": -1}', "application/json", 400, "bad_member_count"),
        (b'{"member_count": "5"}', "application/json", 400, "bad_member_count"),
        (b'{"member_count": true}', "application/json", 400, "bad_member_count"),
        (b'{"member_count": 5.5}', "application/json", 400, "bad_member_count"),
        (b"[5]", "application/json", 400, "bad_json"),
        (b"{", "application/json", 400, "bad_json"),
        (b"member_count=5", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
async def test_bad_member_count_reports_are_4xx(
    pool: asyncpg.Pool, make_client: Any, body: bytes, content_type: str, status: int, code: str
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    client = await make_client()
    response = await client.post(
        "/admin/api/groups/G1/member-count",
        data=body,
        headers={**AUTH, "Content-Type": content_type},
    )
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_a_member_count_for_an_unknown_group_is_404(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    response = await client.post(
        "/admin/api/groups/nope/member-count", json={"member_count": 5}, headers=AUTH
    )
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "group_not_found"


async def seed_fallbacks(pool: asyncpg.Pool, csv_text: str) -> None:
    from router.ops.uploads import import_file

    await import_file(
        pool,
        "fallbacks",
        csv_text.encode(),
        "f.csv",
        timezone="Asia/Shanghai",
        max_bytes=10**6,
        max_rows=100,
    )


def test_a_busy_groups_lease_blocks_grow_and_a_quiet_ones_shrink_back() -> None:
    from router.scan.live import LeaseBook

    book = LeaseBook(block=10)
    book.grant(1, 10, cap=500, now=100.0)
    assert book.block_for(1) == 10
    book.grant(1, 10, cap=500, now=100.2)  # needed again within a second: busy
    book.grant(1, 20, cap=500, now=100.4)
    assert book.block_for(1) == 40
    for t in range(20):
        book.grant(1, 1, cap=500, now=101.0 + t * 0.1)
    assert book.block_for(1) == 160  # capped at 16 blocks
    book.grant(1, 1, cap=500, now=200.0)  # quiet again: halves
    assert book.block_for(1) == 80
    book.want_next(2, after=1)
    assert book.take_wanted() == [(2, 80)]  # the next group is leased as generously
    book.grant(3, 0, cap=7)
    assert book.left(3) == 0
