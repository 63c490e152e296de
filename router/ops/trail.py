"""What each kind of ops change writes to the audit trail (router/store/audit.py), built here so
that handlers stay one call each. Summaries carry ids, counts and states: never a group code's
text (qr_payload), a token or a password."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from router.ops.uploads.model import ImportSummary
from router.ops.uploads.write import Audit
from router.store import audit

# Ids named in one store's upload summary; more are counted, not listed.
IDS_SHOWN = 20


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:IDS_SHOWN])
    return shown + (f" … (+{len(ids) - IDS_SHOWN})" if len(ids) > IDS_SHOWN else "")


def upload_audit(actor: str, kind: str, filename: str | None) -> Audit:
    """One record per store the upload touched (its store view shows it), and one for the whole
    upload with its counts."""
    name = filename or "(no file name)"

    async def write(conn: asyncpg.Connection, rows: Sequence[Any], summary: ImportSummary) -> None:
        by_store: dict[str, list[str]] = {}
        for row in rows:
            store_id = getattr(row, "store_id", None)
            if store_id is None:
                continue
            ident = getattr(row, "group_id", None) or getattr(row, "code", None) or store_id
            by_store.setdefault(store_id, []).append(ident)
        what = {"stores": "store", "groups": "group", "fallbacks": "fallback", "entries": "entry"}
        per_store = [
            (s, f"{kind} upload {name}: {len(ids)} {what.get(kind, kind)} row(s): {_ids(ids)}")
            for s, ids in by_store.items()
        ]
        counts = {
            "rows": summary.rows,
            "inserted": summary.inserted,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
        }
        await audit.record_per_store(conn, actor, f"upload.{kind}", name, per_store, counts)
        await audit.record(
            conn,
            actor,
            f"upload.{kind}",
            target=name,
            summary=(
                f"{kind} upload {name}: {summary.rows} row(s), {summary.inserted} new, "
                f"{summary.updated} updated, {summary.unchanged} unchanged, "
                f"{len(by_store)} store(s)"
            ),
            details={**counts, "stores": len(by_store)},
        )

    return write
