"""Templates and current exports for every import kind, in the formats imports read.

An export uploaded again unchanged is a no-op: it has exactly the import columns, in the
systems and time zone they were uploaded in.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
import zoneinfo
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import openpyxl
import orjson

from router.ops.uploads import (
    BRAND,
    ENTRY_OPTIONAL,
    ENTRY_REQUIRED,
    FALLBACK_REQUIRED,
    GROUP_REQUIRED,
    LABELS,
    REQUIRED,
    STORE_OPTIONAL,
    STORE_REQUIRED,
)
from router.store import sql

COLUMNS: dict[str, tuple[str, ...]] = {
    "stores": STORE_REQUIRED + STORE_OPTIONAL,
    # qr_created_at only derives expires_at, which an export carries itself.
    "groups": (
        *GROUP_REQUIRED,
        *("capacity", "member_count", "expires_at", "position", "display_cap"),
    ),
    "fallbacks": FALLBACK_REQUIRED,
    "entries": ENTRY_REQUIRED + ENTRY_OPTIONAL,
}

# One example row per kind: what each column looks like, valid as it stands.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "stores": (
        "SH001",
        "人民广场店",
        "上海",
        "黄浦区人民大道 120 号",
        "31.230416",
        "121.473701",
        "gcj02",
        "",
        "true",
        "上海",
        "黄浦区",
        "华东大区",
    ),
    "groups": (
        "SH001-G1",
        "SH001",
        "人民广场店 1 群",
        "https://weixin.qq.com/g/AbCdEfGhIjKlMnOp",
        "200",
        "",
        "2026-12-01 18:00",
        "0",
        "",
    ),
    "fallbacks": ("SH001", "店长企业微信", "https://work.weixin.qq.com/u/vcExample"),
    "entries": ("SH001-COUNTER", "store", "SH001", "人民广场店收银台"),
}

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

_EXPORT_SQL = {
    "stores": sql.EXPORT_STORES,
    "groups": sql.EXPORT_GROUPS,
    "fallbacks": sql.EXPORT_FALLBACKS,
    "entries": sql.EXPORT_ENTRIES,
}


def _text(value: object, tz: zoneinfo.ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest exact form: a round trip changes nothing
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


async def export_rows(
    pool: asyncpg.Pool, kind: str, timezone: str, regions: list[str] | None = None
) -> list[list[str]]:
    """Every current row of `kind` as text cells in COLUMNS order (times in `timezone`), of the
    stores in `regions` when given."""
    tz = zoneinfo.ZoneInfo(timezone)
    records = await pool.fetch(_EXPORT_SQL[kind], regions)
    rows: list[list[str]] = []
    for record in records:
        row = [_text(record[c], tz) for c in COLUMNS[kind]]
        if kind == "fallbacks" and not row[0]:
            row[0] = BRAND
        rows.append(row)
    return rows


def _csv(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    # The BOM makes Excel open UTF-8 Chinese text correctly; imports accept it.
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")


def _json(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    return orjson.dumps([dict(zip(columns, row, strict=True)) for row in rows])


# XML cannot hold a carriage return in a cell (it reads back as a bare line feed) nor most other
# control characters: workbooks write them as _xHHHH_, and a literal "_xHHHH_" as _x005F_xHHHH_.
_XLSX_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f]|_(?=x[0-9A-Fa-f]{4}_)")


def _xlsx_text(value: str) -> str:
    return _XLSX_UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def _xlsx(kind: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(kind)
    sheet.append(list(columns))
    for row in rows:
        # Text cells throughout: Excel must not turn ids like 00123 into numbers.
        sheet.append([_xlsx_text(cell) for cell in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def render(kind: str, fmt: str, rows: Sequence[Sequence[str]]) -> bytes:
    columns = COLUMNS[kind]
    if fmt == "csv":
        return _csv(columns, rows)
    if fmt == "json":
        return _json(columns, rows)
    return _xlsx(kind, columns, rows)


TEMPLATE_LANGUAGES = ("zh", "en")
# The data sheet's and the explanation sheet's names, per language.
_SHEETS = {
    "zh": ({"stores": "门店", "groups": "群", "fallbacks": "兜底码", "entries": "入口码"}, "说明"),
    "en": ({k: k.capitalize() for k in COLUMNS}, "Instructions"),
}


def template(kind: str, fmt: str, lang: str = "zh") -> bytes:
    """The columns under the names ops write (Chinese or English) and one example row; an XLSX
    opens on a sheet explaining each column. One code path for the API, the CLI and the page;
    every template uploads as it is. JSON keeps the field names."""
    if fmt == "json":
        return render(kind, fmt, [EXAMPLES[kind]])
    labels = LABELS[kind]
    zh = lang == "zh"
    headers = [labels[c][0 if zh else 1] for c in COLUMNS[kind]]
    if fmt == "csv":
        return _csv(headers, [EXAMPLES[kind]])
    names, notes_name = _SHEETS[lang]
    data_name = names[kind]
    book = openpyxl.Workbook(write_only=True)
    notes = book.create_sheet(notes_name)
    notes.append(
        ["列名", "字段", "是否必填", "说明"] if zh else ["Column", "Field", "Required", "Meaning"]
    )
    required = set(REQUIRED[kind])
    for c in COLUMNS[kind]:
        zh_name, en_name, zh_text, en_text = labels[c]
        must = c in required
        notes.append(
            [
                zh_name if zh else en_name,
                c,
                ("必填" if must else "可选") if zh else ("yes" if must else "no"),
                zh_text if zh else en_text,
            ]
        )
    notes.append([])
    notes.append(
        [
            "数据在下一张表；表头也可写英文或系统字段名，表头上方可以有标题行。"
            if zh
            else "The data is on the next sheet; headers may also be in Chinese or the field "
            "names, and title rows may sit above the header."
        ]
    )
    sheet = book.create_sheet(data_name)
    sheet.append(headers)
    sheet.append([_xlsx_text(cell) for cell in EXAMPLES[kind]])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


async def export(
    pool: asyncpg.Pool, kind: str, fmt: str, timezone: str, regions: list[str] | None = None
) -> bytes:
    rows = await export_rows(pool, kind, timezone, regions)
    # Large exports take a while to serialise: keep the event loop (and the scans) moving.
    return await asyncio.to_thread(render, kind, fmt, rows)
