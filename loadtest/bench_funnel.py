"""The funnel at scale: N scan events over a year, queried raw and through the daily rollup.

Not a test: prints figures. Bounded: one generation, one rollup, REPEAT queries of each kind.
Uses its own embedded PostgreSQL in a temporary directory (or HUOMA_BENCH_DATABASE_URL, whose
tables it replaces), so it never touches your data.

    .venv/bin/python loadtest/bench_funnel.py [EVENTS] [STORES]     # defaults 10000000 10000
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import zoneinfo
from datetime import timedelta
from pathlib import Path

import asyncpg

from router.settings import Settings
from router.store import funnel
from router.store.db import EmbeddedPostgres, migrate

REPEAT = 5
DAYS = 365

GENERATE = """
INSERT INTO scan_events (event_id, at, entry, store_id, group_id, visitor, outcome, lat_approx,
                         lng_approx, coord)
SELECT gen_random_uuid(),
       -- In time order, as workers insert them: today's events sit together at the table's end.
       now() - ((($4 - i)::float8 / $4) * $2) * interval '1 day',
       CASE WHEN r < 0.1 THEN NULL ELSE 'E' || (i % 3) END,
       CASE WHEN r < 0.97 THEN 'S' || lpad((i % $3)::text, 6, '0') END,
       CASE WHEN r < 0.90 THEN 'G' || (i % ($3 * 2)) END,
       'v' || (i % ($4 / 3)),
       CASE WHEN r < 0.85 THEN 'ok' WHEN r < 0.90 THEN 'fallback' WHEN r < 0.95 THEN 'no_location'
            WHEN r < 0.97 THEN 'no_store_nearby' ELSE 'bad_input' END,
       CASE WHEN r < 0.90 THEN 31.23 END, CASE WHEN r < 0.90 THEN 121.47 END, 'wgs84'
FROM (SELECT i, random() AS r FROM generate_series($5 + 1, $5 + $1) AS i) g
"""


async def timed(conn: asyncpg.Connection, text: str, *args: object) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        await conn.fetch(text, *args)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def bench(url: str, events: int, stores: int) -> None:
    settings = Settings(database_url=url)
    tz = zoneinfo.ZoneInfo(settings.timezone)
    conn = await asyncpg.connect(url, command_timeout=3600)
    try:
        await migrate(conn)
        await conn.execute(
            "TRUNCATE scan_events, funnel_daily, funnel_days; UPDATE funnel_state SET last_seq = 0"
        )
        started = time.perf_counter()
        batch = 1_000_000
        for done in range(0, events, batch):
            await conn.execute(GENERATE, min(batch, events - done), DAYS, stores, events, done)
        await conn.execute("ANALYZE scan_events")
        took = time.perf_counter() - started
        print(f"generated {events:,} events over {DAYS} days: {took:.0f} s")

        started = time.perf_counter()
        passes = 0
        while await funnel.refresh(conn, settings):
            passes += 1
        rollup_s = time.perf_counter() - started
        rows = await conn.fetchval("SELECT count(*) FROM funnel_daily")
        print(f"first rollup: {rollup_s:.1f} s over {passes} keeper passes, {rows:,} rollup rows")
        started = time.perf_counter()
        await funnel.refresh(conn, settings)
        print(f"a keeper pass with nothing new: {(time.perf_counter() - started) * 1000:.1f} ms")

        last = funnel.today(tz)
        cases: list[tuple[int, tuple[str, ...]]] = [
            (30, ("day",)),
            (30, ("store",)),
            (30, ("day", "store", "entry")),
            (365, ("day",)),
            (365, ("store",)),
        ]
        for days, by in cases:
            q = funnel.FunnelQuery(last - timedelta(days=days - 1), last, by)
            args = await funnel.arguments(conn, q, settings, by)
            text = funnel.statement(by, paged=True)
            fast = await timed(conn, text, *args, 500, 0)
            # The same question with no rollup: every day read live from scan_events.
            span = [q.first + timedelta(days=i) for i in range(days)]
            start, end = funnel.day_start(q.first, tz), funnel.day_start(last + timedelta(1), tz)
            raw_args = [[], start, end, span, *args[4:]]
            raw = await timed(conn, text, *raw_args, 500, 0)
            print(
                f"{days:3d} days by {','.join(by):16s}: rollup {fast:8.1f} ms, "
                f"raw scan_events {raw:8.1f} ms, raw/rollup {raw / fast:6.1f}x"
            )
    finally:
        await conn.close()


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    stores = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    url = os.environ.get("HUOMA_BENCH_DATABASE_URL")
    if url:
        asyncio.run(bench(url, events, stores))
        return
    with tempfile.TemporaryDirectory(prefix="huoma-funnel-") as tmp:
        pg = EmbeddedPostgres(Path(tmp))
        try:
            asyncio.run(bench(pg.start(), events, stores))
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
