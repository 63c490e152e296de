"""Writing an upload: staging tables and upserts in one transaction, then NOTIFY; a dry run
rolls back. Also the two entry points, `import_file` and `import_table`."""

from __future__ import annotations

import asyncio
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from geo.providers import Provider
from router.errors import BadInput
from router.ops.uploads.model import (
    ANALYZE_ROWS,
    KINDS,
    PERSONAL_GROUP_CODE,
    WECHAT_SCAN_JOIN_LIMIT,
    ImportRejected,
    ImportSummary,
    RowError,
    Table,
    file_error,
)
from router.ops.uploads.read import preview, read_table
from router.ops.uploads.rows import (
    EntryRow,
    FallbackRow,
    GroupRow,
    StoreRow,
    over_scan_join_limit_parts,
    validate_entries,
    validate_fallbacks,
    validate_groups,
    validate_stores,
)
from router.store import sql
from router.store.changes import notify_stores

# Records an upload in the audit trail, inside its transaction: (connection, the validated rows,
# the summary with its counts).
Audit = Callable[[asyncpg.Connection, Sequence[Any], ImportSummary], Awaitable[None]]


async def _stage(
    conn: asyncpg.Connection, create_staging: str, table: str, rows: Sequence[Any]
) -> None:
    """Uploads one at a time (under the imports lock), then the rows into a staging table."""
    await conn.execute(sql.LOCK_IMPORTS)
    await conn.execute(create_staging)
    await conn.copy_records_to_table(table, records=[r.record() for r in rows])


def _count(rows: Iterable[asyncpg.Record], summary: ImportSummary, total: int) -> None:
    changed = 0
    for r in rows:
        changed += 1
        if r["inserted"]:
            summary.inserted += 1
        else:
            summary.updated += 1
    summary.unchanged = total - changed


async def write_stores(
    conn: asyncpg.Connection, rows: Sequence[StoreRow], summary: ImportSummary
) -> None:
    await _stage(conn, sql.CREATE_STORE_STAGING, "import_stores", rows)
    changed = [*await conn.fetch(sql.UPDATE_STORES), *await conn.fetch(sql.INSERT_STORES)]
    _count(changed, summary, len(rows))


async def _reject_unknown_stores(conn: asyncpg.Connection, store_ids: Sequence[str]) -> None:
    """Rows naming stores that do not exist (row numbers are put on by `_row_numbers`)."""
    unknown = {
        rec["store_id"] for rec in await conn.fetch(sql.UNKNOWN_STORE_IDS, sorted(set(store_ids)))
    }
    if unknown:
        raise ImportRejected(
            [
                RowError(
                    0,
                    "store_id",
                    sid,
                    "no such store; import the stores first",
                    "unknown_store",
                    "没有这个门店，请先上传门店",
                )
                for sid in store_ids
                if sid in unknown
            ]
        )


async def write_entries(
    conn: asyncpg.Connection, rows: Sequence[EntryRow], summary: ImportSummary
) -> None:
    await _reject_unknown_stores(conn, [r.store_id for r in rows if r.store_id is not None])
    await _stage(conn, sql.CREATE_ENTRY_STAGING, "import_entries", rows)
    changed = [*await conn.fetch(sql.UPDATE_ENTRIES), *await conn.fetch(sql.INSERT_ENTRIES)]
    _count(changed, summary, len(rows))


async def write_groups(
    conn: asyncpg.Connection, rows: Sequence[GroupRow], summary: ImportSummary
) -> None:
    await _reject_unknown_stores(conn, [r.store_id for r in rows])
    await _stage(conn, sql.CREATE_GROUP_STAGING, "import_groups", rows)
    managed = await conn.fetch(sql.MANAGED_GROUP_ROWS)
    if managed:
        raise ImportRejected(
            [
                RowError(
                    rec["row_no"],
                    "group_id",
                    rec["group_id"],
                    "is the store's WeCom join-way group, kept by Huoma itself: it cannot be "
                    "uploaded",
                    "managed_group",
                    "是门店的企业微信活码群，由活码自动维护，不能上传",
                )
                for rec in managed
            ]
        )
    await conn.execute(sql.PLACE_NEW_GROUPS)
    changed = [
        *await conn.fetch(sql.UPDATE_GROUPS),
        *await conn.fetch(sql.INSERT_GROUPS, WECHAT_SCAN_JOIN_LIMIT),
    ]
    # A row without capacity keeps the stored one, which may be too large for the personal code
    # the group has now: refused like a capacity written in the file (rolled back with the rest).
    over = [
        RowError(
            rec["row_no"],
            "capacity",
            str(rec["capacity"]),
            over_scan_join_limit_parts(rec["capacity"])[1],
            "over_scan_join_limit",
            over_scan_join_limit_parts(rec["capacity"])[0],
        )
        for rec in await conn.fetch(sql.GROUPS_OVER_CAPACITY, WECHAT_SCAN_JOIN_LIMIT)
        if PERSONAL_GROUP_CODE.match(rec["qr_payload"])
    ]
    if over:
        raise ImportRejected(over)
    _count(changed, summary, len(rows))


async def write_fallbacks(
    conn: asyncpg.Connection, rows: Sequence[FallbackRow], summary: ImportSummary
) -> None:
    await _reject_unknown_stores(conn, [r.store_id for r in rows if r.store_id is not None])
    await _stage(conn, sql.CREATE_FALLBACK_STAGING, "import_fallbacks", rows)
    _count(await conn.fetch(sql.UPSERT_FALLBACKS), summary, len(rows))


# Uploads whose rows each belong to one store (a fallback without one is brand-wide: rebuild).
STORE_PATCH_KINDS = ("stores", "groups", "fallbacks")


class _Rollback(Exception):
    pass


OUTSIDE = "不在你的账号可管理的地区内 / outside the regions your account may change"
UNKNOWN_STORE = "no such store; import the stores first"


async def _check_regions(
    conn: asyncpg.Connection, kind: str, rows: Sequence[Any], regions: list[str], after: bool
) -> None:
    """An account limited to regions changes only their stores and what belongs to them: a row
    naming a store of another region is refused like an unknown store (groups, fallbacks,
    entries), a store row is refused if the store is (before) or would be (after) elsewhere."""
    errors: list[RowError] = []
    if kind == "stores" or not after:
        ids = sorted({r.store_id for r in rows if r.store_id is not None})
        outside = {rec["store_id"] for rec in await conn.fetch(sql.STORES_OUTSIDE, ids, regions)}
        message = OUTSIDE if kind == "stores" else UNKNOWN_STORE
        errors += [RowError(0, "store_id", sid, message) for sid in ids if sid in outside]
    if after:
        if errors:
            raise ImportRejected(errors)
        return
    # The brand-wide fallback, and entry codes of no store, belong to no region.
    if kind in ("fallbacks", "entries") and any(r.store_id is None for r in rows):
        errors.append(RowError(0, "store_id", "", OUTSIDE))
    if kind == "groups":
        ids = [r.group_id for r in rows]
        taken = {rec["group_id"] for rec in await conn.fetch(sql.GROUPS_OUTSIDE, ids, regions)}
        errors += [
            RowError(r.row, "group_id", r.group_id, OUTSIDE) for r in rows if r.group_id in taken
        ]
    if kind == "entries":
        ids = [r.code for r in rows]
        taken = {rec["code"] for rec in await conn.fetch(sql.ENTRIES_OUTSIDE, ids, regions)}
        errors += [RowError(0, "code", code, OUTSIDE) for code in ids if code in taken]
    if errors:
        raise ImportRejected(errors)


async def import_rows(
    pool: asyncpg.Pool,
    kind: str,
    validated: Sequence[StoreRow] | Sequence[GroupRow] | Sequence[FallbackRow] | Sequence[EntryRow],
    summary: ImportSummary,
    writer: Callable[[asyncpg.Connection, Any, ImportSummary], Any],
    audit: Audit | None = None,
    patch_max_stores: int = 0,
    regions: list[str] | None = None,
) -> ImportSummary:
    """Write the rows in one transaction; at commit, workers patch the stores the rows name (up
    to `patch_max_stores` of them; entries and brand-wide rows rebuild everything)."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                if regions is not None:
                    await _check_regions(conn, kind, validated, regions, after=False)
                await writer(conn, validated, summary)
                if regions is not None:
                    await _check_regions(conn, kind, validated, regions, after=True)
                if audit is not None and not summary.dry_run:
                    await audit(conn, validated, summary)  # committed with the rows, or neither
                if summary.dry_run:
                    # A dry run does the real work and rolls it back: its counts are exact.
                    raise _Rollback
                touched = (
                    [r.store_id for r in validated]
                    if kind in STORE_PATCH_KINDS
                    else [None]  # entries: rebuild
                )
                await notify_stores(conn, touched, patch_max_stores, fallback=kind)
        except _Rollback:
            return summary
        if summary.inserted + summary.updated >= ANALYZE_ROWS:
            await conn.execute(sql.ANALYZE_AFTER_IMPORT[kind])
    return summary


def _row_numbers(errors: list[RowError], table: Table) -> list[RowError]:
    """Unknown-store errors come back without row numbers; put the file's rows on them."""
    by_store: dict[str, list[int]] = {}
    for n, values in table.rows:
        by_store.setdefault(values.get("store_id", "").strip(), []).append(n)
    out: list[RowError] = []
    seen: set[str] = set()
    for e in errors:
        if e.row == 0 and e.column == "store_id" and e.value not in seen:
            seen.add(e.value)
            out.extend(
                RowError(n, e.column, e.value, e.message, e.code, e.zh)
                for n in by_store.get(e.value, [])
            )
        elif e.row != 0 or e.column != "store_id":
            out.append(e)
    return out


async def import_file(
    pool: asyncpg.Pool,
    kind: str,
    data: bytes,
    filename: str | None,
    *,
    timezone: str,
    max_bytes: int,
    max_rows: int,
    dry_run: bool = False,
    wechat_lifetime: timedelta = timedelta(days=7),
    encoding: str | None = None,
    coord: Provider | None = None,
    audit: Audit | None = None,
    patch_max_stores: int = 0,
    regions: list[str] | None = None,
) -> ImportSummary:
    """Read, validate and (unless dry_run) write one upload. Raises ImportRejected on any error.

    `encoding` (one of ENCODINGS; None detects it) is how a CSV or JSON file is decoded; the
    summary names the one used and shows the first rows as read. `coord` is the coordinate
    source the upload names for a whole store file (a row's own coord cell wins)."""
    if kind not in KINDS:
        raise BadInput(f"unknown import kind {kind!r}; use {', '.join(KINDS)}", code="bad_kind")
    # Decoding and parsing a 20 MB file takes seconds: off the event loop, scans keep moving.
    table = await asyncio.to_thread(read_table, data, filename, kind, max_bytes, max_rows, encoding)
    summary = await import_table(
        pool,
        kind,
        table,
        timezone=timezone,
        dry_run=dry_run,
        wechat_lifetime=wechat_lifetime,
        coord=coord,
        audit=audit,
        patch_max_stores=patch_max_stores,
        regions=regions,
    )
    summary.format, summary.encoding, summary.preview = table.format, table.encoding, preview(table)
    summary.mapping = table.mapping.as_dict(kind) if table.mapping is not None else None
    return summary


async def import_table(
    pool: asyncpg.Pool,
    kind: str,
    table: Table,
    *,
    timezone: str,
    dry_run: bool = False,
    wechat_lifetime: timedelta = timedelta(days=7),
    coord: Provider | None = None,
    audit: Audit | None = None,
    patch_max_stores: int = 0,
    regions: list[str] | None = None,
) -> ImportSummary:
    """Validate and write rows already read into a table (files, the demo generator). `audit`
    records the change inside the upload's transaction (not for a dry run); with `regions`, only
    rows of stores in those regions (an account limited to them)."""
    if not table.rows:
        raise file_error(
            "the file has a header but no rows", zh="文件只有表头，没有数据行", kind="no_rows"
        )
    validated: Sequence[StoreRow] | Sequence[GroupRow] | Sequence[FallbackRow] | Sequence[EntryRow]
    writer: Callable[[asyncpg.Connection, Any, ImportSummary], Any]
    if kind == "stores":
        validated, errors, ignored = validate_stores(table, coord)
        writer = write_stores
    elif kind == "fallbacks":
        validated, errors, ignored = validate_fallbacks(table)
        writer = write_fallbacks
    elif kind == "entries":
        validated, errors, ignored = validate_entries(table)
        writer = write_entries
    else:
        validated, errors, ignored = validate_groups(
            table, zoneinfo.ZoneInfo(timezone), wechat_lifetime=wechat_lifetime
        )
        writer = write_groups
    if errors:
        raise ImportRejected(errors)
    summary = ImportSummary(kind, len(validated), dry_run=dry_run, ignored_columns=ignored)
    try:
        return await import_rows(
            pool, kind, validated, summary, writer, audit, patch_max_stores, regions
        )
    except ImportRejected as exc:
        raise ImportRejected(_row_numbers(exc.errors, table)) from None
