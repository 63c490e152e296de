"""Store links: their generations (revocation) and what a link may read and change of its store."""

from __future__ import annotations

# The store's and the deployment's link generations; no row: no such (active) store.
LINK_GENERATIONS = """
SELECT s.link_generation, (SELECT generation FROM store_link_state) AS global_generation, s.name
FROM stores s
WHERE s.store_id = $1 AND s.active
"""

LINK_STORES = """
SELECT store_id, name, link_generation FROM stores
WHERE store_id = ANY($1::text[]) AND active
ORDER BY store_id
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

CODE_USED_ELSEWHERE = """
SELECT group_id FROM groups WHERE qr_payload = $1 AND group_id <> $2 AND state <> 'retired'
LIMIT 1
"""

# A new code for the same group (its members, position and history stay): a new version (old
# image links die) and a fresh expiry; its state is derived again by the store's sweep.
REPLACE_GROUP_CODE = """
UPDATE groups SET qr_payload = $2, qr_version = qr_version + 1, expires_at = $3,
       source = 'upload', updated_at = now()
WHERE id = $1
RETURNING qr_version
"""

# "This group is full": its members reach its capacity, as an integration would report, and the
# sweep marks it full (what the keeper does with a full group).
MARK_GROUP_FULL = """
UPDATE groups SET member_count = capacity, updated_at = now() WHERE id = $1
RETURNING member_count
"""
