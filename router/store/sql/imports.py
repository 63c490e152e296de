"""Uploads: staging tables, upserts and the checks made inside their transaction."""

from __future__ import annotations

from router.store.sql.locks import AdvisoryLock, xact_lock

# ---- imports ---------------------------------------------------------------------------------

# Imports copy every validated row into a temporary staging table, then upsert from it in the
# same transaction: one round trip per thousands of rows, and a failure leaves nothing behind.
CREATE_STORE_STAGING = """
CREATE TEMP TABLE import_stores (
    store_id text, name text, city text, address text, lat float8, lng float8,
    source_lat float8, source_lng float8, source_coord text, service_area text, active boolean,
    source_area text, province text, district text, region text, coord_provider text,
    city_key text, region_key text
) ON COMMIT DROP
"""

# Empty optional cells arrive as NULL and keep the stored value (so does an absent column); ''
# means the cell asked to clear it (CLEAR_WORDS). Updating first and inserting the rest, rather
# than INSERT ... ON CONFLICT, because a proposed row must satisfy NOT NULL before its conflict is
# seen, and "keep" is a NULL. A kept service area's uploaded form (source_area) is in the old
# coordinate system and provider: when a row changes either, it becomes the stored GCJ-02 area
# if the new source is the plain gcj02 (the stored area's own rule), else NULL (an export then
# gives the store and its area in gcj02). Rows whose values would not change are not touched; a
# row stored before providers were kept (coord_provider NULL) has its plain code as provider.
UPDATE_STORES = """
WITH next AS (
    SELECT s.store_id, i.name, i.city, coalesce(i.address, s.address) AS address, i.lat, i.lng,
           i.source_lat, i.source_lng, i.source_coord,
           CASE WHEN i.service_area IS NULL THEN s.service_area
                ELSE nullif(i.service_area, '') END AS service_area,
           coalesce(i.active, s.active) AS active,
           CASE WHEN i.service_area IS NOT NULL THEN nullif(i.source_area, '')
                WHEN i.source_coord = s.source_coord
                     AND i.coord_provider = coalesce(s.coord_provider, s.source_coord)
                     THEN s.source_area
                WHEN i.coord_provider = 'gcj02' THEN s.service_area END AS source_area,
           CASE WHEN i.province IS NULL THEN s.province ELSE nullif(i.province, '') END
               AS province,
           CASE WHEN i.district IS NULL THEN s.district ELSE nullif(i.district, '') END
               AS district,
           CASE WHEN i.region IS NULL THEN s.region ELSE nullif(i.region, '') END AS region,
           i.coord_provider, i.city_key,
           CASE WHEN i.region IS NULL THEN s.region_key ELSE nullif(i.region_key, '') END
               AS region_key
    FROM import_stores i
    JOIN stores s USING (store_id)
)
UPDATE stores s SET
    name = n.name, city = n.city, address = n.address, lat = n.lat, lng = n.lng,
    source_lat = n.source_lat, source_lng = n.source_lng, source_coord = n.source_coord,
    service_area = n.service_area, active = n.active, source_area = n.source_area,
    province = n.province, district = n.district, region = n.region,
    coord_provider = n.coord_provider, city_key = n.city_key, region_key = n.region_key,
    updated_at = now()
FROM next n
WHERE s.store_id = n.store_id
  AND (s.name, s.city, s.address, s.lat, s.lng, s.source_lat, s.source_lng, s.source_coord,
       s.service_area, s.active, s.source_area, s.province, s.district, s.region,
       coalesce(s.coord_provider, s.source_coord), s.city_key, s.region_key)
      IS DISTINCT FROM
      (n.name, n.city, n.address, n.lat, n.lng, n.source_lat, n.source_lng, n.source_coord,
       n.service_area, n.active, n.source_area, n.province, n.district, n.region,
       n.coord_provider, n.city_key, n.region_key)
RETURNING false AS inserted
"""

INSERT_STORES = """
INSERT INTO stores (store_id, name, city, address, lat, lng, source_lat, source_lng,
                    source_coord, service_area, active, source_area, province, district,
                    region, coord_provider, city_key, region_key)
SELECT i.store_id, i.name, i.city, coalesce(i.address, ''), i.lat, i.lng, i.source_lat,
       i.source_lng, i.source_coord, nullif(i.service_area, ''), coalesce(i.active, true),
       nullif(i.source_area, ''), nullif(i.province, ''), nullif(i.district, ''),
       nullif(i.region, ''), i.coord_provider, i.city_key, nullif(i.region_key, '')
FROM import_stores i
WHERE NOT EXISTS (SELECT 1 FROM stores s WHERE s.store_id = i.store_id)
RETURNING true AS inserted
"""

UNKNOWN_STORE_IDS = """
SELECT wanted.store_id
FROM unnest($1::text[]) AS wanted(store_id)
LEFT JOIN stores s USING (store_id)
WHERE s.store_id IS NULL
"""

CREATE_GROUP_STAGING = """
CREATE TEMP TABLE import_groups (
    row_no integer, group_id text, store_id text, name text, qr_payload text, capacity integer,
    member_count integer, expires_at timestamptz, derived_expires_at timestamptz,
    position integer, display_cap integer
) ON COMMIT DROP
"""

# Imports of one deployment run one at a time (they are rare and an UPDATE-then-INSERT pair is
# only safe when no other import inserts the same ids in between).
LOCK_IMPORTS = xact_lock(AdvisoryLock.IMPORTS)

# A group the file gives no position keeps its stored one. A new group without one (or one moved
# to another store) is placed after every group its store has, counting up in file order from
# the store's last stored position, and from below any row that gives a position: a running
# counter that starts after the stored groups, jumps past each explicit position and steps once
# per placed row, computed in closed form as
#   placed rows so far - 1 + max(next stored position, max over earlier explicit rows of
#                                (position + 1 - placed rows up to that row)).
# A new group thus never takes the place of a group in use, nor shares its position.
PLACE_NEW_GROUPS = """
WITH file AS (
    SELECT i.row_no, i.store_id, i.position,
           i.position IS NULL
               AND (old.id IS NULL OR old.store_id IS DISTINCT FROM i.store_id) AS placed
    FROM import_groups i
    LEFT JOIN groups old ON old.group_id = i.group_id
), counted AS (
    SELECT f.*, count(*) FILTER (WHERE f.placed) OVER w AS placed_so_far
    FROM file f
    WINDOW w AS (PARTITION BY f.store_id ORDER BY f.row_no)
), anchored AS (
    SELECT c.*,
           max(c.position + 1 - c.placed_so_far) FILTER (WHERE c.position IS NOT NULL) OVER w
               AS anchor
    FROM counted c
    WINDOW w AS (PARTITION BY c.store_id ORDER BY c.row_no)
), stored AS (
    SELECT g.store_id, max(g.position) + 1 AS next
    FROM groups g
    WHERE g.kind = 'group' AND g.store_id IN (SELECT store_id FROM import_groups)
    GROUP BY g.store_id
)
UPDATE import_groups i
SET position = a.placed_so_far - 1 + greatest(coalesce(s.next, 0), a.anchor)
FROM anchored a
LEFT JOIN stored s USING (store_id)
WHERE a.placed AND i.row_no = a.row_no
"""

# Empty optional cells arrive as NULL and keep the stored value (a re-upload of a list without
# member counts must not wipe the counts an integration reported, nor one without positions
# reorder a store's groups). A changed QR payload bumps qr_version so that signed URLs and cached
# images of the old code stop working. An expiry derived from the upload (personal WeChat codes
# live 7 days) applies to a new code only: re-uploading the same code must not extend its life.
# Rows whose values would not change are not touched.
UPDATE_GROUPS = """
WITH next AS (
    SELECT g.id, i.store_id, i.name, i.qr_payload,
           (g.qr_payload IS DISTINCT FROM i.qr_payload)::int AS new_code,
           coalesce(i.capacity, g.capacity) AS capacity,
           coalesce(i.member_count, g.member_count) AS member_count,
           coalesce(i.expires_at,
                    CASE WHEN g.qr_payload IS DISTINCT FROM i.qr_payload
                         THEN i.derived_expires_at END,
                    g.expires_at) AS expires_at,
           coalesce(i.display_cap, g.display_cap) AS display_cap,
           coalesce(i.position, g.position) AS position
    FROM import_groups i
    JOIN groups g ON g.group_id = i.group_id AND g.kind = 'group'
)
UPDATE groups g SET
    store_id = n.store_id, name = n.name, qr_payload = n.qr_payload,
    qr_version = g.qr_version + n.new_code, capacity = n.capacity,
    member_count = n.member_count, expires_at = n.expires_at, display_cap = n.display_cap,
    position = n.position, updated_at = now()
FROM next n
WHERE g.id = n.id
  AND (g.store_id, g.name, g.qr_payload, g.capacity, g.member_count, g.expires_at,
       g.display_cap, g.position)
      IS DISTINCT FROM
      (n.store_id, n.name, n.qr_payload, n.capacity, n.member_count, n.expires_at,
       n.display_cap, n.position)
RETURNING false AS inserted
"""

# $1: the capacity of a group uploaded without one (WeChat's scan-join limit). PLACE_NEW_GROUPS
# has given every new row a position.
INSERT_GROUPS = """
INSERT INTO groups (group_id, store_id, name, qr_payload, capacity, member_count, expires_at,
                    position, display_cap, state)
SELECT i.group_id, i.store_id, i.name, i.qr_payload, coalesce(i.capacity, $1), i.member_count,
       coalesce(i.expires_at, i.derived_expires_at), i.position, i.display_cap, 'standby'
FROM import_groups i
WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.group_id = i.group_id)
RETURNING true AS inserted
"""

# Rows naming a store's WeCom join-way group, which Huoma keeps in step with WeCom: an upload
# writing its code, capacity or position would be undone or, worse, outlive the join way.
MANAGED_GROUP_ROWS = """
SELECT i.row_no, i.group_id
FROM import_groups i
JOIN groups g ON g.group_id = i.group_id
WHERE g.source = 'wecom'
ORDER BY i.row_no
"""

# The file's groups, as written, whose capacity is above $1; the caller refuses those whose code
# is a personal WeChat group code (the pattern is in Python, beside the limit).
GROUPS_OVER_CAPACITY = """
SELECT i.row_no, g.qr_payload, g.capacity
FROM import_groups i
JOIN groups g ON g.group_id = i.group_id AND g.kind = 'group'
WHERE g.capacity > $1
ORDER BY i.row_no
"""

# After a large import, fresh statistics: the planner otherwise believes a freshly loaded table
# is nearly empty and picks nested loops (group health at 10k stores went from 0.4 s to 20 ms).
ANALYZE_AFTER_IMPORT = {
    "stores": "ANALYZE stores",
    "groups": "ANALYZE groups",
    "fallbacks": "ANALYZE groups",
    "entries": "ANALYZE entries",
}

CREATE_ENTRY_STAGING = """
CREATE TEMP TABLE import_entries (code text, kind text, store_id text, label text) ON COMMIT DROP
"""

# An empty label keeps the stored one ('' clears it); see UPDATE_STORES for why not ON CONFLICT.
# The console may create an entry at the same moment (imports lock only against each other): the
# code then exists and the row counts as unchanged rather than failing the upload.
UPDATE_ENTRIES = """
UPDATE entries e SET kind = i.kind, store_id = i.store_id, label = coalesce(i.label, e.label)
FROM import_entries i
WHERE e.code = i.code
  AND (e.kind, e.store_id, e.label)
      IS DISTINCT FROM (i.kind, i.store_id, coalesce(i.label, e.label))
RETURNING false AS inserted
"""

INSERT_ENTRIES = """
INSERT INTO entries (code, kind, store_id, label)
SELECT i.code, i.kind, i.store_id, coalesce(i.label, '')
FROM import_entries i
WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.code = i.code)
ON CONFLICT (code) DO NOTHING
RETURNING true AS inserted
"""

CREATE_FALLBACK_STAGING = """
CREATE TEMP TABLE import_fallbacks (group_id text, store_id text, name text, qr_payload text)
ON COMMIT DROP
"""

# (xmax = 0) is true only for a row this statement inserted (an updated row carries the updating
# transaction's id in xmax): a well-known PostgreSQL detail used here just to count inserts.
UPSERT_FALLBACKS = """
INSERT INTO groups AS g (group_id, store_id, name, qr_payload, kind, state, capacity)
SELECT group_id, store_id, name, qr_payload, 'fallback', 'active', 1 FROM import_fallbacks
ON CONFLICT (group_id) DO UPDATE SET
    name = EXCLUDED.name, qr_payload = EXCLUDED.qr_payload,
    qr_version = g.qr_version + (g.qr_payload IS DISTINCT FROM EXCLUDED.qr_payload)::int,
    updated_at = now()
WHERE g.kind = 'fallback'
  AND (g.name, g.qr_payload) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.qr_payload)
RETURNING (xmax = 0) AS inserted
"""
