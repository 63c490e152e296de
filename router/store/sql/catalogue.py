"""The catalogue's reads, and the notifications that tell every worker to reload or patch it."""

from __future__ import annotations

# ---- catalogue -------------------------------------------------------------------------------

# A store's columns as the catalogue reads them: one list for the full build and the per-store
# patch, so a column added for one cannot be missing from the other.
STORE_COLUMNS = """store_id, name, city, address, lat, lng, service_area,
       source_lat, source_lng, source_coord, source_area, province, district, region,
       coord_provider"""

SELECT_STORES = f"""
SELECT {STORE_COLUMNS}
FROM stores
WHERE active
ORDER BY store_id
"""  # noqa: S608 (a fixed column list, no input)

# Retired groups never reach a worker; a brand-wide fallback has no store.
SELECT_GROUPS = """
SELECT g.id, g.group_id, g.store_id, g.name, g.qr_payload, g.qr_version, g.capacity,
       g.member_count, g.expires_at, g.position, g.kind, g.display_cap, g.source
FROM groups g
LEFT JOIN stores s ON s.store_id = g.store_id
WHERE g.state <> 'retired' AND (g.store_id IS NULL OR s.active)
ORDER BY g.store_id, g.position, g.id
"""

SELECT_ENTRIES = "SELECT code, kind, store_id, label, campaign FROM entries ORDER BY code"

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

# ---- per-store patches -----------------------------------------------------------------------

# A change to a few stores ("stores:" + a JSON list of store ids): workers rebuild just those
# stores (router.scan.catalogue.patch_stores). Inactive stores are read too: the worker must see
# that one left.
STORES_PREFIX = "stores:"

SELECT_STORES_BY_ID = f"""
SELECT {STORE_COLUMNS}, active
FROM stores
WHERE store_id = ANY($1::text[])
"""  # noqa: S608 (a fixed column list, no input)

SELECT_GROUPS_OF_STORES = """
SELECT g.id, g.group_id, g.store_id, g.name, g.qr_payload, g.qr_version, g.capacity,
       g.member_count, g.expires_at, g.position, g.kind, g.display_cap, g.source
FROM groups g
WHERE g.store_id = ANY($1::text[]) AND g.state <> 'retired'
ORDER BY g.store_id, g.position, g.id
"""

# The stores of groups announced by pk (a keeper's new groups, folded into a store patch).
STORES_OF_GROUPS = "SELECT DISTINCT store_id FROM groups WHERE id = ANY($1::bigint[])"
