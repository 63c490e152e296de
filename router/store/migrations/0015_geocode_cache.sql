-- Geocodes of store addresses (issue 16): the dry run asks the provider, the commit reuses the
-- answer, so the key's daily quota is spent once per address. GCJ-02, with the provider's match
-- level and whether it is precise enough to place a store (a street number or a point of interest).
CREATE TABLE IF NOT EXISTS geocode_cache (
    address_key  text NOT NULL,
    provider     text NOT NULL,
    lat          double precision NOT NULL,
    lng          double precision NOT NULL,
    level        text NOT NULL,
    precise      boolean NOT NULL,
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (address_key, provider)
);
