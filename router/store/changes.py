"""Telling every worker what changed: a few stores (patched in place), or everything (rebuilt)."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
import orjson

from router.store import sql

# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; keep clear of it.
MAX_PAYLOAD_BYTES = 7_900


def stores_payload(store_ids: Iterable[str | None], most: int, fallback: str) -> str:
    """The notification for a change to these stores: "stores:[...]" naming them, or `fallback`
    (a full rebuild) when there are more than `most`, none, a brand-wide row (no store), or the
    names do not fit one notification."""
    ids = set(store_ids)
    if not ids or None in ids or len(ids) > most:
        return fallback
    payload = sql.STORES_PREFIX + orjson.dumps(sorted(i for i in ids if i is not None)).decode()
    return payload if len(payload.encode()) < MAX_PAYLOAD_BYTES else fallback


def parse_stores_payload(payload: str) -> list[str] | None:
    """The store ids of a "stores:[...]" payload; None for any other payload (rebuild)."""
    if not payload.startswith(sql.STORES_PREFIX):
        return None
    try:
        ids = orjson.loads(payload[len(sql.STORES_PREFIX) :])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return None
    return ids


async def notify_stores(
    conn: asyncpg.Connection, store_ids: Iterable[str | None], most: int, fallback: str = "admin"
) -> None:
    """Within the change's transaction (delivered at commit): patch these stores in every
    worker, or rebuild everything past `most` stores."""
    await conn.execute(sql.NOTIFY_CATALOGUE, stores_payload(store_ids, most, fallback))
