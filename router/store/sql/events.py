"""Scan events: the journal's batches copied in, each event once."""

from __future__ import annotations

# ---- scan events -------------------------------------------------------------------------------

CREATE_EVENT_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS import_events (
    event_id uuid, at_epoch float8, entry text, store_id text, group_id text, visitor text,
    outcome text, distance_m real, accuracy_m real, lat_approx real, lng_approx real, coord text
) ON COMMIT DELETE ROWS
"""

# A replayed journal repeats events already inserted: their ids make the repeat a no-op.
INSERT_EVENTS = """
INSERT INTO scan_events (event_id, at, entry, store_id, group_id, visitor, outcome, distance_m,
                         accuracy_m, lat_approx, lng_approx, coord)
SELECT event_id, to_timestamp(at_epoch), entry, store_id, group_id, visitor, outcome, distance_m,
       accuracy_m, lat_approx, lng_approx, coord
FROM import_events
ON CONFLICT (event_id) DO NOTHING
"""
