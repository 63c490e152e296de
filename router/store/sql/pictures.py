"""Group codes from pictures (router.ops.pictures): which group already shows a code, and what a
code replacement needs of the group it replaces."""

# $1: a decoded code, $2: the group it is meant for. Another group that shows it (retired groups
# do not count: their code may be given again).
GROUP_WITH_PAYLOAD = """
SELECT group_id FROM groups
WHERE qr_payload = $1 AND group_id <> $2 AND state <> 'retired'
ORDER BY id
LIMIT 1
"""

GROUP_FOR_PICTURE = """
SELECT group_id, store_id, name, kind, source FROM groups WHERE group_id = $1
"""

# The groups a ZIP of pictures names: of these ids ($1: text[]), those of stores in the regions
# ($2; NULL: every region, and groups of no store); an account limited to regions sees no other.
GROUPS_FOR_PICTURES = """
SELECT g.group_id, g.store_id, g.name, g.kind, g.source
FROM groups g LEFT JOIN stores s ON s.store_id = g.store_id
WHERE g.group_id = ANY($1::text[])
  AND ($2::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($2))
"""

# Which of these ids ($1: text[]) are stores in the regions ($2; NULL: every region), with
# their names.
STORES_BY_IDS = """
SELECT store_id, name FROM stores
WHERE store_id = ANY($1::text[])
  AND ($2::text[] IS NULL OR coalesce(region_key, city_key) = ANY($2))
"""
