-- The brand's logos uploaded on the ops page's brand screen, re-encoded small (router.brand
-- read_logo: a PNG of at most 192 px a side), named by the SHA-256 of those bytes. The setting
-- brand_logo (ops_settings) names the one in use; every worker reads it into memory and serves
-- it at /brand/logo.png?v=<version>. The audit trail records the hash, never the bytes.
CREATE TABLE IF NOT EXISTS brand_logos (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    png         bytea NOT NULL CHECK (octet_length(png) <= 1048576),
    width       integer NOT NULL CHECK (width BETWEEN 1 AND 4096),
    height      integer NOT NULL CHECK (height BETWEEN 1 AND 4096),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT ''
);
