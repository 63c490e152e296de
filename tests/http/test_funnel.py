"""The scan funnel: per day x store x entry, read live for today and from the rollup for finished
days, with identical figures either way; late events re-roll their day."""

from __future__ import annotations

import csv
import io
import uuid
import zoneinfo
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from router.settings import Settings
from router.store import funnel
from tests.conftest import ADMIN_TOKEN, assert_needs_a_valid_token, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")

# (day offset from today, local time, store, entry, visitor, outcome, located, group)
Event = tuple[int, time, str | None, str | None, str | None, str, bool, str | None]


def events() -> list[Event]:
    out: list[Event] = []
    for offset in (-2, -1, 0):
        out += [
            (offset, time(0, 0, 30), "S1", "E1", "v1", "ok", True, "G1"),
            (offset, time(12, 0), "S1", "E1", "v1", "ok", True, "G1"),  # same visitor again
            (offset, time(12, 1), "S1", "E1", "v2", "fallback", True, "fallback:S1"),
            (offset, time(12, 2), "S1", None, "v3", "ok", True, "G1"),
            (offset, time(12, 3), "S2", "E1", "v4", "no_location", False, None),
            (offset, time(12, 4), None, "E1", "v5", "no_store_nearby", True, None),
            (offset, time(12, 5), None, None, "v6", "bad_input", False, None),
        ]
    # The last second of the day before yesterday belongs to it, not to yesterday.
    out.append((-2, time(23, 59, 59), "S2", "E1", "v7", "no_group", True, None))
    return out


async def insert(pool: asyncpg.Pool, rows: list[Event], today: date) -> None:
    await pool.executemany(
        "INSERT INTO scan_events (event_id, at, entry, store_id, group_id, visitor, outcome, "
        "lat_approx, lng_approx) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
            (
                uuid.uuid4(),
                datetime.combine(today + timedelta(days=o), t, tzinfo=TZ),
                entry,
                store,
                group,
                visitor,
                outcome,
                31.23 if located else None,
                121.47 if located else None,
            )
            for o, t, store, entry, visitor, outcome, located, group in rows
        ],
    )


def expected(rows: list[Event], today: date) -> dict[tuple[str, str, str], dict[str, int]]:
    out: dict[tuple[str, str, str], dict[str, int]] = {}
    visitors: dict[tuple[str, str, str], set[str]] = {}
    for o, _, store, entry, visitor, outcome, located, group in rows:
        key = ((today + timedelta(days=o)).isoformat(), store or "", entry or "")
        c = out.setdefault(key, Counter())
        c["scans"] += 1
        c["located"] += located
        c[outcome] += 1
        c["groups_shown"] += group is not None
        visitors.setdefault(key, set()).add(visitor or "")
    return {
        k: {m: (len(visitors[k]) if m == "visitors" else v.get(m, 0)) for m in funnel.MEASURES}
        for k, v in out.items()
    }


def as_table(body: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, int]]:
    return {
        (r["day"], r["store_id"], r["entry"]): {m: r[m] for m in funnel.MEASURES}
        for r in body["rows"]
    }


async def test_the_funnel_is_the_same_live_and_rolled_up(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    today = funnel.today(TZ)
    await seed(pool, [store_row("S1", name="人民广场店"), store_row("S2")])
    rows = events()
    await insert(pool, rows, today)
    client = await make_client()
    url = f"/admin/api/funnel?from={today - timedelta(days=2)}&to={today}"

    live = await (await client.get(url, headers=AUTH)).json()
    assert as_table(live) == expected(rows, today)
    assert live["totals"]["scans"] == len(rows)
    s1 = next(r for r in live["rows"] if r["store_id"] == "S1")
    assert s1["store_name"] == "人民广场店"

    # (The app's own keeper may roll some days up first: either way, until nothing is left.)
    async with pool.acquire() as conn:
        while await funnel.refresh(conn, settings):
            pass
    # The finished days are rolled up; today stays live.
    assert await pool.fetchval("SELECT count(DISTINCT day) FROM funnel_daily") == 2
    rolled = await (await client.get(url, headers=AUTH)).json()
    assert rolled == live

    # A journal replayed after an outage brings a late event for a rolled-up day.
    late: list[Event] = [(-2, time(18, 0), "S1", "E1", "v8", "ok", True, "G1")]
    await insert(pool, late, today)
    async with pool.acquire() as conn:
        while await funnel.refresh(conn, settings):
            pass
    assert not await pool.fetchval("SELECT bool_or(dirty) FROM funnel_days WHERE day < $1", today)
    again = await (await client.get(url, headers=AUTH)).json()
    assert as_table(again) == expected(rows + late, today)


async def test_the_funnel_groups_filters_and_exports(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    today = funnel.today(TZ)
    await seed(pool, [store_row("S1"), store_row("S2")])
    rows = events()
    await insert(pool, rows, today)
    async with pool.acquire() as conn:
        await funnel.refresh(conn, settings)
    client = await make_client()
    span = f"from={today - timedelta(days=2)}&to={today}"

    by_day = await (await client.get(f"/admin/api/funnel?{span}&by=day", headers=AUTH)).json()
    assert [(r["day"], r["scans"]) for r in by_day["rows"]] == [
        (str(today - timedelta(days=2)), 8),
        (str(today - timedelta(days=1)), 7),
        (str(today), 7),
    ]
    assert set(by_day["rows"][0]) == {"day", *funnel.MEASURES}
    # By day, a visitor counts once that day, however many stores and entries they scanned.
    assert [r["visitors"] for r in by_day["rows"]] == [7, 6, 6]
    one = await (
        await client.get(f"/admin/api/funnel?{span}&by=store&store=S1&entry=E1", headers=AUTH)
    ).json()
    assert [(r["store_id"], r["scans"], r["visitors"], r["fallback"]) for r in one["rows"]] == [
        ("S1", 9, 6, 3)  # visitors: 2 per day, summed over 3 days (visitor-days)
    ]
    totals = await (await client.get(f"/admin/api/funnel?{span}&by=", headers=AUTH)).json()
    assert totals["rows"] == [totals["totals"]]
    assert totals["totals"]["bad_input"] == 3 and totals["totals"]["located"] == 16
    page = await (
        await client.get(f"/admin/api/funnel?{span}&limit=2&offset=1", headers=AUTH)
    ).json()
    full = await (await client.get(f"/admin/api/funnel?{span}", headers=AUTH)).json()
    assert page["rows"] == full["rows"][1:3] and page["total_rows"] == len(full["rows"])

    response = await client.get(f"/admin/api/funnel.csv?{span}", headers=AUTH)
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert lines[0] == ["day", "store_id", "store_name", "entry", *funnel.MEASURES]
    assert len(lines) - 1 == len(full["rows"])
    scans = lines[0].index("scans")
    assert sum(int(line[scans]) for line in lines[1:]) == full["totals"]["scans"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("from=2026-13-01", "bad_date"),
        ("from=2026-11-10&to=2026-11-01", "bad_date"),
        ("from=2020-01-01&to=2026-01-01", "range_too_long"),
        ("by=day,week", "bad_by"),
        ("limit=-5", "bad_limit"),
    ],
)
async def test_bad_funnel_queries_are_clear_4xx(
    pool: asyncpg.Pool, make_client: Any, query: str, code: str
) -> None:
    client = await make_client()
    for path in ("/admin/api/funnel", "/admin/api/funnel.csv"):
        response = await client.get(f"{path}?{query}", headers=AUTH)
        if code == "bad_limit" and path.endswith(".csv"):
            assert response.status == 200  # the CSV is never paged
            continue
        assert response.status == 400
        assert (await response.json())["error"]["code"] == code


async def test_the_funnel_needs_a_valid_token(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client()
    for path in ("/admin/api/funnel", "/admin/api/funnel.csv"):
        await assert_needs_a_valid_token(client, "GET", path)


async def test_a_large_backlog_is_caught_up_over_several_passes(
    pool: asyncpg.Pool, settings: Settings, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(funnel, "EVENTS_PER_PASS", 5)
    monkeypatch.setattr(funnel, "DAYS_PER_PASS", 1)
    today = funnel.today(TZ)
    await seed(pool, [store_row("S1"), store_row("S2")])
    rows = events()
    await insert(pool, rows, today)
    passes = 0
    async with pool.acquire() as conn:
        while True:
            passes += 1
            await funnel.refresh(conn, settings)
            seen = await conn.fetchval("SELECT last_seq FROM funnel_state")
            dirty = await conn.fetchval(
                "SELECT count(*) FROM funnel_days WHERE dirty AND day < $1", today
            )
            if seen == len(rows) and dirty == 0:
                break
            assert passes < 20
    assert passes >= len(rows) // 5  # no pass looked at more than its share
    client = await make_client()
    url = f"/admin/api/funnel?from={today - timedelta(days=2)}&to={today}"
    assert as_table(await (await client.get(url, headers=AUTH)).json()) == expected(rows, today)


async def test_old_events_are_deleted_after_their_day_is_rolled_up_and_its_figures_stay(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    settings = settings.with_(event_retention_days=30)
    today = funnel.today(TZ)
    await seed(pool, [store_row("S1"), store_row("S2")])
    old: list[Event] = [
        (-200, time(12, 0), "S1", "E1", f"v{i}", "ok", True, "G1") for i in range(5)
    ]
    recent: list[Event] = [(-3, time(12, 0), "S1", "E1", "v9", "ok", True, "G1")]
    await insert(pool, old + recent, today)
    async with pool.acquire() as conn:
        # Not rolled up yet: nothing may go, or the day's figures would be lost with them.
        assert await funnel.purge(conn, settings) == 0
        while await funnel.refresh(conn, settings):
            pass
        assert await funnel.purge(conn, settings) == 5
        assert await funnel.purge(conn, settings) == 0
    assert await pool.fetchval("SELECT count(*) FROM scan_events") == 1
    client = await make_client()
    day = today - timedelta(days=200)
    body = await (
        await client.get(f"/admin/api/funnel?from={day}&to={day}&by=day", headers=AUTH)
    ).json()
    assert [(r["day"], r["scans"], r["visitors"]) for r in body["rows"]] == [(str(day), 5, 5)]
