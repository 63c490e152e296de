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


def _clean(text: str) -> str:
    """PostgreSQL text holds no NUL: a file name or label carrying one is recorded with U+FFFD
    (the change itself must not fail for its record's sake)."""
    return text.replace("\x00", "\ufffd")


def _cut(text: str) -> str:
    text = _clean(text)
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def _json(details: dict[str, Any] | None) -> str:
    # orjson writes NUL as \u0000, which jsonb refuses.
    return orjson.dumps(details or {}).decode().replace("\\u0000", "\\ufffd")


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
        _clean(actor),
        kind,
        None if store_id is None else _clean(store_id),
        None if target is None else _cut(target),
        _cut(summary),
        _json(details),
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
        _clean(actor),
        kind,
        None if target is None else _cut(target),
        _json(details),
        [_clean(s) for s, _ in summaries],
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
