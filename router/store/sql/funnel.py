"""The scan funnel: rollups, queries and retention."""

from __future__ import annotations

from router.store.sql.locks import AdvisoryLock, xact_lock

# ---- the scan funnel -----------------------------------------------------------------------------

# The measures, over scan_events rows; the rollup stores exactly these.
FUNNEL_MEASURES = """
       count(*) FILTER (WHERE kind = 'page_view') AS page_views,
       count(*) FILTER (WHERE kind = 'scan') AS scans,
       count(DISTINCT visitor) FILTER (WHERE kind = 'scan') AS visitors,
       count(lat_approx) FILTER (WHERE kind = 'scan') AS located,
       count(*) FILTER (WHERE kind = 'scan' AND outcome = 'ok') AS ok,
       count(*) FILTER (WHERE kind = 'scan' AND outcome = 'fallback') AS fallback,
       count(*) FILTER (WHERE kind = 'scan' AND outcome = 'no_store_nearby') AS no_store_nearby,
       count(*) FILTER (WHERE kind = 'scan' AND outcome = 'no_group') AS no_group,
       count(*) FILTER (WHERE kind = 'scan' AND outcome = 'no_location') AS no_location,
       count(*) FILTER (WHERE kind = 'scan' AND outcome = 'bad_input') AS bad_input,
       count(group_id) FILTER (WHERE kind = 'scan') AS groups_shown,
       count(*) FILTER (WHERE kind = 'repeat') AS repeats,
       count(*) FILTER (WHERE kind = 'renewal') AS renewals"""

# The steps (page_views, scans, located, groups_shown; joins are read beside them) and the
# figures around them, in the order answers and exports give them. Only events of kind 'scan'
# count in scans and the steps after it; repeats and renewals are counted apart (README, "The
# scan funnel").
FUNNEL_COLUMNS = (
    "page_views", "scans", "visitors", "located", "ok", "fallback", "no_store_nearby",
    "no_group", "no_location", "bad_input", "groups_shown", "repeats", "renewals",
)  # fmt: skip

FUNNEL_STATE = "SELECT last_seq FROM funnel_state WHERE id = 1 FOR UPDATE"

# The funnel's last step: customers who joined a WeCom group, by local day, store and the entry
# their join is credited to. Few rows (one per join), so read live.
FUNNEL_JOINS = """
SELECT (j.joined_at AT TIME ZONE $3)::date AS day, coalesce(j.store_id, '') AS store_id,
       coalesce(j.entry, '') AS entry, count(*)::bigint AS joined
FROM group_joins j
WHERE j.joined_at >= $1 AND j.joined_at < $2
  AND ($4::text IS NULL OR j.store_id = $4) AND ($5::text IS NULL OR j.entry = $5)
  AND ($6::text[] IS NULL OR j.store_id = ANY($6::text[]))
GROUP BY 1, 2, 3
"""

# The stores in a province ($1), district ($2) and region ($3) (NULL: any), for the funnel's
# place filters; $4 the regions of an account limited to some (a store's region, else its city),
# or NULL (every store).
FUNNEL_PLACE_STORES = """
SELECT store_id FROM stores
WHERE ($1::text IS NULL OR province = $1) AND ($2::text IS NULL OR district = $2)
  AND ($3::text IS NULL OR region_key = $3)
  AND ($4::text[] IS NULL OR coalesce(region_key, city_key) = ANY($4))
"""

# Rollups are one at a time, even if two keepers overlap for a moment (a failover). Their own
# key: a rollup may hold it for HUOMA_FUNNEL_TIMEOUT_S, and nothing else needs to wait for that.
LOCK_FUNNEL = xact_lock(AdvisoryLock.FUNNEL)

MAX_EVENT_SEQ = "SELECT coalesce(max(seq), 0) FROM scan_events"

# For this transaction only: the funnel reads many rows, beyond the pool's statement timeout.
LONG_STATEMENTS = "SELECT set_config('statement_timeout', $1, true)"

# Local days ($3) that received events since the last pass: their rollup is stale.
MARK_FUNNEL_DAYS = """
INSERT INTO funnel_days (day, dirty)
SELECT DISTINCT (at AT TIME ZONE $3)::date, true
FROM scan_events
WHERE seq > $1 AND seq <= $2
ON CONFLICT (day) DO UPDATE SET dirty = true
"""

SET_FUNNEL_SEQ = "UPDATE funnel_state SET last_seq = $1 WHERE id = 1"

# Finished days ($1 is today, local) whose rollup is missing or stale, oldest first.
DIRTY_FUNNEL_DAYS = """
SELECT day FROM funnel_days WHERE dirty AND day < $1 ORDER BY day LIMIT $2
"""

# Every grain named, so the primary key (grain, day, ...) finds the day's rows.
DELETE_FUNNEL_DAY = "DELETE FROM funnel_daily WHERE grain IN (0, 1, 2, 3) AND day = $1"

# $1 the day, [$2, $3) its instants in the local time zone; all four grains in one scan.
ROLL_UP_FUNNEL_DAY = (
    """
INSERT INTO funnel_daily (day, grain, store_id, entry, page_views, scans, visitors, located, ok,
                          fallback, no_store_nearby, no_group, no_location, bad_input,
                          groups_shown, repeats, renewals)
SELECT $1::date, (1 - GROUPING(s)) + 2 * (1 - GROUPING(e)),
       CASE WHEN GROUPING(s) = 0 THEN s ELSE '' END,
       CASE WHEN GROUPING(e) = 0 THEN e ELSE '' END,"""  # noqa: S608 (constants only)
    + FUNNEL_MEASURES
    + """
FROM (SELECT coalesce(store_id, '') AS s, coalesce(entry, '') AS e, visitor, lat_approx,
             outcome, group_id, kind
      FROM scan_events
      WHERE at >= $2 AND at < $3) x
GROUP BY GROUPING SETS ((), (s), (e), (s, e))
"""
)

FUNNEL_DAY_DIRTY = "SELECT dirty FROM funnel_days WHERE day = $1"

CLOSE_FUNNEL_DAY = "UPDATE funnel_days SET dirty = false, computed_at = now() WHERE day = $1"

# Days in [$1, $2] that have a rollup (perhaps seconds stale); the others are read live.
ROLLED_UP_DAYS = """
SELECT day FROM funnel_days WHERE day BETWEEN $1 AND $2 AND computed_at IS NOT NULL
"""

# The funnel's base rows at grain $8 (bit 1: per store, bit 2: per entry): rolled-up days ($1)
# from funnel_daily, the other days read live from scan_events between $2 and $3 (local days
# $4, time zone $7). $5 store, $6 entry (NULL: all).
# {head}, {where} and {group} are fixed fragments chosen in router.store.funnel, never user text
# ({where} keeps the stores of a place filter, given as one more text[] argument).
FUNNEL_QUERY = (
    """
WITH base AS (
    SELECT day, store_id, entry, page_views, scans, visitors, located, ok, fallback,
           no_store_nearby, no_group, no_location, bad_input, groups_shown, repeats, renewals
    FROM funnel_daily
    WHERE grain = $8 AND day = ANY($1::date[])
      AND ($5::text IS NULL OR store_id = $5) AND ($6::text IS NULL OR entry = $6)
    UNION ALL
    SELECT (at AT TIME ZONE $7)::date,
           CASE WHEN $8 & 1 = 1 THEN coalesce(store_id, '') ELSE '' END,
           CASE WHEN $8 & 2 = 2 THEN coalesce(entry, '') ELSE '' END,"""  # noqa: S608 (constants only)
    + FUNNEL_MEASURES
    + """
    FROM scan_events
    WHERE at >= $2 AND at < $3 AND (at AT TIME ZONE $7)::date = ANY($4::date[])
      AND ($5::text IS NULL OR store_id = $5) AND ($6::text IS NULL OR entry = $6)
    GROUP BY 1, 2, 3
)
SELECT {head}sum(page_views)::bigint AS page_views,
       sum(scans)::bigint AS scans, sum(visitors)::bigint AS visitors,
       sum(located)::bigint AS located, sum(ok)::bigint AS ok,
       sum(fallback)::bigint AS fallback, sum(no_store_nearby)::bigint AS no_store_nearby,
       sum(no_group)::bigint AS no_group, sum(no_location)::bigint AS no_location,
       sum(bad_input)::bigint AS bad_input, sum(groups_shown)::bigint AS groups_shown,
       sum(repeats)::bigint AS repeats, sum(renewals)::bigint AS renewals
FROM base b
LEFT JOIN stores s ON s.store_id = b.store_id
{where}{group}
"""
)

# Retention: events before $1, of days the funnel has rolled up (their figures survive them), at
# most $3 per statement so a large first purge is spread over passes. $2 is the time zone.
DELETE_OLD_EVENTS = """
DELETE FROM scan_events
WHERE event_id IN (
    SELECT e.event_id FROM scan_events e
    WHERE e.at < $1
      AND EXISTS (SELECT 1 FROM funnel_days d
                  WHERE d.day = (e.at AT TIME ZONE $2)::date AND NOT d.dirty
                    AND d.computed_at IS NOT NULL)
    LIMIT $3
)
"""
