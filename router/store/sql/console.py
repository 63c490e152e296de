"""The ops console's reads and changes: group health, a store's groups, entry codes."""

from __future__ import annotations

# ---- group health (the ops console) ---------------------------------------------------------

# Per active store: usable groups and the active group's fill and expiry, as of the last sweep.
# $1 default display cap, $2 low-water mark, $3 status filter (all | low | fallback),
# $4 a city's key (city_key) or NULL, $5 search text or NULL, $6 limit, $7 offset, $8 province,
# $9 district and $10 a region's key or NULL, $11 the regions (keys) of an account limited to
# some or NULL (all).
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
    SELECT s.store_id, s.name, s.city, s.province, s.district, s.region,
           coalesce(p.usable, 0) AS usable,
           coalesce(p.full, 0) AS full, coalesce(p.expired, 0) AS expired,
           coalesce(p.wecom, false) AS wecom,
           count(*) OVER () AS total
    FROM stores s
    LEFT JOIN pool p USING (store_id)
    WHERE s.active
      AND ($4::text IS NULL OR s.city_key = $4)
      AND ($8::text IS NULL OR s.province = $8)
      AND ($9::text IS NULL OR s.district = $9)
      AND ($10::text IS NULL OR s.region_key = $10)
      AND ($11::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($11))
      AND ($5::text IS NULL OR s.store_id ILIKE '%' || $5 || '%' OR s.name ILIKE '%' || $5 || '%')
      AND ($3 = 'all'
           OR ($3 = 'low' AND coalesce(p.usable, 0) < $2 AND NOT coalesce(p.wecom, false))
           OR ($3 = 'fallback' AND coalesce(p.usable, 0) = 0))
    ORDER BY usable, s.store_id
    LIMIT $6 OFFSET $7
)
-- The active group and the fallback only for the page's stores, through the store index.
SELECT page.*, h.group_id, h.name AS group_name, h.member_count, h.capacity, h.displays_leased,
       h.displays_shown,
       h.display_cap, h.expires_at,
       extract(epoch FROM h.expires_at - now())::bigint AS expires_in_s,
       EXISTS (SELECT 1 FROM groups f WHERE f.kind = 'fallback' AND f.store_id = page.store_id)
           AS has_fallback
FROM page
LEFT JOIN LATERAL (
    SELECT g.group_id, g.name, g.member_count, g.capacity, g.displays_leased, g.displays_shown,
           coalesce(g.display_cap, $1) AS display_cap, g.expires_at
    FROM groups g
    WHERE g.store_id = page.store_id AND g.kind = 'group' AND g.state = 'active'
    ORDER BY g.position, g.id
    LIMIT 1
) h ON true
ORDER BY page.usable, page.store_id
"""

# Stores counted by condition, for the console's headline; $2 regions or NULL (all).
HEALTH_SUMMARY = """
WITH pool AS (
    SELECT s.store_id,
           count(g.id) FILTER (WHERE g.state IN ('active', 'standby')) AS usable,
           coalesce(bool_or(g.source = 'wecom' AND g.state IN ('active', 'standby')), false)
               AS wecom
    FROM stores s
    LEFT JOIN groups g ON g.store_id = s.store_id AND g.kind = 'group'
    WHERE s.active AND ($2::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($2))
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
       displays_shown,
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
SELECT e.code, e.kind, e.store_id, s.name AS store_name, e.label, e.created_at, e.campaign,
       count(*) OVER () AS total
FROM entries e
LEFT JOIN stores s USING (store_id)
"""
LIST_ENTRIES = (
    _ENTRIES
    + """WHERE ($1::text IS NULL OR e.code ILIKE '%' || $1 || '%' OR e.label ILIKE '%' || $1 || '%')
  -- $4: regions or NULL (all); an entry code of no store belongs to no region.
  AND ($4::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($4))
ORDER BY e.created_at DESC, e.code
LIMIT $2 OFFSET $3
"""
)
GET_ENTRY = _ENTRIES + "WHERE e.code = $1"

ENTRY_EXISTS = "SELECT EXISTS (SELECT 1 FROM entries WHERE code = $1)"
