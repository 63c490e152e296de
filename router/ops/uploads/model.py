"""What an upload is made of: its kinds and columns, a table as read, row errors, the summary."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from router.errors import HuomaError
from router.ops.uploads.headers import Mapping
from router.store.db import Operation

KINDS = ("stores", "groups", "fallbacks", "entries")
FORMATS = ("csv", "json", "xlsx")

STORE_REQUIRED = ("store_id", "name", "city", "address", "lat", "lng", "coord")
STORE_OPTIONAL = ("service_area", "active", "province", "district", "region")
GROUP_REQUIRED = ("group_id", "store_id", "name", "qr_payload")
GROUP_OPTIONAL = (
    "capacity",
    "member_count",
    "expires_at",
    "position",
    "display_cap",
    "qr_created_at",
)
FALLBACK_REQUIRED = ("store_id", "name", "qr_payload")
ENTRY_REQUIRED = ("code", "kind")
ENTRY_OPTIONAL = ("store_id", "label")
ENTRY_KINDS = ("counter", "poster", "store")
# The columns each kind cannot do without (a store's lat and lng may come as one cell).
REQUIRED: dict[str, tuple[str, ...]] = {
    "stores": STORE_REQUIRED,
    "groups": GROUP_REQUIRED,
    "fallbacks": FALLBACK_REQUIRED,
    "entries": ENTRY_REQUIRED,
}
_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# An XLSX is a zip: refuse one that would expand past this many times the upload limit, or whose
# members compress better than any real sheet does (a zip bomb dressed as a workbook).
XLSX_EXPANSION_LIMIT = 10
XLSX_MAX_RATIO = 500  # repetitive sheets reach ~100; bombs reach thousands
BRAND = "*"  # store_id of the brand-wide fallback
# Personal WeChat group codes ("加入群聊" QR) expire 7 days after they are made.
PERSONAL_GROUP_CODE = re.compile(r"^https?://weixin\.qq\.com/g/", re.IGNORECASE)
# WeChat's scan-join limit: once a personal group has 200 members its QR code no longer lets
# anyone join (only an invitation by a member does). A personal code's capacity can therefore not
# be more than this, and it is every uploaded group's default capacity. WeCom join-way codes are
# not personal codes: their groups are sized by HUOMA_WECOM_ROOM_CAPACITY.
WECHAT_SCAN_JOIN_LIMIT = 200
# An optional cell saying this clears the stored value (an empty cell keeps it).
CLEAR_WORDS = frozenset({"清空", "clear"})

MAX_ERRORS_REPORTED = 1_000
# Imports that change at least this many rows refresh the table's planner statistics.
ANALYZE_ROWS = 1_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# The languages a message is given in: Chinese, English, or both (Chinese first), which is what
# an API caller without an Accept-Language header reads.
LANGUAGES = ("zh", "en")


def pick_language(accept: str | None) -> str | None:
    """`zh` or `en` by an Accept-Language header (its first language Huoma speaks, by weight),
    None (both, Chinese first) when it names neither."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept or "").split(",")):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LANGUAGES:
            continue
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        if weight > 0 and (best is None or (weight, -i) > (best[0], best[1])):
            best = (weight, -i, lang)
    return None if best is None else best[2]


def in_language(zh: str, en: str, lang: str | None) -> str:
    if not zh or lang == "en":
        return en
    if lang == "zh":
        return zh
    return f"{zh} / {en}"


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # spreadsheet row: header is 1, first data row 2; 0 for the file as a whole
    column: str
    value: str
    message: str  # English (or, for older messages, both languages in one text)
    code: str = "invalid"  # stable, for machines: the kind of problem
    zh: str = ""  # the same in Chinese ("": message is all there is)
    # The field the column is read as (`lat`), when `column` is the header as ops wrote it (纬度).
    field: str = ""

    def text(self, lang: str | None = None) -> str:
        return in_language(self.zh, self.message, lang)

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "field": self.field or self.column,
            "value": self.value,
            "code": self.code,
            "message": self.text(lang),
        }


def _rows_text(rows: Sequence[int]) -> tuple[str, str]:
    """Row numbers as ranges: 第2-51、60行 / rows 2-51, 60."""
    spans: list[str] = []
    start = prev = rows[0]
    for n in [*rows[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        spans.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return f"第{'、'.join(spans)}行", f"row{'s' if len(rows) > 1 else ''} {', '.join(spans)}"


def group_errors(errors: Sequence[RowError], lang: str | None = None) -> list[dict[str, Any]]:
    """Repeated problems once: the same problem (code, column, value and message) on many rows
    is one entry naming the rows as ranges, in the order each first appears."""
    groups: dict[tuple[str, str, str, str, str], list[int]] = {}
    for e in errors:
        groups.setdefault((e.code, e.column, e.value, e.message, e.zh), []).append(e.row)
    out: list[dict[str, Any]] = []
    for (code, column, value, message, zh), rows in groups.items():
        numbered = sorted(set(r for r in rows if r))
        if numbered:
            where_zh, where_en = _rows_text(numbered)
        else:
            where_zh, where_en = "文件", "file"
        col = f" {column}" if column else ""
        shown = f"「{value}」" if value else ""
        shown_en = f" {value!r}" if value else ""
        out.append(
            {
                "code": code,
                "column": column,
                "value": value,
                "rows": numbered,
                "count": len(rows),
                "message": in_language(
                    f"{where_zh}{col}{shown}：{zh}" if zh else "",
                    f"{where_en}{col}{shown_en}: {message}",
                    lang,
                ),
            }
        )
    return out


class ImportRejected(HuomaError):
    """The file (or some of its rows) cannot be imported; nothing was written."""

    status = 422
    code = "import_rejected"

    def __init__(self, errors: Sequence[RowError], lang: str | None = None) -> None:
        self.all_errors = list(errors)
        shown = list(errors[:MAX_ERRORS_REPORTED])
        super().__init__("")
        self.errors = shown
        self.more_errors = len(errors) - len(shown)
        self.set_language(lang)

    def set_language(self, lang: str | None) -> None:
        """The message (and each error's) in `lang` (None: Chinese first, then English)."""
        self.lang = lang
        errors = self.all_errors
        first = errors[0] if errors else None
        kinds = len(group_errors(errors))
        zh = f"{len(errors)} 处错误（{kinds} 类），未导入任何数据"
        en = f"{len(errors)} error(s); nothing was imported"
        if first is not None:
            where = f"row {first.row}" if first.row else "file"
            where_zh = f"第{first.row}行" if first.row else "文件"
            en += f" (first: {where}, {first.column or 'file'}: {first.message})"
            zh += f"（第一处：{where_zh}，{first.column or '文件'}：{first.zh or first.message}）"
        self.message = in_language(zh, en, lang)
        self.args = (self.message,)

    def details(self) -> dict[str, object]:
        return {
            "errors": [e.as_dict(self.lang) for e in self.errors],
            "more_errors": self.more_errors,
            "grouped": group_errors(self.all_errors, self.lang)[:MAX_ERRORS_REPORTED],
        }


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]
    format: str | None = None  # csv, json or xlsx, for a table read from a file
    encoding: str | None = None  # one of ENCODINGS, for CSV and JSON
    mapping: Mapping | None = None  # which column was read as what, for a file with a header


CHANGE_STATUSES = ("added", "changed", "unchanged")


def page(
    changes: Sequence[dict[str, Any]], status: str | None, offset: int, limit: int
) -> dict[str, Any]:
    """The changes answer: counts by status, then one page (of one status, or of all)."""
    counts = {s: 0 for s in CHANGE_STATUSES}
    counts["warned"] = 0
    for c in changes:
        counts[c["status"]] += 1
        counts["warned"] += bool(c["warnings"])
    chosen = [
        c
        for c in changes
        if status is None or c["status"] == status or (status == "warned" and c["warnings"])
    ]
    return {
        "counts": counts,
        "status": status,
        "total": len(chosen),
        "offset": offset,
        "limit": limit,
        "items": chosen[offset : offset + limit],
    }


@dataclass(slots=True)
class ImportSummary:
    kind: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    format: str | None = None
    encoding: str | None = None
    preview: dict[str, Any] | None = None  # the first rows as read
    mapping: dict[str, Any] | None = None  # the sheet, header row and what each column was read as
    # Plausibility warnings (checks.py), the token that accepts them (dry run), what changes.
    warnings: list[RowError] = field(default_factory=list)
    confirm_token: str | None = None
    changes: list[dict[str, Any]] | None = None
    changes_status: str | None = None  # the page of changes the answer shows
    changes_offset: int = 0
    changes_limit: int = 100
    lang: str | None = None

    def as_dict(self) -> dict[str, Any]:
        review: dict[str, Any] = {
            "warnings": [w.as_dict(self.lang) for w in self.warnings[:MAX_ERRORS_REPORTED]],
            "warnings_grouped": group_errors(self.warnings, self.lang)[:MAX_ERRORS_REPORTED],
            "confirm_token": self.confirm_token,
            "changes": None
            if self.changes is None
            else page(self.changes, self.changes_status, self.changes_offset, self.changes_limit),
        }
        return review | {
            "kind": self.kind,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
            "ignored_columns": self.ignored_columns,
            "format": self.format,
            "encoding": self.encoding,
            "preview": self.preview,
            "mapping": self.mapping,
        }


def file_error(
    message: str, code: str | None = None, zh: str = "", *, kind: str | None = None
) -> ImportRejected:
    """A problem with the file as a whole (row 0): its format, encoding, size or header. `code`
    is the answer's own code (default import_rejected), `kind` the problem's (default `code`,
    else invalid_file)."""
    rejected = ImportRejected([RowError(0, "", "", message, kind or code or "invalid_file", zh)])
    if code is not None:
        rejected.code = code
    return rejected


# Each kind in ops' words, for the messages of a failed upload or export.
KIND_ZH = {"stores": "门店", "groups": "群", "fallbacks": "兜底码", "entries": "入口码"}


def upload_operation(kind: str) -> Operation:
    """What an upload of `kind` asks of the database, for its 503 and log line."""
    return Operation(f"{KIND_ZH[kind]}上传", f"upload of {kind}")


def export_operation(kind: str) -> Operation:
    """What an export of `kind` asks of the database, for its 503 and log line."""
    return Operation(f"{KIND_ZH[kind]}导出", f"export of {kind}")
