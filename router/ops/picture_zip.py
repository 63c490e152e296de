"""Group codes from a ZIP of pictures: the weekly refresh of many stores in one upload.

A picture named by a group id (`G123.png`) replaces that group's code; one named by a store id
(`S001.jpg`) adds a group to that store (a group id wins when a name is both). Or the ZIP carries
one sheet (CSV, XLSX or JSON) with a `picture` column and `group_id` and/or `store_id`, and
optionally name, member_count, expires_at, qr_created_at: a row with an existing group id
replaces its code, one with a new group id and a store id adds that group, one with a store id
only adds a group with a fresh id. Every picture is decoded and checked, every problem reported
(row, picture, message), and the groups are written all or nothing through the group upload, as
a sheet would be; a dry run writes nothing.

The ZIP is bounded in size, entries and the bytes it unpacks to (a zip bomb is refused before it
is unpacked: each entry is read only up to what is left of the budget)."""

from __future__ import annotations

import asyncio
import io
import posixpath
import zipfile
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from router.errors import HuomaError, size_text
from router.ops.ocr import OcrService
from router.ops.pictures import (
    Decoded,
    group_row,
    new_group_id,
    read_picture,
    shown_group,
    typed_from_text,
    write_rows,
)
from router.ops.uploads import ImportRejected, read_table
from router.ops.uploads.model import ImportSummary, RowError, file_error
from router.ops.uploads.write import Audit
from router.settings import Settings
from router.store import sql
from router.store.db import Operation

# What the upload asks of the database, for its 503 and log line (the API and the CLI).
ZIP_OPERATION = Operation("群码图片批量上传", "upload of group pictures")

NO_STORE = "没有这个门店 / no such store; import the stores first"

PICTURE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
SHEET_EXTENSIONS = (".csv", ".xlsx", ".json")
SHEET_COLUMNS: tuple[str, ...] = ("picture", "group_id", "store_id", "name", "member_count")
SHEET_COLUMNS += ("expires_at", "qr_created_at")


@dataclass(slots=True)
class ZipResult:
    summary: ImportSummary
    pictures: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {k: v for k, v in self.summary.as_dict().items() if k != "preview"}

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts(), "pictures": self.pictures}


@dataclass(slots=True)
class _Job:
    row: int
    picture: str  # the entry's name in the ZIP
    group_id: str | None
    store_id: str | None
    values: dict[str, str]


def _unzip(data: bytes, settings: Settings) -> dict[str, bytes]:
    """The ZIP's files by name (folders, macOS resource forks and hidden files left out),
    refused whole when it is not a ZIP or past its bounds."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise file_error("不是 ZIP 文件 / this is not a ZIP file", code="bad_zip") from None
    with archive:
        infos = [
            i
            for i in archive.infolist()
            if not i.is_dir()
            and not i.filename.startswith("__MACOSX/")
            and not posixpath.basename(i.filename).startswith(".")
        ]
        if len(infos) > settings.picture_zip_max_entries:
            raise file_error(
                f"ZIP 里有 {len(infos)} 个文件，上限是 {settings.picture_zip_max_entries}"
                f"（HUOMA_PICTURE_ZIP_MAX_ENTRIES） / the ZIP holds {len(infos)} files; the "
                f"limit is {settings.picture_zip_max_entries} (HUOMA_PICTURE_ZIP_MAX_ENTRIES)",
                code="zip_too_large",
            )
        budget = settings.picture_zip_max_unzipped
        too_big = file_error(
            f"ZIP 解压后超过 {size_text(budget)}（HUOMA_PICTURE_ZIP_MAX_UNZIPPED） / the ZIP "
            f"unpacks to more than {size_text(budget)} (HUOMA_PICTURE_ZIP_MAX_UNZIPPED)",
            code="zip_too_large",
        )
        if sum(i.file_size for i in infos) > budget:
            raise too_big
        files: dict[str, bytes] = {}
        for info in infos:
            try:
                with archive.open(info) as f:
                    # The declared size may lie: read no more than what is left, plus one byte.
                    body = f.read(budget + 1)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
                raise file_error(
                    f"ZIP 里的 {info.filename} 无法解压 / {info.filename} in the ZIP cannot be "
                    f"unpacked ({type(exc).__name__})",
                    code="bad_zip",
                ) from None
            budget -= len(body)
            if budget < 0:
                raise too_big
            files[info.filename] = body
    return files


def _stem(name: str) -> str:
    return posixpath.splitext(posixpath.basename(name))[0].strip()


async def _jobs(
    pool: asyncpg.Pool, files: dict[str, bytes], settings: Settings, regions: list[str] | None
) -> tuple[list[_Job], list[RowError]]:
    pictures = sorted(n for n in files if n.lower().endswith(PICTURE_EXTENSIONS))
    sheets = sorted(n for n in files if n.lower().endswith(SHEET_EXTENSIONS))
    others = sorted(set(files) - set(pictures) - set(sheets))
    errors = [
        RowError(
            0,
            "picture",
            n,
            "不是 PNG、JPEG 或 WebP 图片，也不是表格 / neither a PNG, "
            "JPEG or WebP picture nor a sheet",
        )
        for n in others
    ]
    if len(sheets) > 1:
        raise file_error(
            f"ZIP 里只能有一个表格，现在有 {len(sheets)} 个 / the ZIP may hold one sheet, it "
            f"holds {len(sheets)}: {', '.join(sheets[:5])}"
        )
    jobs: list[_Job] = []
    if sheets:
        table = await asyncio.to_thread(
            read_table,
            files[sheets[0]],
            sheets[0],
            "groups",
            settings.import_max_bytes,
            settings.import_max_rows,
        )
        if "picture" not in table.columns:
            raise file_error(
                "表格缺少 picture 列（图片文件名） / the sheet has no picture column (the "
                "picture's file name)"
            )
        by_name = {posixpath.basename(n): n for n in pictures} | {n: n for n in pictures}
        for n, values in table.rows:
            name = values.get("picture", "").strip()
            entry = by_name.get(name)
            group_id = values.get("group_id", "").strip() or None
            store_id = values.get("store_id", "").strip() or None
            if entry is None:
                errors.append(
                    RowError(n, "picture", name, "ZIP 里没有这张图片 / no such picture in the ZIP")
                )
            elif group_id is None and store_id is None:
                errors.append(
                    RowError(
                        n,
                        "group_id",
                        "",
                        "请填写 group_id 或 store_id / give a group_id or a store_id",
                    )
                )
            else:
                jobs.append(_Job(n, entry, group_id, store_id, values))
        return jobs, errors
    stems = [_stem(n) for n in pictures]
    groups = {r["group_id"] for r in await pool.fetch(sql.GROUPS_FOR_PICTURES, stems, regions)}
    stores = {r["store_id"] for r in await pool.fetch(sql.STORES_BY_IDS, stems, regions)}
    for i, (entry, stem) in enumerate(zip(pictures, stems, strict=True), start=1):
        if stem in groups:
            jobs.append(_Job(i, entry, stem, None, {}))
        elif stem in stores:
            jobs.append(_Job(i, entry, None, stem, {}))
        else:
            errors.append(
                RowError(
                    i,
                    "picture",
                    entry,
                    "文件名既不是群 id 也不是门店 id / the file name is "
                    "neither a group id nor a store id",
                )
            )
    return jobs, errors


async def import_picture_zip(
    pool: asyncpg.Pool,
    settings: Settings,
    ocr: OcrService | None,
    data: bytes,
    *,
    dry_run: bool = False,
    use_ocr: bool = True,
    now: datetime | None = None,
    regions: list[str] | None = None,
    audit: Callable[[list[dict[str, Any]]], Audit] | None = None,
) -> ZipResult:
    """Read, check and (unless dry_run) write a ZIP of group pictures. Raises ImportRejected
    with every problem found; nothing is written then. `use_ocr` False reads no card text
    (faster: a picture takes a fraction of a second to read, a few on a busy machine).

    `regions`: an account limited to them names only their stores and groups (any other is
    answered as if it did not exist). `audit`, given what each picture does, makes the record
    written inside the upload's transaction."""
    if len(data) > settings.picture_zip_max_bytes:
        raise file_error(
            f"ZIP 太大：上限是 {size_text(settings.picture_zip_max_bytes)}"
            "（HUOMA_PICTURE_ZIP_MAX_BYTES） / the ZIP is larger than "
            f"{size_text(settings.picture_zip_max_bytes)} (HUOMA_PICTURE_ZIP_MAX_BYTES)",
            code="zip_too_large",
        )
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    files = await asyncio.to_thread(_unzip, data, settings)
    if not files:
        raise file_error("ZIP 里没有图片 / the ZIP holds no pictures")
    jobs, errors = await _jobs(pool, files, settings, regions)
    tz = zoneinfo.ZoneInfo(settings.timezone)
    named = [j.group_id for j in jobs if j.group_id is not None]
    stored = {r["group_id"]: r for r in await pool.fetch(sql.GROUPS_FOR_PICTURES, named, regions)}
    store_names = {
        r["store_id"]: r["name"]
        for r in await pool.fetch(
            sql.STORES_BY_IDS, [j.store_id for j in jobs if j.store_id is not None], regions
        )
    }
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    pictures: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for job in jobs:
        typed, problems = typed_from_text(job.values, tz, now)
        for column, value, message in problems:
            errors.append(RowError(job.row, column, value, message))
        if problems:
            continue
        old = stored.get(job.group_id or "")
        if old is not None and (old["kind"] != "group" or old["source"] == "wecom"):
            errors.append(
                RowError(
                    job.row,
                    "group_id",
                    job.group_id or "",
                    "这个群的码不能从图片更换（兜底码"
                    "或企业微信活码群） / this group's code cannot come from a picture (a "
                    "fallback or a WeCom join-way group)",
                )
            )
            continue
        store_id = old["store_id"] if old is not None else job.store_id
        if store_id is None:
            errors.append(
                RowError(
                    job.row,
                    "group_id",
                    job.group_id or "",
                    "没有这个群，新群请填 store_id / "
                    "no such group; give a store_id for a new group",
                )
            )
            continue
        if old is None and store_id not in store_names:
            # Before any reading: an unknown store (or one of another region) takes no group.
            errors.append(RowError(job.row, "store_id", store_id, NO_STORE))
            continue
        group_id = job.group_id or new_group_id(store_id, now)

        async def vet(decoded: Decoded, row: int = job.row, group_id: str = group_id) -> None:
            # Before any OCR: a picture refused here costs no reading.
            payload = decoded.payload
            if payload in seen:
                first = seen[payload]
                raise HuomaError(f"与第 {first} 行是同一个二维码 / the same code as row {first}")
            seen[payload] = row
            other = await pool.fetchval(sql.GROUP_WITH_PAYLOAD, payload, group_id)
            if other is not None:
                shown = await shown_group(pool, other, regions)
                if shown is None:  # another region's group: its id is not said
                    raise HuomaError(
                        "这个二维码已经是另一个群的码 / this code is already another group's"
                    )
                raise HuomaError(
                    f"这个二维码已经是群 {shown} 的码 / this code is already group {shown}'s"
                )

        try:
            reading = await read_picture(
                files[job.picture],
                settings,
                ocr if use_ocr else None,
                typed,
                now=now,
                stored_name=None if old is None else old["name"],
                vet=vet,
            )
        except HuomaError as exc:
            errors.append(RowError(job.row, "picture", job.picture, exc.message))
            continue
        name_default = (
            old["name"] if old is not None else f"{store_names.get(store_id, store_id)} 群"
        )
        rows.append(group_row(group_id, store_id, reading, name_default=name_default))
        numbers.append(job.row)
        pictures.append(
            {
                "row": job.row,
                "picture": job.picture,
                "action": "replace" if old is not None else "add",
                "group_id": group_id,
                "store_id": store_id,
                "kind": reading.decoded.kind.value,
                "name": rows[-1]["name"],
                "member_count": reading.member_count,
                "expires_at": rows[-1]["expires_at"] or None,
                "expiry_source": reading.expiry.source,
                "ocr": reading.card.status,
            }
        )
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: e.row))
    if not rows:
        raise file_error("ZIP 里没有图片 / the ZIP holds no pictures")
    summary = await write_rows(
        pool,
        settings,
        rows,
        regions=regions,
        dry_run=dry_run,
        numbers=numbers,
        audit=None if audit is None else audit(pictures),
    )
    return ZipResult(summary, pictures)
