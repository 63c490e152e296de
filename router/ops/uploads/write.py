"""Writing an upload: staging tables and upserts in one transaction, then NOTIFY; a dry run
rolls back. Also the two entry points, `import_file` and `import_table`."""

from __future__ import annotations

import asyncio
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import asyncpg

from geo.providers import Provider
from router.errors import BadInput
from router.ops.uploads import confirm as confirming
from router.ops.uploads.changes import diff, snapshot
from router.ops.uploads.checks import (
    Checks,
    address_key,
    check_stores,
    collapse_swapped_columns,
    example_rows,
    template_warnings,
)
from router.ops.uploads.confirm import Confirm, fingerprint
from router.ops.uploads.headers import COORDINATES, header_of
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


async def geocode_table(pool: asyncpg.Pool, table: Table, checks: Checks) -> None:
    """Geocode the file's addresses (cached): a row without coordinates is placed at its
    address's geocode (GCJ-02, coord set to the provider), a rough one (city or district level)
    comes back as a warning; precise geocodes judge the other rows' coordinate system."""
    geocoder = checks.geocoder
    assert geocoder is not None  # the caller checked
    wanted: dict[str, tuple[str, str]] = {}
    sampled = 0  # rows with coordinates: a sample checks their label, within the quota
    for _, values in table.rows:
        city, address = values.get("city", "").strip(), values.get("address", "").strip()
        if not (city and address):
            continue
        if any(values.get(c, "").strip() for c in ("lat", "lng", COORDINATES)):
            if sampled >= checks.geocode_check_rows:
                continue
            sampled += 1
        wanted[address_key(city, address)] = (city, address)
    found = await geocoder.many(pool, [(k, c, a) for k, (c, a) in wanted.items()])
    checks.geocodes = {k: g.located() for k, g in found.items() if g.precise}
    for n, values in table.rows:
        blank = not any(values.get(c, "").strip() for c in ("lat", "lng", COORDINATES))
        if not blank:
            continue
        city, address = values.get("city", "").strip(), values.get("address", "").strip()
        g = found.get(address_key(city, address)) if city and address else None
        if g is None:
            continue  # left blank: validation says the coordinates are required
        values["lat"], values["lng"], values["coord"] = f"{g.lat:.6f}", f"{g.lng:.6f}", g.provider
        values.pop(COORDINATES, None)
        if not g.precise:
            checks.found.append(
                RowError(
                    n,
                    "address",
                    address[:200],
                    f"placed by geocoding only roughly ({g.provider} level {g.level}): check the "
                    "point or give the full address or coordinates",
                    "geocoded_roughly",
                    f"地址只定位到「{g.level}」级别（{g.provider}），坐标可能不准：请核对，"
                    "或填写完整地址或坐标",
                )
            )


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


@dataclass(slots=True)
class Review:
    """An upload's review: the warnings found before writing, the rows (number, id) the file
    gives in order, the template's example rows, and how a commit is confirmed."""

    warnings: list[RowError]
    rows: list[tuple[int, str]]
    examples: list[tuple[int, str]]
    confirm: Confirm | None
    file: str  # the file's fingerprint (confirm.fingerprint)


async def _reviewed(
    conn: asyncpg.Connection,
    kind: str,
    validated: Sequence[Any],
    summary: ImportSummary,
    writer: Callable[[asyncpg.Connection, Any, ImportSummary], Any],
    review: Review,
) -> None:
    """The write between two snapshots of the rows it touches: what changed, the warnings that
    need the database (an example row over a real store), then the token: issued by a dry run,
    checked by a commit (which rolls back without it)."""
    await conn.execute(sql.LOCK_IMPORTS)
    ids = [i for _, i in review.rows]
    before = await snapshot(conn, kind, ids)
    await writer(conn, validated, summary)
    after = await snapshot(conn, kind, ids)
    warnings = [*review.warnings, *template_warnings(review.examples, set(before))]
    changes = diff(kind, review.rows, before, after, warnings)
    # Only what the upload changes is questioned: a row already stored as it is (an export
    # uploaded again) was accepted before.
    unchanged = {c["row"] for c in changes if c["status"] == "unchanged"}
    if len(unchanged) < len(changes) or not changes:
        warnings = [w for w in warnings if w.row not in unchanged]
    else:
        warnings = []
    summary.warnings = warnings
    summary.changes = diff(kind, review.rows, before, after, warnings)
    if summary.dry_run:
        if warnings and review.confirm is not None:
            summary.confirm_token = confirming.issue(review.confirm, review.file, warnings)
    else:
        confirming.check(review.confirm, review.file, warnings)


async def import_rows(
    pool: asyncpg.Pool,
    kind: str,
    validated: Sequence[StoreRow] | Sequence[GroupRow] | Sequence[FallbackRow] | Sequence[EntryRow],
    summary: ImportSummary,
    writer: Callable[[asyncpg.Connection, Any, ImportSummary], Any],
    audit: Audit | None = None,
    patch_max_stores: int = 0,
    regions: list[str] | None = None,
    review: Review | None = None,
) -> ImportSummary:
    """Write the rows in one transaction; at commit, workers patch the stores the rows name (up
    to `patch_max_stores` of them; entries and brand-wide rows rebuild everything)."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                if regions is not None:
                    await _check_regions(conn, kind, validated, regions, after=False)
                if review is not None:
                    await _reviewed(conn, kind, validated, summary, writer, review)
                else:
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


def _as_written(errors: Sequence[RowError], table: Table) -> list[RowError]:
    """Each problem names its column as ops wrote it (纬度, not `lat`), the field kept beside."""
    out = []
    for e in errors:
        header = header_of(table.mapping, e.column)
        out.append(e if header == e.column else replace(e, column=header, field=e.column))
    return out


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
    checks: Checks | None = None,
    confirm: Confirm | None = None,
) -> ImportSummary:
    """Read, validate and (unless dry_run) write one upload. Raises ImportRejected on any error,
    ConfirmationError on a commit whose warnings `confirm` does not accept (see confirm.py).

    `encoding` (one of ENCODINGS; None detects it) is how a CSV or JSON file is decoded; the
    summary names the one used and shows the first rows as read. `coord` is the coordinate
    source the upload names for a whole store file (a row's own coord cell wins)."""
    if kind not in KINDS:
        raise BadInput(f"unknown import kind {kind!r}; use {', '.join(KINDS)}", code="bad_kind")
    # Decoding and parsing a 20 MB file takes seconds: off the event loop, scans keep moving.
    table = await asyncio.to_thread(read_table, data, filename, kind, max_bytes, max_rows, encoding)
    if kind == "stores" and checks is not None and checks.geocoder is not None:
        await geocode_table(pool, table, checks)
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
        checks=checks,
        confirm=confirm,
        file=fingerprint(data, kind, [filename, encoding, coord.value if coord else None]),
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
    checks: Checks | None = None,
    confirm: Confirm | None = None,
    file: str = "",
) -> ImportSummary:
    """Validate and write rows already read into a table (files, the demo generator). `audit`
    records the change inside the upload's transaction (not for a dry run); with `regions`, only
    rows of stores in those regions (an account limited to them). With `checks`, the rows are
    reviewed (warnings, changes) and a commit with warnings needs `confirm`'s token."""
    if not table.rows:
        raise file_error(
            "the file has a header but no rows", zh="文件只有表头，没有数据行", kind="no_rows"
        )
    validated: Sequence[StoreRow] | Sequence[GroupRow] | Sequence[FallbackRow] | Sequence[EntryRow]
    writer: Callable[[asyncpg.Connection, Any, ImportSummary], Any]
    if kind == "stores":
        radius = {"city_radius_m": checks.limits.city_radius_m} if checks is not None else {}
        validated, errors, ignored = validate_stores(table, coord, **radius)
        writer = write_stores
        errors = collapse_swapped_columns(errors, len(table.rows))
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
        raise ImportRejected(_as_written(errors, table))
    summary = ImportSummary(kind, len(validated), dry_run=dry_run, ignored_columns=ignored)
    review = None
    if checks is not None:
        numbers = [n for n, _ in table.rows]  # no errors: one validated row per file row
        warnings: list[RowError] = []
        rows: list[tuple[int, str]]
        if kind == "stores":
            stores = [r for r in validated if isinstance(r, StoreRow)]
            warnings = [*checks.found, *check_stores(stores, numbers, checks)]
            rows = [(n, r.store_id) for n, r in zip(numbers, stores, strict=True)]
        elif kind == "groups":
            rows = [(r.row, r.group_id) for r in validated if isinstance(r, GroupRow)]
        else:
            rows = []
        examples = example_rows(table, kind, checks.examples.get(kind, {}))
        review = Review(_as_written(warnings, table), rows, examples, confirm, file)
    try:
        return await import_rows(
            pool,
            kind,
            validated,
            summary,
            writer,
            audit,
            patch_max_stores,
            regions=regions,
            review=review,
        )
    except ImportRejected as exc:
        raise ImportRejected(_as_written(_row_numbers(exc.errors, table), table)) from None
