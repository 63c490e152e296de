"""Scan events: the journal's batches copied in, each event once."""

from __future__ import annotations

# ---- scan events -------------------------------------------------------------------------------

CREATE_EVENT_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS import_events (
    event_id uuid, at_epoch float8, entry text, store_id text, group_id text, visitor text,
    outcome text, distance_m real, accuracy_m real, lat_approx real, lng_approx real, coord text,
    kind text
) ON COMMIT DELETE ROWS
"""

# A replayed journal repeats events already inserted: their ids make the repeat a no-op. Scans
# newly inserted that showed a group add to its displays shown (group rows locked in id order,
# so two workers flushing at once cannot deadlock on each other). A journal written before kinds
# existed has no kind column: its events are scans. A page view has no outcome (empty).
INSERT_EVENTS = """
WITH inserted AS (
    INSERT INTO scan_events (event_id, at, entry, store_id, group_id, visitor, outcome,
                             distance_m, accuracy_m, lat_approx, lng_approx, coord, kind)
    SELECT event_id, to_timestamp(at_epoch), entry, store_id, group_id, visitor,
           coalesce(outcome, ''), distance_m, accuracy_m, lat_approx, lng_approx, coord,
           coalesce(kind, 'scan')
    FROM import_events
    ON CONFLICT (event_id) DO NOTHING
    RETURNING group_id, kind
), shown AS (
    SELECT group_id, count(*)::integer AS n
    FROM inserted
    WHERE kind = 'scan' AND group_id IS NOT NULL
    GROUP BY group_id
), locked AS (
    SELECT g.id, s.n
    FROM groups g
    JOIN shown s ON s.group_id = g.group_id
    ORDER BY g.id
    FOR UPDATE OF g
)
UPDATE groups g SET displays_shown = g.displays_shown + locked.n
FROM locked
WHERE g.id = locked.id
"""
