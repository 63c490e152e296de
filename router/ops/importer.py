"""Store and group uploads: read XLSX, CSV or JSON, validate every row, write all or nothing.

Every problem is reported at once, with the spreadsheet row (the header is row 1), the column, the
value and a reason; a file with any error writes nothing. Valid files are copied into a staging
table and upserted in one transaction, then every worker is notified to reload.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import dataclasses
import io
import json
import math
import re
import warnings
import zipfile
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import charset_normalizer
import openpyxl
import shapely
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from geo.areas import AreaError, parse_area
from geo.coords import Coord, CoordError, CoordSystem, to_gcj02
from router import flags
from router.errors import BadInput, HuomaError
from router.store import sql

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


# ---- reading ---------------------------------------------------------------------------------

# Text encodings an uploaded CSV or JSON may be in, by the name ops give (`?encoding=`,
# `huoma import --encoding`): UTF-8 (with or without BOM), GB18030 (what mainland Chinese Excel
# writes as "CSV"; a superset of GBK and GB2312), Big5 (Taiwan and Hong Kong systems; read as
# Big5-HKSCS, its Hong Kong superset) and UTF-16 (Excel's "Unicode text"; its BOM gives the order).
ENCODINGS = ("utf-8", "gb18030", "big5", "utf-16")
_ENCODING_ALIASES = {
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "big5-hkscs": "big5",
    "big5hkscs": "big5",
    "cp950": "big5",
    "utf16": "utf-16",
    "utf-16le": "utf-16",
    "utf-16be": "utf-16",
}
_CODECS = {"gb18030": "gb18030", "big5": "big5hkscs"}
_CJK_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff00-\uffef]")
# How many non-ASCII characters weigh a GB18030 reading against a Big5 one.
_PLAUSIBILITY_SAMPLE = 20_000
# A reading with fewer than this share of everyday characters is gibberish (Shift_JIS read as
# GB18030 scores 0; real mainland or Hong Kong lists score above 0.8)...
_PLAUSIBILITY_FLOOR = 0.3
# ...judged only on this many non-ASCII characters or more: a name or two proves nothing.
_PLAUSIBILITY_MIN_CHARS = 8
# Below this many non-ASCII characters charset-normalizer guesses wrong: `_plausibility` decides.
_DETECTOR_MIN_CHARS = 100
# Delimiters a CSV may use: Excel writes "," or, in locales with a decimal comma, ";"; tab-separated
# text is what pasting from a sheet gives.
CSV_DELIMITERS = (",", ";", "\t", "|")
PREVIEW_ROWS = 5  # rows an upload's answer shows as read, so a wrong encoding is seen at once
PREVIEW_CELL_CHARS = 200


def _file_error(message: str, code: str | None = None) -> ImportRejected:
    rejected = ImportRejected([RowError(0, "", "", message)])
    if code is not None:
        rejected.code = code
    return rejected


def parse_encoding(name: str | None) -> str | None:
    """The encoding ops named (None: detect it). Raises BadInput for one Huoma does not read."""
    if name is None:
        return None
    key = name.strip().lower().replace("_", "-")
    if key in ("", "auto"):
        return None
    key = _ENCODING_ALIASES.get(key, key)
    if key not in ENCODINGS:
        raise BadInput(
            f"encoding {name!r} is not one Huoma reads; use auto, {', '.join(ENCODINGS)}",
            code="bad_encoding",
        )
    return key


def detect_format(data: bytes, filename: str | None) -> str | None:
    """csv, json or xlsx by the file's name or zip signature; None: decide from the text."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".txt")):
        return "csv"
    if name.endswith(".xls"):
        raise _file_error("old .xls workbooks are not read: save the sheet as .xlsx or CSV")
    if name.endswith(".xlsx") or data.startswith(b"PK\x03\x04"):
        return "xlsx"
    return None


_XLSX_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _xlsx_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # Excel stores whole numbers as floats
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, str) and "_x" in value:
        # Workbooks write characters XML cannot hold (a carriage return) as _xHHHH_, and a
        # literal "_x" as _x005F_x; openpyxl hands both over as they are written.
        return _XLSX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return str(value)


def read_xlsx(data: bytes, max_bytes: int, max_rows: int) -> Table:
    """The first sheet of a workbook; its first row is the header."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _file_error("not a readable XLSX file (it is not a valid zip archive)") from None
    expanded = sum(m.file_size for m in members)
    if expanded > max_bytes * XLSX_EXPANSION_LIMIT:
        raise _file_error(f"the workbook expands to {expanded} bytes; refused")
    for m in members:
        if m.compress_size and m.file_size / m.compress_size > XLSX_MAX_RATIO:
            raise _file_error(
                f"the workbook member {m.filename} is suspiciously compressed; refused"
            )
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it ignores (data validation, styles); not our concern.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                if isinstance(sheet, ReadOnlyWorksheet):
                    # The sheet's declared size (<dimension ref=...>) is only a hint: WPS writes
                    # "A1" and some exporters leave a stale one. Read every row that is there;
                    # the size checks above bound what that can be.
                    sheet.reset_dimensions()
                rows_iter = sheet.iter_rows(values_only=True)
                header = next(rows_iter, None)
                if header is None:
                    raise _file_error("the first sheet is empty")
                columns = tuple(_norm_header(_xlsx_cell(h)) for h in header)
                while columns and not columns[-1]:
                    columns = columns[:-1]
                _check_header(columns)
                rows: list[tuple[int, dict[str, str]]] = []
                for n, record in enumerate(rows_iter, start=2):
                    cells = [_xlsx_cell(v) for v in record]
                    if not any(c.strip() for c in cells):
                        continue
                    if len(rows) >= max_rows:
                        raise _file_error(f"more than {max_rows} rows; split the file")
                    rows.append(
                        (
                            n,
                            {
                                c: (cells[i] if i < len(cells) else "")
                                for i, c in enumerate(columns)
                                if c
                            },
                        )
                    )
            finally:
                workbook.close()
    except ImportRejected:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a broken workbook
        raise _file_error(f"not a readable XLSX file ({type(exc).__name__})") from None
    return Table(columns, rows, format="xlsx")


def _line_of(data: bytes, codec: str, at: int) -> int:
    return data[:at].decode(codec, errors="replace").count("\n") + 1


def _decode_as(data: bytes, encoding: str) -> str:
    """`data` in the named encoding, strictly; a byte it cannot hold is a clear rejection."""
    if encoding == "utf-8":
        codec = "utf-8-sig"
    elif encoding == "utf-16":
        boms = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        codec = "utf-16" if data.startswith(boms) else "utf-16-le"  # no BOM: Windows' order
    else:
        codec = _CODECS[encoding]
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        byte = data[exc.start : exc.start + 1].hex()
        raise _file_error(
            f"the file is not {encoding} text: byte 0x{byte} on line "
            f"{_line_of(data, codec, exc.start)} is not a character in it; choose another "
            "encoding, or automatic",
            code="wrong_encoding",
        ) from None


def _plausibility(text: str, encoding: str) -> tuple[float, int]:
    """Share of `text`'s non-ASCII characters that are everyday characters of `encoding`, and
    how many characters that share was taken over.

    Every Big5 file also decodes as GB18030 (and many GB18030 files as Big5), into rare
    characters, symbols and kana. A detector needs many characters to tell; a short store list
    has few, so this weighs each reading by its own encoding's frequently used block: GB2312's
    first level (the 3,755 most used simplified characters) and Big5's 5,401 frequently used
    traditional characters (0xA440-0xC67E), plus CJK punctuation."""
    total = common = 0
    for ch in text:
        if ch < "\x80":
            continue
        if total == _PLAUSIBILITY_SAMPLE:
            break
        total += 1
        if _CJK_PUNCTUATION.match(ch):
            common += 1
            continue
        try:
            code = ch.encode("gb2312" if encoding == "gb18030" else "big5")
        except UnicodeEncodeError:
            continue
        if encoding == "gb18030":
            common += 0xB0 <= code[0] <= 0xD7
        else:
            common += 0xA440 <= int.from_bytes(code, "big") <= 0xC67E
    return (common / total if total else 1.0), total


def decode_text(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text of an upload and the encoding it was read in (one of ENCODINGS).

    Named, the encoding is used strictly. Otherwise: a BOM decides (UTF-8, UTF-16); valid UTF-8
    is UTF-8; else charset-normalizer picks between GB18030 and Big5, or, in a file with too few
    characters for a detector or when it has no answer, `_plausibility` does. A reading of
    gibberish is refused."""
    if encoding is not None:
        return _decode_as(data, encoding), encoding
    if data.startswith(codecs.BOM_UTF8):
        return _decode_as(data, "utf-8"), "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_as(data, "utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    readings: dict[str, str] = {}
    for name in ("gb18030", "big5"):
        try:
            readings[name] = data.decode(_CODECS[name])
        except UnicodeDecodeError:
            continue
    if not readings:
        raise _unknown_encoding()
    shares = {name: _plausibility(text, name) for name, text in readings.items()}
    judged = max(count for _, count in shares.values())
    guess: str | None = None
    if judged >= _DETECTOR_MIN_CHARS:
        by_codec = {_CODECS[name]: name for name in readings}
        matches = charset_normalizer.from_bytes(data, cp_isolation=list(by_codec))
        guess = next((by_codec[m.encoding] for m in matches if m.encoding in by_codec), None)
    if guess is None:
        # Too few characters for the detector (it calls 国贸店 Big5), or unusual text it finds
        # no answer for: the reading with more everyday characters wins, a tie going to
        # GB18030, what mainland Excel writes (max() keeps the first of equals).
        guess = max(readings, key=lambda name: shares[name][0])
    share, count = shares[guess]
    if count >= _PLAUSIBILITY_MIN_CHARS and share < _PLAUSIBILITY_FLOOR:
        raise _unknown_encoding()
    return readings[guess], guess


def _unknown_encoding() -> ImportRejected:
    return _file_error(
        "the file is neither UTF-8 nor GB18030, Big5 or UTF-16 text (or reads as gibberish in "
        "each); save it as UTF-8, or choose its encoding",
        code="unknown_encoding",
    )


def _norm_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower().replace(" ", "_")


def _csv_delimiter(buffer: io.StringIO) -> str:
    """The delimiter that splits the whole header record into the most cells (comma on a tie).

    Only the delimiter is guessed; quoting is always RFC 4180's, whatever the first rows hold."""
    best, most = ",", 0
    for delimiter in CSV_DELIMITERS:
        buffer.seek(0)
        try:
            cells = len(next(csv.reader(buffer, delimiter=delimiter), []))
        except csv.Error:
            continue
        if cells > most:
            best, most = delimiter, cells
    buffer.seek(0)
    return best


def _csv_problem(exc: csv.Error, line: int) -> str:
    text = str(exc)
    if "expected after" in text:
        return (
            f"a quoted cell goes on after its closing quote (line {line}): a double quote "
            'inside a quoted cell must be written twice ("")'
        )
    if "unexpected end of data" in text:
        return "a quote opened in this row is never closed, so the rest of the file is one cell"
    if "field larger than field limit" in text:
        return (
            f"a cell is longer than {csv.field_size_limit()} characters (line {line}); "
            "is a quote never closed?"
        )
    return f"not readable as CSV (line {line}): {text}"


def read_csv(text: str, max_rows: int) -> Table:
    """RFC 4180 CSV: quoted cells may hold delimiters, doubled quotes and line breaks. Every
    row whose quoting is broken or that has more cells than the header is reported."""
    buffer = io.StringIO(text, newline="")
    delimiter = _csv_delimiter(buffer)
    # strict: text after a closing quote is refused rather than glued onto the cell.
    reader = csv.reader(buffer, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise _file_error("the file is empty") from None
    except csv.Error as exc:
        raise _file_error(f"the header: {_csv_problem(exc, reader.line_num)}") from None
    columns = tuple(_norm_header(h) for h in header)
    _check_header(columns)
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    n = 1
    while True:
        n += 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The reader starts afresh on the next line: later rows are still checked.
            errors.append(RowError(n, "", "", _csv_problem(exc, reader.line_num)))
            continue
        if not any(cell.strip() for cell in record):
            continue  # blank lines, common at the end of Excel exports
        if len(rows) >= max_rows:
            raise _file_error(f"more than {max_rows} rows; split the file")
        if len(record) > len(columns):
            extra = [c for c in record[len(columns) :] if c.strip()]
            if extra:
                errors.append(
                    RowError(
                        n,
                        "",
                        extra[0][:100],
                        f"more cells than header columns ({len(record)}; the header has "
                        f"{len(columns)}): a cell holding {_DELIMITER_NAMES[delimiter]} must be "
                        "in double quotes",
                    )
                )
                continue
        rows.append((n, {c: (record[i] if i < len(record) else "") for i, c in enumerate(columns)}))
    if errors:
        raise ImportRejected(errors)
    return Table(columns, rows, format="csv")


_DELIMITER_NAMES = {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a '|'"}


def _check_header(columns: Sequence[str]) -> None:
    seen: set[str] = set()
    for c in columns:
        if not c:
            continue
        if c in seen:
            raise _file_error(f"column {c!r} appears twice in the header")
        seen.add(c)


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if column == "service_area" and isinstance(value, dict):
        return json.dumps(value)
    raise ValueError("must be a plain value (text or number)")


def read_json(text: str, kind: str, max_rows: int) -> Table:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _file_error(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(data, dict):
        data = data.get(kind, data.get("rows"))
    if not isinstance(data, list):
        raise _file_error(f'JSON must be a list of objects, or {{"{kind}": [...]}}')
    if len(data) > max_rows:
        raise _file_error(f"more than {max_rows} rows; split the file")
    columns: dict[str, None] = {}
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            errors.append(RowError(n, "", str(item)[:100], "each row must be a JSON object"))
            continue
        values: dict[str, str] = {}
        for key, value in item.items():
            col = _norm_header(str(key))
            columns.setdefault(col, None)
            try:
                values[col] = _cell(value, col)
            except ValueError as exc:
                errors.append(RowError(n, col, json.dumps(value)[:100], str(exc)))
        rows.append((n, values))
    if errors:
        raise ImportRejected(errors)
    return Table(tuple(columns), rows, format="json")


def read_table(
    data: bytes,
    filename: str | None,
    kind: str,
    max_bytes: int,
    max_rows: int,
    encoding: str | None = None,
) -> Table:
    """The upload as a table. `encoding` (one of ENCODINGS) overrides detection for CSV and
    JSON; a workbook carries its own."""
    if len(data) > max_bytes:
        raise _file_error(f"the file is {len(data)} bytes; the limit is {max_bytes}")
    fmt = detect_format(data, filename)
    if fmt == "xlsx":
        return read_xlsx(data, max_bytes, max_rows)
    text, used = decode_text(data, encoding)
    if fmt is None:
        fmt = "json" if text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{") else "csv"
    table = read_json(text, kind, max_rows) if fmt == "json" else read_csv(text, max_rows)
    return dataclasses.replace(table, encoding=used)


def preview(table: Table, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """The first rows as read (long cells shortened), so ops see a wrong encoding before
    anything is written."""

    def short(value: str) -> str:
        return value if len(value) <= PREVIEW_CELL_CHARS else value[:PREVIEW_CELL_CHARS] + "…"

    return {
        "columns": [c for c in table.columns if c],
        "rows": [
            {"row": n, "values": {c: short(v) for c, v in values.items() if c}}
            for n, values in table.rows[:rows]
        ],
    }


# ---- validating ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreRow:
    store_id: str
    name: str
    city: str
    address: str | None  # None: keep the stored address ("" clears it)
    lat: float  # GCJ-02
    lng: float
    source_lat: float
    source_lng: float
    source_coord: str
    # GeoJSON in GCJ-02; None keeps the stored area, "" removes it.
    service_area: str | None
    active: bool | None  # None: keep the stored flag (a new store is active)
    source_area: str | None = None  # as uploaded, in source_coord; None and "" as service_area

    def record(self) -> tuple[Any, ...]:
        return (
            self.store_id,
            self.name,
            self.city,
            self.address,
            self.lat,
            self.lng,
            self.source_lat,
            self.source_lng,
            self.source_coord,
            self.service_area,
            self.active,
            self.source_area,
        )


@dataclass(frozen=True, slots=True)
class GroupRow:
    row: int  # the spreadsheet row: new groups without a position are placed in file order
    group_id: str
    store_id: str
    name: str
    qr_payload: str
    capacity: int | None
    member_count: int | None
    expires_at: datetime | None
    derived_expires_at: datetime | None
    position: int | None  # None: keep the stored one; a new group goes after the store's last
    display_cap: int | None

    def record(self) -> tuple[Any, ...]:
        return (
            self.row,
            self.group_id,
            self.store_id,
            self.name,
            self.qr_payload,
            self.capacity,
            self.member_count,
            self.expires_at,
            self.derived_expires_at,
            self.position,
            self.display_cap,
        )


@dataclass(frozen=True, slots=True)
class FallbackRow:
    store_id: str | None  # None: brand-wide
    name: str
    qr_payload: str

    @property
    def group_id(self) -> str:
        return f"fallback:{self.store_id or BRAND}"

    def record(self) -> tuple[Any, ...]:
        return (self.group_id, self.store_id, self.name, self.qr_payload)


class _Row:
    """Field readers for one row that record problems instead of stopping at the first."""

    def __init__(self, n: int, values: dict[str, str], errors: list[RowError]) -> None:
        self.n = n
        self.values = values
        self.errors = errors
        self.ok = True

    def fail(self, column: str, message: str) -> None:
        self.ok = False
        self.errors.append(RowError(self.n, column, self.values.get(column, "")[:200], message))

    def text(self, column: str, max_len: int, *, required: bool = True) -> str:
        value = self.values.get(column, "").strip()
        if not value:
            if required:
                self.fail(column, "is required")
            return ""
        if len(value) > max_len:
            self.fail(column, f"is longer than {max_len} characters")
        elif _CONTROL.search(value):
            self.fail(column, "contains control characters")
        return value

    def optional_text(self, column: str, max_len: int) -> str | None:
        """An optional cell: None when empty (the stored value is kept), "" when it says to clear
        the stored value (CLEAR_WORDS), else its text."""
        raw = self.values.get(column, "").strip()
        if not raw:
            return None
        if raw.lower() in CLEAR_WORDS:
            return ""
        return self.text(column, max_len, required=False)

    def number(self, column: str) -> float:
        raw = self.values.get(column, "").strip()
        if not raw:
            self.fail(column, "is required")
            return math.nan
        try:
            value = float(raw)
        except ValueError:
            self.fail(column, "is not a number")
            return math.nan
        if not math.isfinite(value):
            self.fail(column, "is not a finite number")
            return math.nan
        return value

    def integer(self, column: str, low: int, high: int) -> int | None:
        raw = self.values.get(column, "").strip()
        if not raw:
            return None
        try:
            f = float(raw)  # Excel writes whole numbers as "200.0"
        except ValueError:
            self.fail(column, "is not a whole number")
            return None
        if not math.isfinite(f) or f != int(f):
            self.fail(column, "is not a whole number")
            return None
        value = int(f)
        if not low <= value <= high:
            self.fail(column, f"must be between {low} and {high}")
            return None
        return value

    def time(self, column: str, tz: zoneinfo.ZoneInfo) -> datetime | None:
        raw = self.values.get(column, "").strip()
        if not raw:
            return None
        try:
            return parse_time(raw, tz)
        except ValueError as exc:
            self.fail(column, str(exc))
            return None


def _check_columns(table: Table, required: Sequence[str], optional: Sequence[str]) -> list[str]:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise _file_error(
            f"missing column(s): {', '.join(missing)}; required: {', '.join(required)}"
        )
    known = set(required) | set(optional)
    return [c for c in table.columns if c and c not in known]


def _duplicates(row: _Row, column: str, value: str, seen: dict[str, int]) -> None:
    if not value:
        return
    first = seen.get(value)
    if first is not None:
        row.fail(column, f"duplicates row {first}")
    else:
        seen[value] = row.n


def validate_stores(table: Table) -> tuple[list[StoreRow], list[RowError], list[str]]:
    ignored = _check_columns(table, STORE_REQUIRED, STORE_OPTIONAL)
    errors: list[RowError] = []
    out: list[StoreRow] = []
    seen: dict[str, int] = {}
    for n, values in table.rows:
        r = _Row(n, values, errors)
        store_id = r.text("store_id", 64)
        _duplicates(r, "store_id", store_id, seen)
        name = r.text("name", 100)
        city = r.text("city", 50)
        address = r.optional_text("address", 200)
        lat = r.number("lat")
        lng = r.number("lng")
        system: CoordSystem | None = None
        raw_coord = values.get("coord", "").strip()
        if not raw_coord:
            r.fail("coord", "is required (wgs84, gcj02 or bd09)")
        else:
            try:
                system = CoordSystem.parse(raw_coord)
            except CoordError as exc:
                r.fail("coord", str(exc))
        gcj: Coord | None = None
        if system is not None and math.isfinite(lat) and math.isfinite(lng):
            if lat == 0.0 and lng == 0.0:
                r.fail("lat", "lat and lng are both 0: the coordinates are probably missing")
            else:
                try:
                    gcj = to_gcj02(Coord(lat, lng, system))
                except CoordError as exc:
                    r.fail("lat" if "latitude" in str(exc) else "lng", str(exc))
        area: str | None = None
        raw_area = values.get("service_area", "").strip()
        if raw_area.lower() in CLEAR_WORDS:
            area = raw_area = ""
        elif raw_area and system is not None:
            try:
                area = shapely.to_geojson(parse_area(raw_area, system))
            except AreaError as exc:
                r.fail("service_area", str(exc))
        active = True  # an empty cell: the store is active
        raw_active = values.get("active", "")
        if not flags.is_blank(raw_active):
            try:
                active = flags.parse_flag(raw_active)
            except flags.FlagError:
                r.fail("active", f"must be true or false ({flags.ACCEPTED})")
        if r.ok and gcj is not None and system is not None:
            out.append(
                StoreRow(
                    store_id,
                    name,
                    city,
                    address,
                    gcj.lat,
                    gcj.lng,
                    lat,
                    lng,
                    system.value,
                    area,
                    # An absent column or an empty cell keeps the stored flag.
                    active if values.get("active", "").strip() else None,
                    raw_area if area is not None else None,
                )
            )
    return out, errors, ignored


_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")


def parse_time(raw: str, tz: zoneinfo.ZoneInfo) -> datetime:
    """ISO 8601 with or without an offset, or Excel's usual 'YYYY-MM-DD HH:MM[:SS]' and
    'YYYY/MM/DD' forms. Times without an offset are in `tz`; a bare date means its midnight
    (WeChat's "valid until 11-30" is read as "expires at the start of 11-30")."""
    text = raw.strip()
    value: datetime | None = None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATETIME_FORMATS:
            try:
                value = datetime.strptime(text, fmt)  # zone applied below
                break
            except ValueError:
                continue
        if value is None:
            for fmt in _DATE_FORMATS:
                try:
                    d = datetime.strptime(text, fmt).date()
                    value = datetime.combine(d, time())
                    break
                except ValueError:
                    continue
    if value is None:
        raise ValueError("is not a date-time (use e.g. 2026-11-30 18:00 or ISO 8601)")
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def validate_groups(
    table: Table,
    tz: zoneinfo.ZoneInfo,
    *,
    wechat_lifetime: timedelta = timedelta(days=7),
    now: datetime | None = None,
) -> tuple[list[GroupRow], list[RowError], list[str]]:
    ignored = _check_columns(table, GROUP_REQUIRED, GROUP_OPTIONAL)
    # Whole seconds, as exports write times: an export uploaded again changes nothing.
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    errors: list[RowError] = []
    out: list[GroupRow] = []
    seen: dict[str, int] = {}
    for n, values in table.rows:
        r = _Row(n, values, errors)
        group_id = r.text("group_id", 64)
        if group_id.startswith("fallback:"):
            r.fail("group_id", "ids starting with 'fallback:' are reserved for fallbacks")
        _duplicates(r, "group_id", group_id, seen)
        store_id = r.text("store_id", 64)
        name = r.text("name", 100)
        payload = r.text("qr_payload", 1024)
        capacity = r.integer("capacity", 1, 100_000)
        member_count = r.integer("member_count", 0, 100_000)
        position = r.integer("position", -1_000_000, 1_000_000)
        display_cap = r.integer("display_cap", 1, 100_000_000)
        expires_at = r.time("expires_at", tz)
        made_at = r.time("qr_created_at", tz)
        derived = None
        if PERSONAL_GROUP_CODE.match(payload):
            derived = (made_at or now) + wechat_lifetime
            if capacity is not None and capacity > WECHAT_SCAN_JOIN_LIMIT:
                r.fail("capacity", _over_scan_join_limit())
        if r.ok:
            out.append(
                GroupRow(
                    n,
                    group_id,
                    store_id,
                    name,
                    payload,
                    capacity,
                    member_count,
                    expires_at,
                    derived,
                    position,
                    display_cap,
                )
            )
    return out, errors, ignored


def _over_scan_join_limit(stored: int | None = None) -> str:
    limit = WECHAT_SCAN_JOIN_LIMIT
    if stored is None:
        return (
            f"个人微信群二维码满 {limit} 人后无法扫码进群，容量不能超过 {limit} / "
            f"a personal WeChat group code stops scan-joins at {limit} members: "
            f"capacity must be {limit} or less"
        )
    return (
        f"该群已存的容量 {stored} 超过个人微信群二维码的扫码进群上限 {limit} 人，"
        f"请填写不超过 {limit} 的 capacity / the group's stored capacity {stored} is more than "
        f"a personal WeChat group code's scan-join limit of {limit} members: "
        f"give a capacity of {limit} or less"
    )


@dataclass(frozen=True, slots=True)
class EntryRow:
    code: str
    kind: str
    store_id: str | None
    label: str | None  # None: keep the stored label ("" clears it)

    def record(self) -> tuple[Any, ...]:
        return (self.code, self.kind, self.store_id, self.label)


def validate_entries(table: Table) -> tuple[list[EntryRow], list[RowError], list[str]]:
    ignored = _check_columns(table, ENTRY_REQUIRED, ENTRY_OPTIONAL)
    errors: list[RowError] = []
    out: list[EntryRow] = []
    seen: dict[str, int] = {}
    for n, values in table.rows:
        r = _Row(n, values, errors)
        code = values.get("code", "").strip()
        if not _CODE_RE.fullmatch(code):
            r.fail("code", "must be 1-64 letters, digits, '-' or '_' (it goes into a URL)")
        _duplicates(r, "code", code, seen)
        kind = values.get("kind", "").strip().lower()
        if kind not in ENTRY_KINDS:
            r.fail("kind", f"must be one of {', '.join(ENTRY_KINDS)}")
        store_id = values.get("store_id", "").strip() or None
        if kind == "store" and store_id is None:
            r.fail("store_id", "is required for a store's own counter code")
        elif kind in ("counter", "poster") and store_id is not None:
            r.fail("store_id", f"must be empty for a {kind} code (only kind store pins a store)")
        label = r.optional_text("label", 100)
        if r.ok:
            out.append(EntryRow(code, kind, store_id, label))
    return out, errors, ignored


def validate_fallbacks(table: Table) -> tuple[list[FallbackRow], list[RowError], list[str]]:
    ignored = _check_columns(table, FALLBACK_REQUIRED, ())
    errors: list[RowError] = []
    out: list[FallbackRow] = []
    seen: dict[str, int] = {}
    for n, values in table.rows:
        r = _Row(n, values, errors)
        raw_store = values.get("store_id", "").strip()
        if not raw_store:
            r.fail("store_id", f"is required (a store id, or {BRAND} for the whole brand)")
        elif len(raw_store) > 64:
            r.fail("store_id", "is longer than 64 characters")
        _duplicates(r, "store_id", raw_store, seen)
        name = r.text("name", 100)
        payload = r.text("qr_payload", 1024)
        if r.ok:
            out.append(FallbackRow(None if raw_store == BRAND else raw_store, name, payload))
    return out, errors, ignored


# ---- writing ---------------------------------------------------------------------------------


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
    await conn.execute(sql.LOCK_IMPORTS)
    await conn.execute(sql.CREATE_STORE_STAGING)
    await conn.copy_records_to_table("import_stores", records=[r.record() for r in rows])
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
                RowError(0, "store_id", sid, "no such store; import the stores first")
                for sid in store_ids
                if sid in unknown
            ]
        )


async def write_entries(
    conn: asyncpg.Connection, rows: Sequence[EntryRow], summary: ImportSummary
) -> None:
    await _reject_unknown_stores(conn, [r.store_id for r in rows if r.store_id is not None])
    await conn.execute(sql.LOCK_IMPORTS)
    await conn.execute(sql.CREATE_ENTRY_STAGING)
    await conn.copy_records_to_table("import_entries", records=[r.record() for r in rows])
    changed = [*await conn.fetch(sql.UPDATE_ENTRIES), *await conn.fetch(sql.INSERT_ENTRIES)]
    _count(changed, summary, len(rows))


async def write_groups(
    conn: asyncpg.Connection, rows: Sequence[GroupRow], summary: ImportSummary
) -> None:
    await _reject_unknown_stores(conn, [r.store_id for r in rows])
    await conn.execute(sql.LOCK_IMPORTS)
    await conn.execute(sql.CREATE_GROUP_STAGING)
    await conn.copy_records_to_table("import_groups", records=[r.record() for r in rows])
    managed = await conn.fetch(sql.MANAGED_GROUP_ROWS)
    if managed:
        raise ImportRejected(
            [
                RowError(
                    rec["row_no"],
                    "group_id",
                    rec["group_id"],
                    "是门店的企业微信活码群，由活码自动维护，不能上传 / is the store's WeCom "
                    "join-way group, kept by Huoma itself: it cannot be uploaded",
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
            rec["row_no"], "capacity", str(rec["capacity"]), _over_scan_join_limit(rec["capacity"])
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
    await conn.execute(sql.LOCK_IMPORTS)
    await conn.execute(sql.CREATE_FALLBACK_STAGING)
    await conn.copy_records_to_table("import_fallbacks", records=[r.record() for r in rows])
    _count(await conn.fetch(sql.UPSERT_FALLBACKS), summary, len(rows))


class _Rollback(Exception):
    pass


async def import_rows(
    pool: asyncpg.Pool,
    kind: str,
    validated: Sequence[StoreRow] | Sequence[GroupRow] | Sequence[FallbackRow] | Sequence[EntryRow],
    summary: ImportSummary,
    writer: Callable[[asyncpg.Connection, Any, ImportSummary], Any],
) -> ImportSummary:
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await writer(conn, validated, summary)
                if summary.dry_run:
                    # A dry run does the real work and rolls it back: its counts are exact.
                    raise _Rollback
                await conn.execute(sql.NOTIFY_CATALOGUE, kind)
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
            out.extend(RowError(n, e.column, e.value, e.message) for n in by_store.get(e.value, []))
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
) -> ImportSummary:
    """Read, validate and (unless dry_run) write one upload. Raises ImportRejected on any error.

    `encoding` (one of ENCODINGS; None detects it) is how a CSV or JSON file is decoded; the
    summary names the one used and shows the first rows as read."""
    if kind not in KINDS:
        raise BadInput(f"unknown import kind {kind!r}; use {', '.join(KINDS)}", code="bad_kind")
    # Decoding and parsing a 20 MB file takes seconds: off the event loop, scans keep moving.
    table = await asyncio.to_thread(read_table, data, filename, kind, max_bytes, max_rows, encoding)
    summary = await import_table(
        pool, kind, table, timezone=timezone, dry_run=dry_run, wechat_lifetime=wechat_lifetime
    )
    summary.format, summary.encoding, summary.preview = table.format, table.encoding, preview(table)
    return summary


async def import_table(
    pool: asyncpg.Pool,
    kind: str,
    table: Table,
    *,
    timezone: str,
    dry_run: bool = False,
    wechat_lifetime: timedelta = timedelta(days=7),
) -> ImportSummary:
    """Validate and write rows already read into a table (files, the demo generator)."""
    if not table.rows:
        raise _file_error("the file has a header but no rows")
    validated: Sequence[StoreRow] | Sequence[GroupRow] | Sequence[FallbackRow] | Sequence[EntryRow]
    writer: Callable[[asyncpg.Connection, Any, ImportSummary], Any]
    if kind == "stores":
        validated, errors, ignored = validate_stores(table)
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
        return await import_rows(pool, kind, validated, summary, writer)
    except ImportRejected as exc:
        raise ImportRejected(_row_numbers(exc.errors, table)) from None
