"""The funnel's steps as the README defines them, from real requests: a page view, a scan, located,
a group shown (the first time to that visitor), joined; the page's own link renewals and a
visitor's sticky repeats count in none of them. A group's displays are the ones shown."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from router.settings import Settings
from router.store import funnel, sql
from tests.conftest import ADMIN_TOKEN, eventually, group_row, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# The case: a store in Nanjing, and a phone standing at it.
NANJING = {"lat": "32.0603", "lng": "118.7969", "coord": "gcj02"}
SCAN = "/api/v1/route?lat=32.0603&lng=118.7969&coord=gcj02"
STEPS = ("page_views", "scans", "visitors", "located", "groups_shown", "repeats", "renewals")


async def nanjing(pool: asyncpg.Pool, groups: int = 1) -> None:
    await seed(
        pool,
        [store_row("NJ", name="南京新街口店", city="南京", **NANJING)],
        [group_row(f"G{i}", "NJ") for i in range(1, groups + 1)],
    )


async def flushed(pool: asyncpg.Pool, count: int) -> None:
    async def enough() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM scan_events") >= count)

    await eventually(enough)
    assert await pool.fetchval("SELECT count(*) FROM scan_events") == count


async def get(client: Any, url: str) -> dict[str, Any]:
    """One request as a client that keeps no cookies: what it carries is in the URL."""
    client.session.cookie_jar.clear()
    response = await client.get(url)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def today_totals(client: Any, settings: Settings) -> dict[str, int]:
    day = funnel.today(zoneinfo.ZoneInfo(settings.timezone))
    response = await client.get(f"/admin/api/funnel?from={day}&to={day}", headers=AUTH)
    assert response.status == 200
    totals: dict[str, int] = (await response.json())["totals"]
    return {m: totals[m] for m in STEPS}


@pytest.mark.parametrize("marker", ["&renew=1", ""], ids=["the-page-renews", "plain-repeats"])
async def test_one_scan_then_two_requests_with_its_sticky_token_are_one_scan_one_showing(
    pool: asyncpg.Pool, settings: Settings, make_client: Any, marker: str
) -> None:
    """The issue's case: a scan, then twice the same query with the sticky token of the answer
    (as the page renews its link: renew=1; or without the marker, the same visitor asking again):
    one scan, one group shown, one visitor, live and rolled up alike."""
    await nanjing(pool)
    client = await make_client(events_flush_s=0.05)
    first = await get(client, f"{SCAN}&vid=visitor-V")
    assert first["status"] == "ok" and first["sticky"]
    for _ in range(2):
        again = await get(client, f"{SCAN}&vid=visitor-V&stk={first['sticky']}{marker}")
        assert again["group"]["id"] == first["group"]["id"]
    await flushed(pool, 3)
    kind = "renewal" if marker else "repeat"
    kinds = [r["kind"] for r in await pool.fetch("SELECT kind FROM scan_events ORDER BY at")]
    assert kinds == ["scan", kind, kind]

    live = await today_totals(client, settings)
    want = {"page_views": 0, "scans": 1, "visitors": 1, "located": 1, "groups_shown": 1}
    want |= {"repeats": 0, "renewals": 0, kind + "s": 2}
    assert live == want

    # The same events on a finished day, through the keeper's rollup: the same figures.
    await pool.execute("UPDATE scan_events SET at = at - interval '1 day'")
    tz = zoneinfo.ZoneInfo(settings.timezone)
    yesterday = funnel.today(tz) - timedelta(days=1)
    await pool.execute(
        "INSERT INTO funnel_days (day, dirty) VALUES ($1, true) "
        "ON CONFLICT (day) DO UPDATE SET dirty = true",
        yesterday,
    )
    async with pool.acquire() as conn:
        while await funnel.refresh(conn, settings):
            pass
    rolled = await pool.fetchrow(
        "SELECT * FROM funnel_daily WHERE grain = 0 AND day = $1", yesterday
    )
    assert rolled is not None
    assert {m: rolled[m] for m in STEPS} == want
    response = await client.get(f"/admin/api/funnel?from={yesterday}&to={yesterday}", headers=AUTH)
    assert {m: (await response.json())["totals"][m] for m in STEPS} == want


async def test_a_page_served_is_a_page_view_with_its_entry_and_nothing_else(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    await nanjing(pool)
    client = await make_client(events_flush_s=0.05)
    for path in ("/s/counter-1", "/s/counter-1", "/s/", "/s/not%20a%20code"):
        assert (await client.get(path)).status == 200
    assert (await client.head("/s/counter-1")).status == 200  # a HEAD is no view
    await flushed(pool, 4)
    rows = await pool.fetch("SELECT * FROM scan_events ORDER BY at")
    assert {r["kind"] for r in rows} == {"page_view"}
    assert [r["entry"] for r in rows] == ["counter-1", "counter-1", None, None]
    assert all(r["lat_approx"] is None and r["store_id"] is None for r in rows)
    totals = await today_totals(client, settings)
    assert totals == {m: 4 if m == "page_views" else 0 for m in STEPS}
    day = funnel.today(zoneinfo.ZoneInfo(settings.timezone))
    by_entry = await (
        await client.get(f"/admin/api/funnel?from={day}&to={day}&by=entry", headers=AUTH)
    ).json()
    assert {r["entry"]: r["page_views"] for r in by_entry["rows"]} == {"counter-1": 2, "": 2}


async def test_a_scan_without_a_location_is_a_scan_not_located_and_shows_nothing(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    await nanjing(pool)
    client = await make_client(events_flush_s=0.05)
    await get(client, "/api/v1/route?entry=counter-1&vid=visitor-A")
    await get(client, f"{SCAN}&vid=visitor-A")
    await flushed(pool, 2)
    totals = await today_totals(client, settings)
    assert totals == {
        "page_views": 0,
        "scans": 2,
        "visitors": 1,
        "located": 1,
        "groups_shown": 1,
        "repeats": 0,
        "renewals": 0,
    }


async def test_a_group_is_shown_once_per_visitor_and_again_to_each_new_one(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    """Shown counts a group shown to a visitor for the first time: a second visitor is a new
    showing, the first one coming back with their token (cookie or stk) is not; a visitor who
    lost their token is shown a group anew, and that is a showing."""
    await nanjing(pool)
    client = await make_client(events_flush_s=0.05)
    a = await get(client, f"{SCAN}&vid=visitor-A")
    await get(client, f"{SCAN}&vid=visitor-B")
    # visitor A again, its token in the cookie as a browser keeps it
    client.session.cookie_jar.clear()
    response = await client.get(SCAN, headers={"Cookie": f"hm_vid=visitor-A; hm_stk={a['sticky']}"})
    assert response.status == 200
    await get(client, f"{SCAN}&vid=visitor-A")  # A without the token: a new showing
    await flushed(pool, 4)
    totals = await today_totals(client, settings)
    assert (totals["scans"], totals["visitors"], totals["groups_shown"]) == (3, 2, 3)
    assert totals["repeats"] == 1


async def test_a_renewal_the_server_cannot_confirm_is_a_scan(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    """renew=1 hides nothing: without a sticky token, with another visitor's, or with a token
    for another store, the answer is a new decision and its event a scan (with its showing)."""
    await seed(
        pool,
        [store_row("NJ", **NANJING), store_row("SH")],
        [group_row("G1", "NJ"), group_row("G2", "SH")],
    )
    client = await make_client(events_flush_s=0.05)
    a = await get(client, f"{SCAN}&vid=visitor-A")
    sh = await get(client, "/api/v1/route?lat=31.2304&lng=121.4737&coord=gcj02&vid=visitor-A")
    await get(client, f"{SCAN}&vid=visitor-A&renew=1")  # no token
    await get(client, f"{SCAN}&vid=visitor-B&stk={a['sticky']}&renew=1")  # A's token
    await get(client, f"{SCAN}&vid=visitor-A&stk={sh['sticky']}&renew=1")  # Shanghai's token
    await flushed(pool, 5)
    kinds = [r["kind"] for r in await pool.fetch("SELECT kind FROM scan_events")]
    assert kinds == ["scan"] * 5
    totals = await today_totals(client, settings)
    assert (totals["scans"], totals["groups_shown"], totals["renewals"]) == (5, 5, 0)


async def test_renew_takes_a_yes_or_no_word(pool: asyncpg.Pool, make_client: Any) -> None:
    await nanjing(pool)
    client = await make_client()
    response = await client.get(f"{SCAN}&renew=maybe")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_renew"
    assert (await client.get(f"{SCAN}&renew=0")).status == 200


async def test_a_groups_displays_are_the_ones_shown_to_customers(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """/admin/api/health and a store's groups give displays_shown (scans that showed the group,
    renewals not) and the fill against the cap from it; leased displays are apart."""
    await seed(
        pool,
        [store_row("NJ", **NANJING), store_row("SH")],
        [group_row("G1", "NJ"), group_row("G2", "SH")],
    )
    await pool.fetch(sql.SWEEP_STATES, 500, 3600)
    # Scans that do not wait for leases: every store's first groups are leased ahead of need.
    client = await make_client(events_flush_s=0.05, lease_wait_s=0)
    a = await get(client, f"{SCAN}&vid=visitor-A")
    await get(client, f"{SCAN}&vid=visitor-A&stk={a['sticky']}&renew=1")
    await get(client, f"{SCAN}&vid=visitor-A&stk={a['sticky']}&renew=1")
    await get(client, f"{SCAN}&vid=visitor-B")
    await flushed(pool, 4)

    async def health() -> dict[str, Any]:
        response = await client.get("/admin/api/health", headers=AUTH)
        assert response.status == 200
        body = await response.json()
        return {s["store_id"]: s["active_group"] for s in body["stores"]}

    # The group nobody saw: none shown, whatever its worker leased ahead of need.
    async def leased() -> bool:
        return bool(await pool.fetchval("SELECT displays_leased FROM groups WHERE group_id='G2'"))

    await eventually(leased)
    groups = await health()
    assert groups["NJ"]["displays_shown"] == 2
    assert groups["NJ"]["display_fill"] == round(2 / groups["NJ"]["display_cap"], 4)
    assert groups["NJ"]["displays_leased"] >= 2
    assert groups["SH"]["displays_shown"] == 0 and groups["SH"]["display_fill"] == 0
    assert groups["SH"]["displays_leased"] > 0
    listed = await (await client.get("/admin/api/stores/NJ/groups", headers=AUTH)).json()
    assert [(g["group_id"], g["displays_shown"]) for g in listed["groups"]] == [("G1", 2)]
