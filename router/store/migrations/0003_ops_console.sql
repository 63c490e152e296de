-- The ops console: exports that round-trip, alert delivery with a cool-down, the funnel rollup.

-- The service area as uploaded (in the store's own coordinate system), so an export can be
-- uploaded again unchanged; service_area keeps the GCJ-02 geometry the index uses.
ALTER TABLE stores ADD COLUMN source_area text;
UPDATE stores SET source_area = service_area WHERE source_coord = 'gcj02';

-- Alerts about one group (expiring soon) name it; delivery records what the webhook was told.
ALTER TABLE alerts
    ADD COLUMN group_id text,
    ADD COLUMN delivery text NOT NULL DEFAULT 'pending'
        CHECK (delivery IN ('pending', 'sent', 'suppressed', 'failed', 'off')),
    ADD COLUMN notified_at timestamptz;
DROP INDEX alerts_open;
CREATE UNIQUE INDEX alerts_open ON alerts (kind, coalesce(store_id, '*'), coalesce(group_id, '*'))
    WHERE resolved_at IS NULL;
CREATE INDEX alerts_pending ON alerts (id) WHERE delivery = 'pending';
CREATE INDEX alerts_notified ON alerts (kind, store_id, notified_at) WHERE notified_at IS NOT NULL;
UPDATE alerts SET delivery = 'off';

-- Events in insertion order: the rollup finds late arrivals (journal replays after an outage)
-- by sequence, not by time.
ALTER TABLE scan_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX scan_events_seq ON scan_events (seq);

-- Per local day, rolled up at four grains: 0 the whole day, 1 per store, 2 per entry, 3 per
-- store x entry (store_id and entry are '' where the grain does not split by them, and for
-- events without one). Visitors are distinct within each row. Days are rolled up once they are
-- over; the current day is always read from scan_events.
CREATE TABLE funnel_daily (
    day              date NOT NULL,
    grain            smallint NOT NULL CHECK (grain BETWEEN 0 AND 3),
    store_id         text NOT NULL,
    entry            text NOT NULL,
    scans            integer NOT NULL,
    visitors         integer NOT NULL,
    located          integer NOT NULL,
    ok               integer NOT NULL,
    fallback         integer NOT NULL,
    no_store_nearby  integer NOT NULL,
    no_group         integer NOT NULL,
    no_location      integer NOT NULL,
    bad_input        integer NOT NULL,
    groups_shown     integer NOT NULL,
    PRIMARY KEY (grain, day, store_id, entry)
);

-- Which days funnel_daily holds, and whether events arrived for them since (dirty).
CREATE TABLE funnel_days (
    day          date PRIMARY KEY,
    dirty        boolean NOT NULL,
    computed_at  timestamptz
);

CREATE TABLE funnel_state (
    id        integer PRIMARY KEY CHECK (id = 1),
    last_seq  bigint NOT NULL
);
INSERT INTO funnel_state VALUES (1, 0);
