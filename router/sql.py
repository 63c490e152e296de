"""Every SQL statement Huoma runs, named, with bind parameters. No SQL lives anywhere else."""

from __future__ import annotations

CATALOGUE_CHANNEL = "huoma_catalogue"

# ---- migrations ------------------------------------------------------------------------------

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""

# Workers of one deployment start together; a transaction-scoped advisory lock makes exactly one of
# them apply pending migrations while the others wait and then find nothing left to do.
LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock(7_245_001)"

APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"

RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"

# ---- catalogue -------------------------------------------------------------------------------

SELECT_STORES = """
SELECT store_id, name, city, address, lat, lng, service_area
FROM stores
WHERE active
ORDER BY store_id
"""

SELECT_GROUPS = """
SELECT g.id, g.group_id, g.store_id, g.name, g.qr_payload, g.qr_version, g.capacity,
       g.member_count, g.expires_at, g.position
FROM groups g
JOIN stores s ON s.store_id = g.store_id AND s.active
ORDER BY g.store_id, g.position, g.id
"""

SELECT_ENTRIES = "SELECT code, kind, store_id, label FROM entries ORDER BY code"

NOTIFY_CATALOGUE = "SELECT pg_notify('huoma_catalogue', $1)"

PING = "SELECT 1"

COUNT_STORES = "SELECT count(*) FROM stores"

# ---- imports ---------------------------------------------------------------------------------

# Imports copy every validated row into a temporary staging table, then upsert from it in the
# same transaction: one round trip per thousands of rows, and a failure leaves nothing behind.
CREATE_STORE_STAGING = """
CREATE TEMP TABLE import_stores (
    store_id text, name text, city text, address text, lat float8, lng float8,
    source_lat float8, source_lng float8, source_coord text, service_area text, active boolean
) ON COMMIT DROP
"""

# (xmax = 0) is true only for a row this statement inserted (an updated row carries the updating
# transaction's id in xmax): a well-known PostgreSQL detail used here just to count inserts.
UPSERT_STORES = """
INSERT INTO stores AS s (store_id, name, city, address, lat, lng, source_lat, source_lng,
                         source_coord, service_area, active)
SELECT store_id, name, city, address, lat, lng, source_lat, source_lng, source_coord,
       service_area, active
FROM import_stores
ON CONFLICT (store_id) DO UPDATE SET
    name = EXCLUDED.name, city = EXCLUDED.city, address = EXCLUDED.address,
    lat = EXCLUDED.lat, lng = EXCLUDED.lng, source_lat = EXCLUDED.source_lat,
    source_lng = EXCLUDED.source_lng, source_coord = EXCLUDED.source_coord,
    service_area = EXCLUDED.service_area, active = EXCLUDED.active, updated_at = now()
WHERE (s.name, s.city, s.address, s.lat, s.lng, s.source_coord, s.service_area, s.active)
      IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.city, EXCLUDED.address, EXCLUDED.lat, EXCLUDED.lng,
       EXCLUDED.source_coord, EXCLUDED.service_area, EXCLUDED.active)
RETURNING (xmax = 0) AS inserted
"""

UNKNOWN_STORE_IDS = """
SELECT wanted.store_id
FROM unnest($1::text[]) AS wanted(store_id)
LEFT JOIN stores s USING (store_id)
WHERE s.store_id IS NULL
"""

CREATE_GROUP_STAGING = """
CREATE TEMP TABLE import_groups (
    group_id text, store_id text, name text, qr_payload text, capacity integer,
    member_count integer, expires_at timestamptz, position integer
) ON COMMIT DROP
"""

# Empty optional cells arrive as NULL and keep the stored value (a re-upload of a list without
# member counts must not wipe the counts an integration reported). A changed QR payload bumps
# qr_version so that signed URLs and cached images of the old code stop working.
UPSERT_GROUPS = """
INSERT INTO groups AS g (group_id, store_id, name, qr_payload, capacity, member_count,
                         expires_at, position)
SELECT group_id, store_id, name, qr_payload, coalesce(capacity, 200), member_count,
       expires_at, position
FROM import_groups
ON CONFLICT (group_id) DO UPDATE SET
    store_id = EXCLUDED.store_id, name = EXCLUDED.name, qr_payload = EXCLUDED.qr_payload,
    qr_version = g.qr_version + (g.qr_payload IS DISTINCT FROM EXCLUDED.qr_payload)::int,
    capacity = coalesce((SELECT capacity FROM import_groups i WHERE i.group_id = g.group_id),
                        g.capacity),
    member_count = coalesce(EXCLUDED.member_count, g.member_count),
    expires_at = coalesce(EXCLUDED.expires_at, g.expires_at),
    position = EXCLUDED.position, updated_at = now()
RETURNING (xmax = 0) AS inserted
"""
