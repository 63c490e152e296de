"""What an upload would change, read before and after its upsert in the same transaction (the
dry run's changes), and the geocoding cache shared by the dry run and the commit."""

__all__ = [
    "GEOCODE_CACHE_GET",
    "GEOCODE_CACHE_PUT",
    "GROUPS_SNAPSHOT",
    "STORES_SNAPSHOT",
]

STORES_SNAPSHOT = """
SELECT store_id AS id, name, city, address, source_lat, source_lng, source_coord,
       coalesce(coord_provider, source_coord) AS coord_provider,
       coalesce(source_area, service_area) AS service_area, active, province, district, region
FROM stores WHERE store_id = ANY($1::text[])
"""

GROUPS_SNAPSHOT = """
SELECT group_id AS id, store_id, name, qr_payload, capacity, member_count, expires_at, position,
       display_cap
FROM groups WHERE group_id = ANY($1::text[])
"""

GEOCODE_CACHE_GET = """
SELECT address_key, provider, lat, lng, level, precise
FROM geocode_cache WHERE provider = $1 AND address_key = ANY($2::text[])
"""

GEOCODE_CACHE_PUT = """
INSERT INTO geocode_cache (address_key, provider, lat, lng, level, precise)
SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::text[], $6::bool[])
ON CONFLICT (address_key, provider) DO UPDATE SET
    lat = excluded.lat, lng = excluded.lng, level = excluded.level, precise = excluded.precise,
    fetched_at = now()
"""
