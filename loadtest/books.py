"""The books after a load test: no group shown beyond its display cap, one scan event per
answered /route request, no 5xx. Exit status 1 on any breach.

    .venv/bin/python loadtest/books.py DATA_DIR STATUS_JSON

DATA_DIR is the embedded database's data directory the service ran on (it is started again
here, after the service has stopped and flushed); STATUS_JSON the per-endpoint status counts
the locustfile wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg

from router.settings import Settings
from router.store.db import EmbeddedPostgres

# Displays are spent once per visitor and group: a visitor's repeat scans (sticky) are free. So
# the distinct visitors an ok answer showed a group to are the displays it really had.
OVER_CAP = """
SELECT g.group_id, coalesce(g.display_cap, $1) AS cap, count(DISTINCT e.visitor) AS shown,
       g.displays_leased
FROM groups g
JOIN scan_events e ON e.group_id = g.group_id AND e.outcome = 'ok'
WHERE g.kind = 'group'
GROUP BY g.group_id, g.display_cap, g.displays_leased
HAVING count(DISTINCT e.visitor) > coalesce(g.display_cap, $1)
    OR g.displays_leased > coalesce(g.display_cap, $1)
"""


async def audit(url: str, status: dict[str, dict[str, int]], cap: int) -> list[str]:
    problems: list[str] = []
    for name, counts in status.items():
        for code, n in counts.items():
            if int(code) >= 500 or int(code) == 0:
                problems.append(f"{name}: {n} answer(s) with status {code}")
    route = status.get("route", {})
    answered = sum(n for code, n in route.items() if code in ("200", "400"))
    # Each page served is a page-view event of its own (the funnel's first step), not a scan.
    pages = sum(n for code, n in status.get("page", {}).items() if code == "200")
    conn = await asyncpg.connect(url)
    try:
        events = await conn.fetchval(
            "SELECT count(*) FROM scan_events WHERE kind IS DISTINCT FROM 'page_view'"
        )
        views = await conn.fetchval("SELECT count(*) FROM scan_events WHERE kind = 'page_view'")
        over = await conn.fetch(OVER_CAP, cap)
        groups = await conn.fetchval("SELECT count(*) FROM groups WHERE kind = 'group'")
        made = await conn.fetchval("SELECT count(*) FROM groups WHERE source <> 'upload'")
        full = await conn.fetchval(
            "SELECT count(*) FROM groups WHERE kind = 'group' "
            "AND displays_leased >= coalesce(display_cap, $1)",
            cap,
        )
        busiest = await conn.fetchrow(
            "SELECT group_id, count(DISTINCT visitor) AS shown FROM scan_events "
            "WHERE outcome = 'ok' GROUP BY group_id ORDER BY shown DESC LIMIT 1"
        )
    finally:
        await conn.close()
    print(f"route requests answered: {answered:,}; scan events stored: {events:,}")
    print(f"pages served: {pages:,}; page-view events stored: {views:,}")
    print(
        f"groups: {groups:,} ({made:,} created during the run), {full:,} at their display cap; "
        f"busiest group shown to {busiest['shown'] if busiest else 0:,} visitors (cap {cap})"
    )
    if events != answered:
        problems.append(f"{answered} answered route requests but {events} scan events")
    if views != pages:
        problems.append(f"{pages} pages served but {views} page-view events")
    for r in over:
        problems.append(
            f"group {r['group_id']}: shown to {r['shown']} visitors, leased "
            f"{r['displays_leased']}, cap {r['cap']}"
        )
    return problems


def main() -> int:
    data_dir, status_file = Path(sys.argv[1]), Path(sys.argv[2])
    report = json.loads(status_file.read_text())
    cap = Settings.from_env(os.environ).display_cap
    pg = EmbeddedPostgres(data_dir)
    try:
        problems = asyncio.run(audit(pg.start(), report["status_counts"], cap))
    finally:
        pg.stop()
    for p in problems:
        print(f"BOOKS BREACHED: {p}")
    if not problems:
        print(
            "books: balanced (no group beyond its cap, one event per answer and per page served, "
            "no 5xx)"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
