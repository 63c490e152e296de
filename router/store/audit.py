"""The audit trail: who changed what, when. Callers record inside the transaction of the change
itself, so a change and its record commit (or roll back) together.

A summary is what ops read ("member_count: 120 -> 200"). It must never hold a password, a token
or a group code's text: callers pass ids, counts, names and settings shown masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from router.store import sql

# Where a summary would grow without bound (a long list of ids), it is cut here.
MAX_SUMMARY = 500


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


async def record(
    conn: asyncpg.Connection,
    actor: str,
    kind: str,
    *,
    store_id: str | None = None,
    target: str | None = None,
    summary: str,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        sql.INSERT_AUDIT,
        actor,
        kind,
        store_id,
        target,
        _cut(summary),
        orjson.dumps(details or {}).decode(),
    )


async def record_per_store(
    conn: asyncpg.Connection,
    actor: str,
    kind: str,
    target: str | None,
    summaries: Sequence[tuple[str, str]],
    details: dict[str, Any] | None = None,
) -> None:
    """One row per (store_id, summary), in one statement."""
    if not summaries:
        return
    await conn.execute(
        sql.INSERT_AUDIT_PER_STORE,
        actor,
        kind,
        target,
        orjson.dumps(details or {}).decode(),
        [s for s, _ in summaries],
        [_cut(t) for _, t in summaries],
    )


async def prune(conn: asyncpg.Connection, days: int, batch: int, batches: int) -> int:
    """Delete records older than `days`, `batch` rows per statement, at most `batches`
    statements per call (the rest waits for the next keeper pass). Returns how many went."""
    total = 0
    for _ in range(batches):
        status = await conn.execute(sql.PRUNE_AUDIT, days, batch)
        n = int(status.split()[-1])
        total += n
        if n < batch:
            break
    return total
