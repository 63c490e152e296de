"""The keeper: its lock, state sweeps, low stores, provided groups, alerts."""

from __future__ import annotations

from router.store.sql.locks import AdvisoryLock

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
       s.region AS store_region, s.city AS store_city,
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
WHERE (NOT $1 OR a.resolved_at IS NULL)
  -- $4: regions or NULL (all); an alert of no store belongs to no region.
  AND ($4::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($4))
ORDER BY a.id DESC
LIMIT $2 OFFSET $3
"""

PING = "SELECT 1"

COUNT_STORES = "SELECT count(*) FROM stores"
