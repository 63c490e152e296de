"""What an upload changes, per store or group: added, changed (each field old -> new) or
unchanged, with the row's warnings. Read from the rows before and after the upsert in the same
transaction (a dry run rolls back), so it is exactly what the commit would do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from router.ops.uploads.model import RowError
from router.store import sql

_SNAPSHOT = {"stores": sql.STORES_SNAPSHOT, "groups": sql.GROUPS_SNAPSHOT}
_NOUN = {"stores": "store", "groups": "group"}


async def snapshot(
    conn: asyncpg.Connection, kind: str, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    statement = _SNAPSHOT.get(kind)
    if statement is None:
        return {}
    return {r["id"]: dict(r) for r in await conn.fetch(statement, sorted(set(ids)))}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-9
    return bool(a == b)


def diff(
    kind: str,
    rows: Sequence[tuple[int, str]],
    before: Mapping[str, Mapping[str, Any]],
    after: Mapping[str, Mapping[str, Any]],
    warnings: Sequence[RowError],
) -> list[dict[str, Any]]:
    """One entry per (row, id) in file order."""
    by_row: dict[int, list[str]] = {}
    for w in warnings:
        by_row.setdefault(w.row, []).append(w.code)
    out: list[dict[str, Any]] = []
    for n, ident in rows:
        old, new = before.get(ident), after.get(ident)
        fields: dict[str, dict[str, Any]] = {}
        if old is None:
            status = "added"
        else:
            for name, value in (new or {}).items():
                if name != "id" and not _same(old.get(name), value):
                    fields[name] = {"old": _plain(old.get(name)), "new": _plain(value)}
            status = "changed" if fields else "unchanged"
        out.append(
            {
                "kind": _NOUN.get(kind, kind),
                "id": ident,
                "row": n,
                "status": status,
                "fields": fields,
                "warnings": by_row.get(n, []),
            }
        )
    return out
