"""What an upload is made of: its kinds and columns, a table as read, row errors, the summary."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from router.errors import HuomaError
from router.store.db import Operation

KINDS = ("stores", "groups", "fallbacks", "entries")
FORMATS = ("csv", "json", "xlsx")

STORE_REQUIRED = ("store_id", "name", "city", "address", "lat", "lng", "coord")
STORE_OPTIONAL = ("service_area", "active")
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


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # spreadsheet row: header is 1, first data row 2; 0 for the file as a whole
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


class ImportRejected(HuomaError):
    """The file (or some of its rows) cannot be imported; nothing was written."""

    status = 422
    code = "import_rejected"

    def __init__(self, errors: Sequence[RowError]) -> None:
        shown = list(errors[:MAX_ERRORS_REPORTED])
        more = len(errors) - len(shown)
        first = shown[0] if shown else None
        summary = f"{len(errors)} error(s); nothing was imported"
        if first is not None:
            where = f"row {first.row}" if first.row else "file"
            summary += f" (first: {where}, {first.column or 'file'}: {first.message})"
        super().__init__(summary)
        self.errors = shown
        self.more_errors = more

    def details(self) -> dict[str, object]:
        return {"errors": [e.as_dict() for e in self.errors], "more_errors": self.more_errors}


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]
    format: str | None = None  # csv, json or xlsx, for a table read from a file
    encoding: str | None = None  # one of ENCODINGS, for CSV and JSON


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

    def as_dict(self) -> dict[str, Any]:
        return {
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
        }


def file_error(message: str, code: str | None = None) -> ImportRejected:
    """A problem with the file as a whole (row 0): its format, encoding, size or header."""
    rejected = ImportRejected([RowError(0, "", "", message)])
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
