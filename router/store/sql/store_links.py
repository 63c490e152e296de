"""Store links: their generations (revocation) and what a link may read and change of its store."""

from __future__ import annotations

# The store's and the deployment's link generations; no row: no such (active) store.
LINK_GENERATIONS = """
SELECT s.link_generation, (SELECT generation FROM store_link_state) AS global_generation, s.name
FROM stores s
WHERE s.store_id = $1 AND s.active
"""

# The active stores a link issue chooses: $1 pasted ids, $2 regions' keys (a store's region, else
# its city; or its city; router.scan.catalogue.place_keys), either NULL for every store; $3 the
# principal's regions (NULL: every region, the same rule as STORE_WITHIN); at most $4 rows (one
# more than may be issued, to say so).
LINK_STORES = """
SELECT s.store_id, s.name, s.link_generation
FROM stores s
WHERE s.active
  AND ($1::text[] IS NULL OR s.store_id = ANY($1))
  AND ($2::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($2)
       OR s.city_key = ANY($2))
  AND ($3::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($3))
ORDER BY s.store_id
LIMIT $4
"""

# The regions (a store's region, else its city) an editor may choose stores by, with how many
# active stores each holds; $1 the principal's regions (NULL: every region). Spellings of one
# place (成都, 成都市) are one region, named by its shortest spelling.
LINK_REGIONS = """
SELECT min(coalesce(nullif(s.region, ''), s.city)) AS region, count(*) AS stores
FROM stores s
WHERE s.active AND ($1::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($1))
GROUP BY coalesce(s.region_key, s.city_key)
ORDER BY 1
"""

GLOBAL_LINK_GENERATION = "SELECT generation FROM store_link_state"

REVOKE_STORE_LINKS = """
UPDATE stores SET link_generation = link_generation + 1 WHERE store_id = $1
RETURNING link_generation
"""

REVOKE_ALL_STORE_LINKS = """
UPDATE store_link_state SET generation = generation + 1 RETURNING generation
"""

# The store's page: its unretired groups, with what staff need to see.
LINK_STORE_GROUPS = """
SELECT g.group_id, g.name, g.state, g.member_count, g.capacity, g.expires_at,
       g.displays_shown, g.position
FROM groups g
WHERE g.store_id = $1 AND g.kind = 'group' AND g.state <> 'retired'
ORDER BY g.position, g.id
"""

# A group of this store only: any other answers nothing (404, whoever owns it).
LINK_GROUP = """
SELECT id, group_id, qr_payload, capacity FROM groups
WHERE group_id = $1 AND store_id = $2 AND kind = 'group' AND state <> 'retired'
FOR UPDATE
"""

# Before a store replaces a group's code: the group, if it is this store's ($2), with what its
# audit record compares.
LINK_GROUP_BEFORE = """
SELECT id, qr_version, expires_at FROM groups
WHERE group_id = $1 AND store_id = $2 AND kind = 'group' AND state <> 'retired'
"""

LINK_GROUP_AFTER = "SELECT qr_version, expires_at FROM groups WHERE group_id = $1"

LINK_GROUP_VERSION = "SELECT qr_version FROM groups WHERE group_id = $1"

# "This group is full": its members reach its capacity, as an integration would report, and the
# sweep marks it full (what the keeper does with a full group).
MARK_GROUP_FULL = """
UPDATE groups SET member_count = capacity, updated_at = now() WHERE id = $1
RETURNING member_count
"""
