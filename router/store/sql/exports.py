"""Exports: every current row in the columns an upload takes, as it was uploaded."""

from __future__ import annotations

# ---- exports (the import columns, as uploaded) ---------------------------------------------------

# Each takes $1: the regions of an account limited to some (a store's region, else its city), or
# NULL for every row.

# A store uploaded before source_area existed has only its GCJ-02 area: export it in GCJ-02.
# The coord column names the provider when the upload did (amap...), so the file uploads again.
EXPORT_STORES = """
SELECT store_id, name, city, address,
       CASE WHEN service_area IS NOT NULL AND source_area IS NULL THEN lat ELSE source_lat END
           AS lat,
       CASE WHEN service_area IS NOT NULL AND source_area IS NULL THEN lng ELSE source_lng END
           AS lng,
       CASE WHEN service_area IS NOT NULL AND source_area IS NULL THEN 'gcj02'
            ELSE coalesce(coord_provider, source_coord) END AS coord,
       coalesce(source_area, service_area) AS service_area, active, province, district, region
FROM stores s
WHERE $1::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($1)
ORDER BY store_id
"""

# A store's WeCom join-way group is Huoma's own (its capacity and cap are out of an upload's
# range, and uploads may not write it): not exported, so an export uploads again.
EXPORT_GROUPS = """
SELECT group_id, store_id, name, qr_payload, capacity, member_count, expires_at, position,
       display_cap
FROM groups
WHERE kind = 'group' AND state <> 'retired' AND source <> 'wecom'
  AND ($1::text[] IS NULL OR store_id IN (
      SELECT s.store_id FROM stores s
      WHERE coalesce(s.region_key, s.city_key) = ANY($1)))
ORDER BY store_id, position, id
"""

# The brand-wide fallback (no store) belongs to no region.
EXPORT_FALLBACKS = """
SELECT store_id, name, qr_payload FROM groups
WHERE kind = 'fallback'
  AND ($1::text[] IS NULL OR store_id IN (
      SELECT s.store_id FROM stores s
      WHERE coalesce(s.region_key, s.city_key) = ANY($1)))
ORDER BY store_id NULLS FIRST
"""

EXPORT_ENTRIES = """
SELECT code, kind, store_id, label FROM entries
WHERE $1::text[] IS NULL OR store_id IN (
      SELECT s.store_id FROM stores s
      WHERE coalesce(s.region_key, s.city_key) = ANY($1))
ORDER BY code
"""
