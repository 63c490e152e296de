"""The scan funnel: per local day x store x entry, how many scans, visitors, located scans,
outcomes and groups shown.

Fast at tens of millions of events by a daily rollup: once a day is over, the keeper aggregates
its events into funnel_daily at four grains (the whole day, per store, per entry, per store x
entry; one scan with GROUPING SETS) and a query reads the coarsest grain that answers it, so a
year by day reads 365 rows whatever the number of stores. Days
without a rollup yet (today, and a day that just ended) are read live from scan_events through
its index on `at`, so figures are never stale by more than a keeper interval. Events that arrive
late for a rolled-up day (a journal replayed after an outage) are found by their insertion
sequence, and that day is rolled up again.

`visitors` is exact per day within the grouping asked for (count distinct): by day, a visitor
who scanned two stores counts once. Over several days (rows not split by day, and the totals)
the daily figures are summed, a visitor counting once per day ("visitor-days"): exact distinct
counts over arbitrary ranges would need the raw events every time.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg

from router.settings import Settings
from router.store import sql

# Finished days rolled up per keeper pass, and new events looked at per pass: catching up on a
# large history (or after a long outage) is spread over many passes, never one long stall.
DAYS_PER_PASS = 7
EVENTS_PER_PASS = 1_000_000

DIMENSIONS = {
    "day": ("b.day", "b.day"),
    "store": ("b.store_id, s.name AS store_name", "b.store_id, s.name"),
    "entry": ("b.entry", "b.entry"),
}
MEASURES = (*sql.FUNNEL_COLUMNS, "joined")


def today(tz: zoneinfo.ZoneInfo) -> date:
    return datetime.now(tz).date()


def day_start(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


async def _long(conn: asyncpg.Connection, settings: Settings) -> None:
    """Within a transaction: allow this one funnel_timeout_s on the server."""
    await conn.execute(sql.LONG_STATEMENTS, f"{int(settings.funnel_timeout_s * 1000)}ms")


async def refresh(conn: asyncpg.Connection, settings: Settings) -> int:
    """Mark days that got new events, and roll up finished ones. Returns days rolled up."""
    tz = zoneinfo.ZoneInfo(settings.timezone)
    timeout = settings.funnel_timeout_s
    async with conn.transaction():
        await _long(conn, settings)
        await conn.execute(sql.LOCK_FUNNEL)
        last = await conn.fetchval(sql.FUNNEL_STATE)
        top = min(await conn.fetchval(sql.MAX_EVENT_SEQ), last + EVENTS_PER_PASS)
        if top > last:
            await conn.execute(sql.MARK_FUNNEL_DAYS, last, top, settings.timezone, timeout=timeout)
            await conn.execute(sql.SET_FUNNEL_SEQ, top)
    days = [r["day"] for r in await conn.fetch(sql.DIRTY_FUNNEL_DAYS, today(tz), DAYS_PER_PASS)]
    rolled = 0
    for day in days:
        async with conn.transaction():
            await _long(conn, settings)
            await conn.execute(sql.LOCK_FUNNEL)
            if not await conn.fetchval(sql.FUNNEL_DAY_DIRTY, day):
                continue  # another pass got there first
            await conn.execute(sql.DELETE_FUNNEL_DAY, day)
            await conn.execute(
                sql.ROLL_UP_FUNNEL_DAY,
                day,
                day_start(day, tz),
                day_start(day + timedelta(days=1), tz),
                timeout=timeout,
            )
            await conn.execute(sql.CLOSE_FUNNEL_DAY, day)
            rolled += 1
    return rolled


@dataclass(frozen=True, slots=True)
class FunnelQuery:
    first: date
    last: date
    by: tuple[str, ...] = ("day", "store", "entry")
    store_id: str | None = None
    entry: str | None = None
    # Only the stores in this province, district and region (None: any).
    province: str | None = None
    district: str | None = None
    region: str | None = None
    # An account limited to regions sees the stores of these only (None: every store).
    regions: tuple[str, ...] | None = None

    @property
    def placed(self) -> bool:
        places = (self.province, self.district, self.region, self.regions)
        return any(p is not None for p in places)


def grain(by: Sequence[str], q: FunnelQuery) -> int:
    """The rollup grain a question needs: split by store and/or entry when it groups or filters
    by them (a place filter is a filter by store)."""
    per_store = "store" in by or q.store_id is not None or q.placed
    per_entry = "entry" in by or q.entry is not None
    return int(per_store) + 2 * int(per_entry)


def statement(by: Sequence[str], paged: bool, placed: bool = False) -> str:
    """The funnel statement; `placed` adds the place filter's store list as the argument after
    the others (after the limit and offset when paged)."""
    dims = "".join(DIMENSIONS[d][0] + ", " for d in by)
    group = ""
    if by:
        group = "GROUP BY " + ", ".join(DIMENSIONS[d][1] for d in by)
        group += "\nORDER BY " + ", ".join(DIMENSIONS[d][1] for d in by)
    where = f"WHERE b.store_id = ANY(${11 if paged else 9}::text[])\n" if placed else ""
    if not paged:
        return sql.FUNNEL_QUERY.format(head=dims, where=where, group=group)
    # The number of grouped rows rides on every row (a window over the grouped result).
    head = "count(*) OVER () AS total_rows, " + dims
    return sql.FUNNEL_QUERY.format(head=head, where=where, group=group) + "LIMIT $9 OFFSET $10\n"


async def place_stores(conn: asyncpg.Connection, q: FunnelQuery) -> list[Any]:
    """The place filter's stores as the statement's last argument ([] without a filter)."""
    if not q.placed:
        return []
    regions = None if q.regions is None else list(q.regions)
    records = await conn.fetch(sql.FUNNEL_PLACE_STORES, q.province, q.district, q.region, regions)
    return [[r["store_id"] for r in records]]


async def arguments(
    conn: asyncpg.Connection, q: FunnelQuery, settings: Settings, by: Sequence[str]
) -> list[Any]:
    tz = zoneinfo.ZoneInfo(settings.timezone)
    rolled = {r["day"] for r in await conn.fetch(sql.ROLLED_UP_DAYS, q.first, q.last)}
    span = [q.first + timedelta(days=i) for i in range((q.last - q.first).days + 1)]
    live = [d for d in span if d not in rolled]
    # The live part reads only the instants of the days without a rollup (usually just today).
    start = day_start(live[0], tz) if live else day_start(q.first, tz)
    end = day_start(live[-1] + timedelta(days=1), tz) if live else start
    return [sorted(rolled), start, end, live, q.store_id, q.entry, settings.timezone, grain(by, q)]


def _row(record: asyncpg.Record, by: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "day" in by:
        out["day"] = record["day"].isoformat()
    if "store" in by:
        out["store_id"] = record["store_id"]
        out["store_name"] = record["store_name"]
    if "entry" in by:
        out["entry"] = record["entry"]
    for m in sql.FUNNEL_COLUMNS:
        out[m] = record[m] or 0
    out["joined"] = 0
    return out


async def joins(
    conn: asyncpg.Connection, q: FunnelQuery, settings: Settings
) -> list[asyncpg.Record]:
    """Joins per local day, store and entry over the query's days and filters."""
    tz = zoneinfo.ZoneInfo(settings.timezone)
    start = day_start(q.first, tz)
    end = day_start(q.last + timedelta(days=1), tz)
    stores = (await place_stores(conn, q) or [None])[0]
    found: list[asyncpg.Record] = await conn.fetch(
        sql.FUNNEL_JOINS, start, end, settings.timezone, q.store_id, q.entry, stores
    )
    return found


def _key(row: Mapping[str, Any], by: Sequence[str]) -> tuple[Any, ...]:
    parts: list[Any] = []
    for d in by:
        if d == "day":
            day = row["day"]
            parts.append(day if isinstance(day, str) else day.isoformat())
        elif d == "store":
            parts.append(row["store_id"] or "")
        else:
            parts.append(row["entry"] or "")
    return tuple(parts)


def add_joins(
    rows: list[dict[str, Any]], found: Sequence[asyncpg.Record], by: Sequence[str]
) -> int:
    """Put each row's joins in it; returns all joins (the totals')."""
    per_key: dict[tuple[Any, ...], int] = {}
    for r in found:
        key = _key(r, by)
        per_key[key] = per_key.get(key, 0) + int(r["joined"])
    for row in rows:
        row["joined"] = per_key.get(_key(row, by), 0)
    return sum(int(r["joined"]) for r in found)


async def query(
    pool: asyncpg.Pool, q: FunnelQuery, settings: Settings, limit: int, offset: int
) -> dict[str, Any]:
    """One page of rows grouped by q.by, the number of such rows, and the totals."""
    timeout = settings.funnel_timeout_s
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await _long(conn, settings)
        args = await arguments(conn, q, settings, q.by)
        placed = await place_stores(conn, q)
        rows = await conn.fetch(
            statement(q.by, True, q.placed), *args, limit, offset, *placed, timeout=timeout
        )
        # The totals read the same days, at the grain of no grouping (the last argument).
        whole = [*args[:-1], grain((), q)]
        totals = await conn.fetchrow(
            statement((), False, q.placed), *whole, *placed, timeout=timeout
        )
        found = await joins(conn, q, settings)
    page = [_row(r, q.by) for r in rows]
    total = _row(totals, ()) if totals is not None else dict.fromkeys(MEASURES, 0)
    total["joined"] = add_joins(page, found, q.by)
    return {
        "from": q.first.isoformat(),
        "to": q.last.isoformat(),
        "by": list(q.by),
        "total_rows": rows[0]["total_rows"] if rows else 0,
        "limit": limit,
        "offset": offset,
        "totals": total,
        "rows": page,
    }


async def export_csv(pool: asyncpg.Pool, q: FunnelQuery, settings: Settings) -> bytes:
    """Every row grouped by q.by, as CSV (UTF-8 with a BOM, for Excel)."""
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await _long(conn, settings)
        args = await arguments(conn, q, settings, q.by)
        placed = await place_stores(conn, q)
        records = await conn.fetch(
            statement(q.by, False, q.placed), *args, *placed, timeout=settings.funnel_timeout_s
        )
        found = await joins(conn, q, settings)
    rows = [_row(r, q.by) for r in records]
    add_joins(rows, found, q.by)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    header = [c for d in q.by for c in (("store_id", "store_name") if d == "store" else (d,))]
    writer.writerow(header + list(MEASURES))
    for row in rows:
        writer.writerow([row[c] if row[c] is not None else "" for c in header + list(MEASURES)])
    return "\ufeff".encode() + buf.getvalue().encode()


# Events deleted per keeper pass at most: a first purge of a long history stays gentle.
PURGE_PER_PASS = 50_000


async def purge(conn: asyncpg.Connection, settings: Settings) -> int:
    """Delete scan events past the retention period whose day is rolled up. Returns how many."""
    cutoff = datetime.now(UTC) - timedelta(days=settings.event_retention_days)
    async with conn.transaction():
        await _long(conn, settings)
        status: str = await conn.execute(
            sql.DELETE_OLD_EVENTS,
            cutoff,
            settings.timezone,
            PURGE_PER_PASS,
            timeout=settings.funnel_timeout_s,
        )
    return int(status.rpartition(" ")[2] or 0)
