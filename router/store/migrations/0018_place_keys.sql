-- A store's city and region as one key per spelling (router.scan.catalogue.city_key: 成都 and
-- 成都市 are one city), written by every upload; rows stored before are keyed when the
-- migrations run (router.store.db.refresh_place_keys). Every comparison of a store's place with
-- a city or a region asked for (an account's regions, the health and funnel filters, store links
-- by region) compares these keys, never the spelling a file happened to use.
ALTER TABLE stores ADD COLUMN IF NOT EXISTS city_key text;
ALTER TABLE stores ADD COLUMN IF NOT EXISTS region_key text;
CREATE INDEX IF NOT EXISTS stores_place_key ON stores ((coalesce(region_key, city_key)));
