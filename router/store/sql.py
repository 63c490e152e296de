"""Every SQL statement Huoma runs, named, with bind parameters. No SQL lives anywhere else."""

from __future__ import annotations

import enum


@enum.unique
class AdvisoryLock(enum.IntEnum):
    """The key of every advisory lock Huoma takes, anywhere; each statement below is built from
    one. Two kinds of work sharing a key wait for each other: uploads once shared the funnel
    rollup's, and waited behind a rollup (up to HUOMA_FUNNEL_TIMEOUT_S) until their own statement
    timeout failed them. A new lock gets a new member here, never a number of its own."""

    MIGRATIONS = 7_245_001  # transaction-scoped: one worker applies pending migrations
    KEEPER = 7_245_002  # session-scoped: the one keeper of a deployment (leader election)
    IMPORTS = 7_245_003  # transaction-scoped: uploads one at a time
    FUNNEL = 7_245_004  # transaction-scoped: funnel rollups one at a time


def _xact_lock(key: AdvisoryLock) -> str:
    return f"SELECT pg_advisory_xact_lock({int(key)})"


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
LOCK_MIGRATIONS = _xact_lock(AdvisoryLock.MIGRATIONS)

APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"

RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"

# ---- catalogue -------------------------------------------------------------------------------

SELECT_STORES = """
SELECT store_id, name, city, address, lat, lng, service_area
FROM stores
WHERE active
ORDER BY store_id
"""

# Retired groups never reach a worker; a brand-wide fallback has no store.
SELECT_GROUPS = """
SELECT g.id, g.group_id, g.store_id, g.name, g.qr_payload, g.qr_version, g.capacity,
       g.member_count, g.expires_at, g.position, g.kind, g.display_cap, g.source
FROM groups g
LEFT JOIN stores s ON s.store_id = g.store_id
WHERE g.state <> 'retired' AND (g.store_id IS NULL OR s.active)
ORDER BY g.store_id, g.position, g.id
"""

SELECT_ENTRIES = "SELECT code, kind, store_id, label FROM entries ORDER BY code"

# New groups announced by the keeper ("groups:pk,pk,..."): workers add just these.
SELECT_GROUPS_BY_PK = """
SELECT g.id, g.group_id, g.store_id, g.name, g.qr_payload, g.qr_version, g.capacity,
       g.member_count, g.expires_at, g.position, g.kind, g.display_cap, g.source
FROM groups g
WHERE g.id = ANY($1::bigint[]) AND g.state <> 'retired'
"""
# The payload prefix of such a notification (anything else means: rebuild everything).
NEW_GROUPS_PREFIX = "groups:"

NOTIFY_CATALOGUE = "SELECT pg_notify('huoma_catalogue', $1)"

# Member counts change often (integrations report them); they travel as "group_pk:count" on their
# own channel and patch each worker's overlay instead of rebuilding its catalogue.
MEMBERS_CHANNEL = "huoma_members"
NOTIFY_MEMBERS = "SELECT pg_notify('huoma_members', $1)"

SET_MEMBER_COUNT = """
UPDATE groups SET member_count = $2, updated_at = now()
WHERE group_id = $1 AND kind = 'group'
RETURNING id
"""

# ---- QR images ---------------------------------------------------------------------------------

GET_QR_IMAGE = "SELECT png FROM qr_images WHERE group_pk = $1 AND qr_version = $2"

PUT_QR_IMAGE = """
INSERT INTO qr_images (group_pk, qr_version, png) VALUES ($1, $2, $3)
ON CONFLICT (group_pk, qr_version) DO NOTHING
"""

# ---- leases ----------------------------------------------------------------------------------

LEASE_DISPLAYS = """
SELECT group_pk, granted FROM lease_displays_bulk($1::bigint[], $2::integer[], $3)
"""

RETURN_DISPLAYS = "SELECT return_displays($1::bigint[], $2::integer[])"

# ---- the keeper --------------------------------------------------------------------------------

# One worker of a deployment keeps pools (leader election): a session-level advisory lock held on
# its own connection, released by PostgreSQL when that session ends, whatever the cause.
TRY_KEEPER_LOCK = f"SELECT pg_try_advisory_lock({int(AdvisoryLock.KEEPER)})"

# Derive every group's state from its data: full (members or displays at the cap), expired (within
# the margin), else the first usable group of its store is active and the rest standby.
_SWEEP = """
WITH {touched}cond AS (
    SELECT g.id, g.store_id, g.position,
           CASE
               WHEN g.member_count >= g.capacity
                    OR g.displays_leased >= coalesce(g.display_cap, $1) THEN 'full'
               WHEN g.expires_at <= now() + make_interval(secs => $2) THEN 'expired'
               ELSE 'usable'
           END AS c
    FROM groups g
    WHERE g.kind = 'group' AND g.state <> 'retired' {scope}
), ranked AS (
    SELECT id,
           CASE
               WHEN c <> 'usable' THEN c
               WHEN row_number() OVER (PARTITION BY store_id, c ORDER BY position, id) = 1
                   THEN 'active'
               ELSE 'standby'
           END AS new_state
    FROM cond
)
UPDATE groups g SET state = r.new_state, updated_at = now()
FROM ranked r
WHERE g.id = r.id AND g.state <> r.new_state
RETURNING g.store_id, g.group_id, r.new_state
"""
SWEEP_STATES = _SWEEP.format(touched="", scope="")
# The same for one store ($3), right after ops retire or reorder its groups.
SWEEP_STORE_STATES = _SWEEP.format(touched="", scope="AND g.store_id = $3")
# The same for the stores where something may have changed: a group written since $3 (an
# upload, a member count, a new or restored group, the last sweep's own changes), or a usable
# group that has just become full or about to expire. Everything else keeps its state.
SWEEP_CHANGED_STATES = _SWEEP.format(
    touched="""touched AS (
    SELECT DISTINCT t.store_id FROM groups t
    WHERE t.kind = 'group'
      AND (t.updated_at >= $3
           OR (t.state IN ('active', 'standby')
               AND (t.member_count >= t.capacity
                    OR t.displays_leased >= coalesce(t.display_cap, $1)
                    OR t.expires_at <= now() + make_interval(secs => $2))))
), """,
    scope="AND g.store_id IN (SELECT store_id FROM touched)",
)

# Whether any store was written since $1 (a new store needs its first groups).
STORES_CHANGED = "SELECT EXISTS (SELECT 1 FROM stores WHERE updated_at >= $1)"

NOW = "SELECT now()"

LOW_STORES = """
SELECT s.store_id, s.name, s.city,
       count(g.id) FILTER (WHERE g.state IN ('active', 'standby')) AS usable
FROM stores s
LEFT JOIN groups g ON g.store_id = s.store_id AND g.kind = 'group'
WHERE s.active
  -- A WeCom join way never runs dry: WeCom opens the next group itself.
  AND NOT EXISTS (SELECT 1 FROM groups w
                  WHERE w.store_id = s.store_id AND w.source = 'wecom'
                    AND w.state IN ('active', 'standby'))
GROUP BY s.store_id
HAVING count(g.id) FILTER (WHERE g.state IN ('active', 'standby')) < $1
ORDER BY usable, s.store_id
LIMIT $2
"""

INSERT_PROVIDED_GROUP = """
INSERT INTO groups (group_id, store_id, name, qr_payload, capacity, expires_at, position, source,
                    state)
SELECT $1, $2, $3, $4, $5, $6,
       coalesce((SELECT max(position) + 1 FROM groups WHERE store_id = $2), 0), $7, 'standby'
ON CONFLICT (group_id) DO NOTHING
RETURNING id
"""

# The partial unique index alerts_open makes raising an open alert twice a no-op.
RAISE_ALERT = """
INSERT INTO alerts (kind, store_id, message) VALUES ($1, $2, $3)
ON CONFLICT (kind, coalesce(store_id, '*'), coalesce(group_id, '*')) WHERE resolved_at IS NULL
DO NOTHING
RETURNING id
"""

RESOLVE_ALERTS = """
UPDATE alerts SET resolved_at = now()
WHERE kind = $1 AND resolved_at IS NULL AND NOT (coalesce(store_id, '*') = ANY($2::text[]))
"""

# A usable group that expires within $1 seconds (beyond the hand-out margin it is still shown).
RAISE_EXPIRING_ALERTS = """
INSERT INTO alerts (kind, store_id, group_id, message)
SELECT $2, g.store_id, g.group_id,
       format('group %s of store %s expires at %s', g.group_id, g.store_id,
              to_char(g.expires_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI'))
FROM groups g
WHERE g.kind = 'group' AND g.state IN ('active', 'standby')
  AND g.expires_at <= now() + make_interval(secs => $1)
ON CONFLICT (kind, coalesce(store_id, '*'), coalesce(group_id, '*')) WHERE resolved_at IS NULL
DO NOTHING
"""

# Renewed, retired, expired or gone: the expiring alert is over.
RESOLVE_EXPIRING_ALERTS = """
UPDATE alerts a SET resolved_at = now()
WHERE a.kind = $2 AND a.resolved_at IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM groups g
      WHERE g.group_id = a.group_id AND g.kind = 'group' AND g.state IN ('active', 'standby')
        AND g.expires_at <= now() + make_interval(secs => $1))
"""

# Alerts not yet told to the webhook, oldest first, with their store's name.
PENDING_ALERTS = """
SELECT a.id, a.kind, a.store_id, a.group_id, a.message, a.created_at, s.name AS store_name,
       EXISTS (
           SELECT 1 FROM alerts p
           WHERE p.kind = a.kind AND p.store_id IS NOT DISTINCT FROM a.store_id
             AND p.group_id IS NOT DISTINCT FROM a.group_id AND p.delivery = 'sent'
             AND p.notified_at > now() - make_interval(secs => $1)
       ) AS cooling
FROM alerts a
LEFT JOIN stores s ON s.store_id = a.store_id
WHERE a.delivery = 'pending'
ORDER BY a.id
LIMIT $2
"""

SET_ALERT_DELIVERY = """
UPDATE alerts SET delivery = $2,
    notified_at = CASE WHEN $2 = 'sent' THEN now() ELSE notified_at END
WHERE id = ANY($1::bigint[])
"""

# A webhook that has refused an alert for a day will not take it: stop trying, keep the record.
GIVE_UP_ALERTS = """
UPDATE alerts SET delivery = 'failed'
WHERE delivery = 'pending' AND created_at < now() - make_interval(secs => $1)
"""

LIST_ALERTS = """
SELECT a.id, a.kind, a.store_id, s.name AS store_name, a.group_id, a.message, a.created_at,
       a.resolved_at, a.delivery, a.notified_at, count(*) OVER () AS total
FROM alerts a
LEFT JOIN stores s ON s.store_id = a.store_id
WHERE NOT $1 OR a.resolved_at IS NULL
ORDER BY a.id DESC
LIMIT $2 OFFSET $3
"""

PING = "SELECT 1"

COUNT_STORES = "SELECT count(*) FROM stores"

# ---- imports ---------------------------------------------------------------------------------

# Imports copy every validated row into a temporary staging table, then upsert from it in the
# same transaction: one round trip per thousands of rows, and a failure leaves nothing behind.
CREATE_STORE_STAGING = """
CREATE TEMP TABLE import_stores (
    store_id text, name text, city text, address text, lat float8, lng float8,
    source_lat float8, source_lng float8, source_coord text, service_area text, active boolean,
    source_area text
) ON COMMIT DROP
"""

# Empty optional cells arrive as NULL and keep the stored value (so does an absent column); ''
# means the cell asked to clear it (CLEAR_WORDS). Updating first and inserting the rest, rather
# than INSERT ... ON CONFLICT, because a proposed row must satisfy NOT NULL before its conflict is
# seen, and "keep" is a NULL. A kept service area's uploaded form (source_area) is in the old
# coordinate system: when a row changes system, it becomes the stored GCJ-02 area if the new
# system is gcj02, else NULL (an export then gives the store and its area in gcj02). Rows whose
# values would not change are not touched.
UPDATE_STORES = """
WITH next AS (
    SELECT s.store_id, i.name, i.city, coalesce(i.address, s.address) AS address, i.lat, i.lng,
           i.source_lat, i.source_lng, i.source_coord,
           CASE WHEN i.service_area IS NULL THEN s.service_area
                ELSE nullif(i.service_area, '') END AS service_area,
           coalesce(i.active, s.active) AS active,
           CASE WHEN i.service_area IS NOT NULL THEN nullif(i.source_area, '')
                WHEN i.source_coord = s.source_coord THEN s.source_area
                WHEN i.source_coord = 'gcj02' THEN s.service_area END AS source_area
    FROM import_stores i
    JOIN stores s USING (store_id)
)
UPDATE stores s SET
    name = n.name, city = n.city, address = n.address, lat = n.lat, lng = n.lng,
    source_lat = n.source_lat, source_lng = n.source_lng, source_coord = n.source_coord,
    service_area = n.service_area, active = n.active, source_area = n.source_area,
    updated_at = now()
FROM next n
WHERE s.store_id = n.store_id
  AND (s.name, s.city, s.address, s.lat, s.lng, s.source_lat, s.source_lng, s.source_coord,
       s.service_area, s.active, s.source_area)
      IS DISTINCT FROM
      (n.name, n.city, n.address, n.lat, n.lng, n.source_lat, n.source_lng, n.source_coord,
       n.service_area, n.active, n.source_area)
RETURNING false AS inserted
"""

INSERT_STORES = """
INSERT INTO stores (store_id, name, city, address, lat, lng, source_lat, source_lng,
                    source_coord, service_area, active, source_area)
SELECT i.store_id, i.name, i.city, coalesce(i.address, ''), i.lat, i.lng, i.source_lat,
       i.source_lng, i.source_coord, nullif(i.service_area, ''), coalesce(i.active, true),
       nullif(i.source_area, '')
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
LOCK_IMPORTS = _xact_lock(AdvisoryLock.IMPORTS)

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

# ---- group health (the ops console) ---------------------------------------------------------

# Per active store: usable groups and the active group's fill and expiry, as of the last sweep.
# $1 default display cap, $2 low-water mark, $3 status filter (all | low | fallback),
# $4 city or NULL, $5 search text or NULL, $6 limit, $7 offset.
HEALTH_STORES = """
WITH pool AS (
    SELECT store_id,
           count(*) FILTER (WHERE state IN ('active', 'standby')) AS usable,
           count(*) FILTER (WHERE state = 'full') AS full,
           count(*) FILTER (WHERE state = 'expired') AS expired,
           -- A usable WeCom join way never runs low: WeCom opens the next chat itself.
           bool_or(source = 'wecom' AND state IN ('active', 'standby')) AS wecom
    FROM groups WHERE kind = 'group' GROUP BY store_id
), page AS (
    SELECT s.store_id, s.name, s.city, coalesce(p.usable, 0) AS usable,
           coalesce(p.full, 0) AS full, coalesce(p.expired, 0) AS expired,
           coalesce(p.wecom, false) AS wecom,
           count(*) OVER () AS total
    FROM stores s
    LEFT JOIN pool p USING (store_id)
    WHERE s.active
      AND ($4::text IS NULL OR s.city = $4)
      AND ($5::text IS NULL OR s.store_id ILIKE '%' || $5 || '%' OR s.name ILIKE '%' || $5 || '%')
      AND ($3 = 'all'
           OR ($3 = 'low' AND coalesce(p.usable, 0) < $2 AND NOT coalesce(p.wecom, false))
           OR ($3 = 'fallback' AND coalesce(p.usable, 0) = 0))
    ORDER BY usable, s.store_id
    LIMIT $6 OFFSET $7
)
-- The active group and the fallback only for the page's stores, through the store index.
SELECT page.*, h.group_id, h.name AS group_name, h.member_count, h.capacity, h.displays_leased,
       h.display_cap, h.expires_at,
       extract(epoch FROM h.expires_at - now())::bigint AS expires_in_s,
       EXISTS (SELECT 1 FROM groups f WHERE f.kind = 'fallback' AND f.store_id = page.store_id)
           AS has_fallback
FROM page
LEFT JOIN LATERAL (
    SELECT g.group_id, g.name, g.member_count, g.capacity, g.displays_leased,
           coalesce(g.display_cap, $1) AS display_cap, g.expires_at
    FROM groups g
    WHERE g.store_id = page.store_id AND g.kind = 'group' AND g.state = 'active'
    ORDER BY g.position, g.id
    LIMIT 1
) h ON true
ORDER BY page.usable, page.store_id
"""

# Stores counted by condition, for the console's headline.
HEALTH_SUMMARY = """
WITH pool AS (
    SELECT s.store_id,
           count(g.id) FILTER (WHERE g.state IN ('active', 'standby')) AS usable,
           coalesce(bool_or(g.source = 'wecom' AND g.state IN ('active', 'standby')), false)
               AS wecom
    FROM stores s
    LEFT JOIN groups g ON g.store_id = s.store_id AND g.kind = 'group'
    WHERE s.active
    GROUP BY s.store_id
)
SELECT count(*) AS stores,
       count(*) FILTER (WHERE usable < $1 AND NOT wecom) AS low,
       count(*) FILTER (WHERE usable = 0) AS on_fallback
FROM pool
"""

STORE_EXISTS = "SELECT name FROM stores WHERE store_id = $1"

STORE_GROUPS = """
SELECT group_id, name, kind, state, qr_payload, member_count, capacity, displays_leased,
       coalesce(display_cap, $2) AS display_cap, expires_at, position, source,
       extract(epoch FROM expires_at - now())::bigint AS expires_in_s
FROM groups
WHERE store_id = $1
ORDER BY kind DESC, state = 'retired', position, id
"""

# Retired groups never reach a worker; restoring one lets the next sweep give it a state.
SET_GROUP_RETIRED = """
UPDATE groups SET state = CASE WHEN $2 THEN 'retired' ELSE 'standby' END, updated_at = now()
WHERE group_id = $1 AND kind = 'group'
RETURNING store_id
"""

GROUP_STATE = "SELECT state FROM groups WHERE group_id = $1"

STORE_GROUP_IDS = """
SELECT group_id FROM groups
WHERE store_id = $1 AND kind = 'group'
ORDER BY position, id
"""

SET_GROUP_POSITIONS = """
UPDATE groups g SET position = o.position, updated_at = now()
FROM unnest($2::text[]) WITH ORDINALITY AS o(group_id, position)
WHERE g.group_id = o.group_id AND g.store_id = $1 AND g.position <> o.position
"""

# ---- entry codes (the ops console) -------------------------------------------------------------

_ENTRIES = """
SELECT e.code, e.kind, e.store_id, s.name AS store_name, e.label, e.created_at,
       count(*) OVER () AS total
FROM entries e
LEFT JOIN stores s USING (store_id)
"""
LIST_ENTRIES = (
    _ENTRIES
    + """WHERE $1::text IS NULL OR e.code ILIKE '%' || $1 || '%' OR e.label ILIKE '%' || $1 || '%'
ORDER BY e.created_at DESC, e.code
LIMIT $2 OFFSET $3
"""
)
GET_ENTRY = _ENTRIES + "WHERE e.code = $1"

ENTRY_EXISTS = "SELECT EXISTS (SELECT 1 FROM entries WHERE code = $1)"

# ---- exports (the import columns, as uploaded) ---------------------------------------------------

# A store uploaded before source_area existed has only its GCJ-02 area: export it in GCJ-02.
EXPORT_STORES = """
SELECT store_id, name, city, address,
       CASE WHEN service_area IS NOT NULL AND source_area IS NULL THEN lat ELSE source_lat END
           AS lat,
       CASE WHEN service_area IS NOT NULL AND source_area IS NULL THEN lng ELSE source_lng END
           AS lng,
       CASE WHEN service_area IS NOT NULL AND source_area IS NULL THEN 'gcj02'
            ELSE source_coord END AS coord,
       coalesce(source_area, service_area) AS service_area, active
FROM stores
ORDER BY store_id
"""

# A store's WeCom join-way group is Huoma's own (its capacity and cap are out of an upload's
# range, and uploads may not write it): not exported, so an export uploads again.
EXPORT_GROUPS = """
SELECT group_id, store_id, name, qr_payload, capacity, member_count, expires_at, position,
       display_cap
FROM groups
WHERE kind = 'group' AND state <> 'retired' AND source <> 'wecom'
ORDER BY store_id, position, id
"""

EXPORT_FALLBACKS = """
SELECT store_id, name, qr_payload FROM groups WHERE kind = 'fallback' ORDER BY store_id NULLS FIRST
"""

EXPORT_ENTRIES = "SELECT code, kind, store_id, label FROM entries ORDER BY code"

# ---- the scan funnel -----------------------------------------------------------------------------

# The measures, over scan_events rows; the rollup stores exactly these.
FUNNEL_MEASURES = """
       count(*) AS scans,
       count(DISTINCT visitor) AS visitors,
       count(lat_approx) AS located,
       count(*) FILTER (WHERE outcome = 'ok') AS ok,
       count(*) FILTER (WHERE outcome = 'fallback') AS fallback,
       count(*) FILTER (WHERE outcome = 'no_store_nearby') AS no_store_nearby,
       count(*) FILTER (WHERE outcome = 'no_group') AS no_group,
       count(*) FILTER (WHERE outcome = 'no_location') AS no_location,
       count(*) FILTER (WHERE outcome = 'bad_input') AS bad_input,
       count(group_id) AS groups_shown"""

FUNNEL_COLUMNS = (
    "scans", "visitors", "located", "ok", "fallback", "no_store_nearby", "no_group",
    "no_location", "bad_input", "groups_shown",
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
GROUP BY 1, 2, 3
"""

# Rollups are one at a time, even if two keepers overlap for a moment (a failover). Their own
# key: a rollup may hold it for HUOMA_FUNNEL_TIMEOUT_S, and nothing else needs to wait for that.
LOCK_FUNNEL = _xact_lock(AdvisoryLock.FUNNEL)

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
INSERT INTO funnel_daily (day, grain, store_id, entry, scans, visitors, located, ok, fallback,
                          no_store_nearby, no_group, no_location, bad_input, groups_shown)
SELECT $1::date, (1 - GROUPING(s)) + 2 * (1 - GROUPING(e)),
       CASE WHEN GROUPING(s) = 0 THEN s ELSE '' END,
       CASE WHEN GROUPING(e) = 0 THEN e ELSE '' END,"""  # noqa: S608 (constants only)
    + FUNNEL_MEASURES
    + """
FROM (SELECT coalesce(store_id, '') AS s, coalesce(entry, '') AS e, visitor, lat_approx,
             outcome, group_id
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
# {head} and {group} are fixed fragments chosen in router.store.funnel, never user text.
FUNNEL_QUERY = (
    """
WITH base AS (
    SELECT day, store_id, entry, scans, visitors, located, ok, fallback, no_store_nearby,
           no_group, no_location, bad_input, groups_shown
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
SELECT {head}sum(scans)::bigint AS scans, sum(visitors)::bigint AS visitors,
       sum(located)::bigint AS located, sum(ok)::bigint AS ok,
       sum(fallback)::bigint AS fallback, sum(no_store_nearby)::bigint AS no_store_nearby,
       sum(no_group)::bigint AS no_group, sum(no_location)::bigint AS no_location,
       sum(bad_input)::bigint AS bad_input, sum(groups_shown)::bigint AS groups_shown
FROM base b
LEFT JOIN stores s ON s.store_id = b.store_id
{group}
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

# ---- WeCom join ways --------------------------------------------------------------------------

WECOM_STORE = """
SELECT w.id, w.store_id, w.enabled, w.config_id, w.qr_code, w.chat_ids, w.synced_at,
       w.sync_error, s.name AS store_name, coalesce(s.active, false) AS store_active
FROM wecom_stores w
LEFT JOIN stores s ON s.store_id = w.store_id
WHERE w.store_id = $1
"""

WECOM_STORES_TO_SYNC = """
SELECT store_id FROM wecom_stores WHERE enabled OR config_id IS NOT NULL ORDER BY id
"""

WECOM_ENABLE = """
INSERT INTO wecom_stores (store_id) VALUES ($1)
ON CONFLICT (store_id) DO UPDATE SET enabled = true, updated_at = now()
RETURNING id
"""

WECOM_DISABLE = """
UPDATE wecom_stores SET enabled = false, updated_at = now() WHERE store_id = $1 RETURNING id
"""

# A chat given by ops (or adopted); a chat already belonging to another store is not moved.
WECOM_ADD_CHAT = """
INSERT INTO wecom_chats (chat_id, store_id, position, adopted)
VALUES ($1, $2, coalesce((SELECT max(position) + 1 FROM wecom_chats WHERE store_id = $2), 0), $3)
ON CONFLICT (chat_id) DO UPDATE SET dismissed = false
WHERE wecom_chats.store_id = EXCLUDED.store_id
RETURNING store_id
"""

WECOM_CHAT_OWNER = "SELECT store_id FROM wecom_chats WHERE chat_id = $1"

WECOM_CHAT_VERSION = "SELECT member_version FROM wecom_chats WHERE chat_id = $1"

WECOM_ENABLED = "SELECT enabled FROM wecom_stores WHERE store_id = $1"

STORE_ACTIVE = "SELECT active FROM stores WHERE store_id = $1"

WECOM_CHATS = """
SELECT chat_id, position, member_count, member_version, counted_at, adopted, dismissed
FROM wecom_chats WHERE store_id = $1
ORDER BY position, created_at
"""

WECOM_SYNCED = """
UPDATE wecom_stores
SET config_id = $2, qr_code = $3, chat_ids = $4, synced_at = now(), sync_error = NULL,
    updated_at = now()
WHERE store_id = $1
"""

WECOM_SYNC_FAILED = """
UPDATE wecom_stores SET sync_error = $2, synced_at = now(), updated_at = now()
WHERE store_id = $1
"""

WECOM_FORGET_JOIN_WAY = """
UPDATE wecom_stores
SET config_id = NULL, qr_code = NULL, chat_ids = '{}', synced_at = now(), sync_error = NULL,
    updated_at = now()
WHERE store_id = $1
"""

# The store's group is its join way's QR code: never full by members or displays (WeCom opens
# the next chat itself), first in the pool, its QR version bumped when the code changes.
WECOM_UPSERT_GROUP = """
INSERT INTO groups (group_id, store_id, name, qr_payload, capacity, display_cap, position,
                    source, state)
VALUES ($1, $2, $3, $4, 2000000000, 2000000000, -1, 'wecom', 'standby')
ON CONFLICT (group_id) DO UPDATE SET
    qr_payload = EXCLUDED.qr_payload,
    qr_version = groups.qr_version + (groups.qr_payload <> EXCLUDED.qr_payload)::int,
    name = EXCLUDED.name,
    state = CASE WHEN groups.state = 'retired' THEN 'standby' ELSE groups.state END,
    updated_at = now()
WHERE groups.qr_payload <> EXCLUDED.qr_payload OR groups.name <> EXCLUDED.name
   OR groups.state = 'retired'
RETURNING id, (xmax = 0) AS inserted
"""

WECOM_RETIRE_GROUP = """
UPDATE groups SET state = 'retired', updated_at = now()
WHERE group_id = $1 AND state <> 'retired'
RETURNING id
"""

# A reading of a chat's members; an older reading (two processors racing) changes nothing.
WECOM_COUNTED = """
UPDATE wecom_chats
SET member_count = $2, member_version = $3, counted_at = $4, dismissed = false
WHERE chat_id = $1 AND (counted_at IS NULL OR counted_at < $4)
RETURNING store_id
"""

WECOM_DISMISSED = """
UPDATE wecom_chats SET dismissed = true WHERE chat_id = $1 RETURNING store_id
"""

WECOM_STORE_OF_STATE = "SELECT store_id FROM wecom_stores WHERE 'hm' || id = $1"

# A join's entry is the entry of the last scan that showed the store's join way before it, within
# $7 seconds: WeCom tells who joined, never from which printed code.
WECOM_RECORD_JOINS = """
INSERT INTO group_joins (chat_id, member, joined_at, store_id, state, join_scene, entry)
SELECT $1, m.member, to_timestamp(m.joined), j.store_id, m.state, m.scene,
       (SELECT e.entry FROM scan_events e
        WHERE e.group_id = 'wecom-' || j.store_id AND e.outcome = 'ok'
          AND e.at <= to_timestamp(m.joined)
          AND e.at > to_timestamp(m.joined) - make_interval(secs => $7)
        ORDER BY e.at DESC LIMIT 1)
FROM unnest($3::text[], $4::bigint[], $5::text[], $6::smallint[]) AS m(member, joined, state, scene)
LEFT JOIN wecom_stores w ON m.state <> '' AND 'hm' || w.id = m.state
CROSS JOIN LATERAL (SELECT coalesce(w.store_id, $2) AS store_id) j
ON CONFLICT DO NOTHING
"""

# ---- WeCom callbacks --------------------------------------------------------------------------

WECOM_CALLBACK_SEEN = """
INSERT INTO wecom_callbacks (signature, sent_at, event, chat_id, change_type, update_detail,
                             message)
VALUES ($1, to_timestamp($2), $3, $4, $5, $6, $7)
ON CONFLICT (signature) DO NOTHING
RETURNING signature
"""

WECOM_CALLBACKS_PENDING = """
SELECT signature, event, chat_id, change_type, update_detail, message
FROM wecom_callbacks
-- A fresh one is being processed by the worker that received it; the keeper takes the rest.
WHERE processed_at IS NULL AND attempts < $1
  AND (attempts > 0 OR received_at < now() - interval '1 minute')
ORDER BY sent_at, received_at
LIMIT $2
"""

WECOM_CALLBACK_DONE = """
UPDATE wecom_callbacks SET processed_at = now(), attempts = attempts + 1, error = NULL
WHERE signature = $1
"""

WECOM_CALLBACK_FAILED = """
UPDATE wecom_callbacks SET attempts = attempts + 1, error = $2 WHERE signature = $1
"""
