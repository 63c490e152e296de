"""Migrations: the version table and the lock that lets one worker apply them."""

from __future__ import annotations

from router.store.sql.locks import AdvisoryLock, xact_lock

# ---- migrations ------------------------------------------------------------------------------

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""

# Workers of one deployment start together; a transaction-scoped advisory lock makes exactly one of
# them apply pending migrations while the others wait and then find nothing left to do.
LOCK_MIGRATIONS = xact_lock(AdvisoryLock.MIGRATIONS)

APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"

RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"

# Stores whose place keys (migration 0018) are missing: rows stored before uploads wrote them.
# Keyed in Python (router.scan.catalogue.city_key, the one rule), then written back.
UNKEYED_STORES = """
SELECT store_id, city, region FROM stores
WHERE city_key IS NULL OR (region_key IS NULL AND coalesce(region, '') <> '')
"""

SET_PLACE_KEYS = "UPDATE stores SET city_key = $2, region_key = $3 WHERE store_id = $1"
