-- Stores, their groups, entry codes and scan events: the store of record.
-- Coordinates are stored in GCJ-02 (Huoma's internal system) next to what was uploaded.

CREATE TABLE stores (
    store_id      text PRIMARY KEY,
    name          text NOT NULL,
    city          text NOT NULL,
    address       text NOT NULL DEFAULT '',
    lat           double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng           double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
    source_lat    double precision NOT NULL,
    source_lng    double precision NOT NULL,
    source_coord  text NOT NULL CHECK (source_coord IN ('wgs84', 'gcj02', 'bd09')),
    -- GeoJSON geometry in GCJ-02, or NULL when the store has no service area.
    service_area  text,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX stores_city ON stores (city) WHERE active;

CREATE TABLE groups (
    -- Surrogate key: QR image URLs carry this number, never the ops-facing group_id.
    id            bigserial PRIMARY KEY,
    group_id      text NOT NULL UNIQUE,
    store_id      text NOT NULL REFERENCES stores (store_id) ON UPDATE CASCADE,
    name          text NOT NULL,
    qr_payload    text NOT NULL,
    -- Bumped whenever qr_payload changes, so cached images and signed URLs of the old code die.
    qr_version    integer NOT NULL DEFAULT 1,
    capacity      integer NOT NULL DEFAULT 200 CHECK (capacity > 0),
    member_count  integer CHECK (member_count >= 0),
    expires_at    timestamptz,
    position      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX groups_store ON groups (store_id, position, id);

CREATE TABLE entries (
    code        text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('counter', 'poster', 'store')),
    store_id    text REFERENCES stores (store_id) ON UPDATE CASCADE,
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'store') = (store_id IS NOT NULL))
);

CREATE TABLE scan_events (
    -- Chosen by the worker that answered: replaying its journal cannot insert an event twice.
    event_id     uuid PRIMARY KEY,
    at           timestamptz NOT NULL,
    entry        text,
    store_id     text,
    group_id     text,
    visitor      text,
    outcome      text NOT NULL,
    distance_m   real,
    accuracy_m   real,
    -- The location rounded to about 100 m, never the raw fix.
    lat_approx   real,
    lng_approx   real,
    coord        text
);

CREATE INDEX scan_events_at ON scan_events (at);
