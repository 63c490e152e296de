"""What each kind of ops change writes to the audit trail (router/store/audit.py), built here so
that handlers stay one call each. Summaries carry ids, counts and states: never a group code's
text (qr_payload), a token or a password."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
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


def _regions(regions: Sequence[str]) -> str:
    return ", ".join(regions) if regions else "(every region)"


def _when(at: datetime | None) -> str:
    return "none" if at is None else at.isoformat()


def picture_audit(
    actor: str, action: str, picture: str | None, before: asyncpg.Record | None = None
) -> Audit:
    """A group added (action "add") or its code replaced ("replace") from a picture: what the
    group now holds, and for a replacement what it held before; never the code's text."""
    name = picture or "(no file name)"
    kind = "group.picture_add" if action == "add" else "group.code_replace"

    async def write(conn: asyncpg.Connection, rows: Sequence[Any], summary: ImportSummary) -> None:
        for row in rows:
            expires = row.expires_at or row.derived_expires_at
            new = {"name": row.name, "member_count": row.member_count, "expires_at": _when(expires)}
            if before is None:
                text = f"group {row.group_id} added from picture {name}: " + ", ".join(
                    f"{k} {v}" for k, v in new.items()
                )
                details: dict[str, Any] = {"picture": name, "new": new}
            else:
                old = {
                    "name": before["name"],
                    "member_count": before["member_count"],
                    "expires_at": _when(before["expires_at"]),
                }
                text = f"group {row.group_id} code replaced from picture {name}: " + ", ".join(
                    [f"{k} {old[k]} -> {v}" for k, v in new.items() if old[k] != v] or ["same"]
                )
                details = {"picture": name, "old": old, "new": new}
            await audit.record(
                conn,
                actor,
                kind,
                store_id=row.store_id,
                target=row.group_id,
                summary=text,
                details=details,
            )

    return write


def picture_zip_audit(actor: str, filename: str | None) -> Callable[[list[dict[str, Any]]], Audit]:
    """A ZIP of group pictures, given what each picture does: one record per store it touched
    (groups added, codes replaced) and one for the whole upload with its counts."""
    name = filename or "(no file name)"
    kind = "upload.group_pictures"

    def for_pictures(pictures: list[dict[str, Any]]) -> Audit:
        async def write(
            conn: asyncpg.Connection, rows: Sequence[Any], summary: ImportSummary
        ) -> None:
            by_store: dict[str, list[str]] = {}
            for p in pictures:
                what = "new" if p["action"] == "add" else "code replaced"
                by_store.setdefault(p["store_id"], []).append(f"{p['group_id']} ({what})")
            added = sum(p["action"] == "add" for p in pictures)
            counts = {
                "pictures": len(pictures),
                "added": added,
                "replaced": len(pictures) - added,
                "stores": len(by_store),
            }
            per_store = [
                (s, f"group pictures {name}: {len(ids)} picture(s): {_ids(ids)}")
                for s, ids in by_store.items()
            ]
            await audit.record_per_store(conn, actor, kind, name, per_store, counts)
            await audit.record(
                conn,
                actor,
                kind,
                target=name,
                summary=(
                    f"group pictures {name}: {len(pictures)} picture(s), {added} group(s) added, "
                    f"{len(pictures) - added} code(s) replaced, {len(by_store)} store(s)"
                ),
                details=counts,
            )

        return write

    return for_pictures


async def campaign_set(
    conn: asyncpg.Connection, actor: str, code: str, before: asyncpg.Record, new: str
) -> None:
    old = before["campaign"] or ""
    await audit.record(
        conn,
        actor,
        "entry.campaign",
        store_id=before["store_id"],
        target=code,
        summary=f"entry {code} campaign: {old!r} -> {new!r}",
        details={"old": old, "new": new},
    )


async def print_job_created(conn: asyncpg.Connection, actor: str, job: int, size: str) -> None:
    await audit.record(
        conn,
        actor,
        "print_job.create",
        target=str(job),
        summary=f"print job {job}: every active store's sheets, size {size}",
        details={"size": size},
    )


async def account_created(conn: asyncpg.Connection, actor: str, row: asyncpg.Record) -> None:
    """Never the password: the account's name, role and regions."""
    await audit.record(
        conn,
        actor,
        "account.create",
        target=row["username"],
        summary=(
            f"account {row['username']} created: role {row['role']}, "
            f"regions {_regions(row['regions'])}"
        ),
        details={"role": row["role"], "regions": list(row["regions"])},
    )


async def account_changed(
    conn: asyncpg.Connection,
    actor: str,
    before: asyncpg.Record,
    after: asyncpg.Record,
    *,
    password_reset: bool,
    sessions_ended: int,
) -> None:
    """One record per change of an account, its kind the weightiest part of it (disabled,
    enabled, password reset, else changed); the summary says every part, old -> new. A new
    password is said to be set, never what it is."""
    username = after["username"]
    parts: list[str] = []
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key in ("role", "regions", "disabled"):
        was, now = before[key], after[key]
        if key == "regions":
            was, now = list(was), list(now)
        if was != now:
            shown = (_regions(was), _regions(now)) if key == "regions" else (was, now)
            parts.append(f"{key} {shown[0]} -> {shown[1]}")
            old[key], new[key] = was, now
    if password_reset:
        parts.append("password reset")
    if sessions_ended:
        parts.append(f"{sessions_ended} session(s) ended")
    if new.get("disabled") is True:
        kind = "account.disable"
    elif new.get("disabled") is False:
        kind = "account.enable"
    elif password_reset:
        kind = "account.reset"
    else:
        kind = "account.change"
    await audit.record(
        conn,
        actor,
        kind,
        target=username,
        summary=f"account {username}: " + (", ".join(parts) or "no change"),
        details={
            "old": old,
            "new": new,
            "password_reset": password_reset,
            "sessions_ended": sessions_ended,
        },
    )


async def token_created(conn: asyncpg.Connection, actor: str, row: asyncpg.Record) -> None:
    """Never the token: its name, role and regions."""
    await audit.record(
        conn,
        actor,
        "token.create",
        target=row["name"],
        summary=(
            f"API token {row['name']} created: role {row['role']}, "
            f"regions {_regions(row['regions'])}"
        ),
        details={"role": row["role"], "regions": list(row["regions"])},
    )


async def token_deleted(
    conn: asyncpg.Connection, actor: str, name: str, before: asyncpg.Record
) -> None:
    await audit.record(
        conn,
        actor,
        "token.delete",
        target=name,
        summary=(
            f"API token {name} deleted (role {before['role']}, "
            f"regions {_regions(before['regions'])})"
        ),
        details={"role": before["role"], "regions": list(before["regions"])},
    )
