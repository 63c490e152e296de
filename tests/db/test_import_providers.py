"""Stores uploaded before providers were kept (migration 0007): their plain code is their
provider, so re-uploading the same file changes nothing."""

from __future__ import annotations

import asyncpg
import pytest

from router.ops.uploads import import_file

pytestmark = pytest.mark.db

LIMITS = {"timezone": "Asia/Shanghai", "max_bytes": 1_000_000, "max_rows": 1000}
FILE = b"store_id,name,city,address,lat,lng,coord\nS1,a,b,c,31.2304,121.4737,gcj02\n"


async def test_a_store_from_before_providers_re_uploaded_as_it_was_is_unchanged(
    pool: asyncpg.Pool,
) -> None:
    await import_file(pool, "stores", FILE, "s.csv", **LIMITS)
    await pool.execute("UPDATE stores SET coord_provider = NULL")  # as migration 0007 leaves it
    summary = await import_file(pool, "stores", FILE, "s.csv", **LIMITS)
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 0, 1)
    # Named by its provider it is a change: the provider decides where its shift applies.
    amap = FILE.replace(b",gcj02", ",高德".encode())
    summary = await import_file(pool, "stores", amap, "s.csv", **LIMITS)
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 0)
    assert await pool.fetchval("SELECT coord_provider FROM stores") == "amap"
