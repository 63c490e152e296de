"""Reading an upload's file into a table: XLSX, RFC 4180 CSV in a detected encoding, JSON.

Bounded (bytes, rows, a workbook's expansion); nothing is written to disk."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import re
import warnings
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import charset_normalizer
import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from router.errors import BadInput, TooLarge
from router.ops.uploads.headers import (
    HEADER_SEARCH_ROWS,
    Mapping,
    field_of,
    find_header,
    map_header,
    missing_fields,
)
from router.ops.uploads.model import (
    REQUIRED,
    XLSX_EXPANSION_LIMIT,
    XLSX_MAX_RATIO,
    ImportRejected,
    RowError,
    Table,
    file_error,
)

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
        raise file_error(
            "old .xls workbooks are not read: save the sheet as .xlsx or CSV",
            zh="不读取旧版 .xls 工作簿：请另存为 .xlsx 或 CSV",
            kind="old_xls",
        )
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


def read_xlsx(data: bytes, max_bytes: int, max_rows: int, kind: str = "stores") -> Table:
    """The sheet whose header is recognised (the first holding every required column, else the
    one whose header is read as the most fields); the header may sit below title rows."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        # (NotImplementedError: zipfile's answer to a member needing a newer zip version)
        raise file_error(
            "not a readable XLSX file (it is not a valid zip archive)",
            zh="不是可读取的 XLSX 文件（不是有效的 zip 压缩包）",
            kind="unreadable_xlsx",
        ) from None
    expanded = sum(m.file_size for m in members)
    if expanded > max_bytes * XLSX_EXPANSION_LIMIT:
        raise file_error(
            f"the workbook expands to {expanded} bytes; refused",
            zh=f"工作簿解压后有 {expanded} 字节，拒绝读取",
            kind="xlsx_too_large",
        )
    for m in members:
        if m.compress_size and m.file_size / m.compress_size > XLSX_MAX_RATIO:
            raise file_error(
                f"the workbook member {m.filename} is suspiciously compressed; refused",
                zh=f"工作簿中的 {m.filename} 压缩比异常，拒绝读取",
                kind="xlsx_too_large",
            )
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it ignores (data validation, styles); not our concern.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                return _read_sheets(workbook, kind, max_rows)
            finally:
                workbook.close()
    except ImportRejected:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a broken workbook
        raise file_error(
            f"not a readable XLSX file ({type(exc).__name__})",
            zh=f"不是可读取的 XLSX 文件（{type(exc).__name__}）",
            kind="unreadable_xlsx",
        ) from None


def _sheet_rows(sheet: Any) -> Iterator[tuple[int, list[str]]]:
    if isinstance(sheet, ReadOnlyWorksheet):
        # The sheet's declared size (<dimension ref=...>) is only a hint: WPS writes "A1" and
        # some exporters leave a stale one. Read every row that is there; the size checks bound
        # what that can be.
        sheet.reset_dimensions()
    for n, record in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield n, [_xlsx_cell(v) for v in record]


def _read_sheets(workbook: Any, kind: str, max_rows: int) -> Table:
    chosen: tuple[Any, Mapping] | None = None
    for sheet in workbook.worksheets:
        mapping = find_header(kind, _sheet_rows(sheet), sheet.title)
        if mapping is None:
            continue
        if not missing_fields(kind, mapping.fields, REQUIRED[kind]):
            chosen = (sheet, mapping)
            break
        if chosen is None or mapping.recognised > chosen[1].recognised:
            chosen = (sheet, mapping)
    if chosen is None:
        # No sheet names a single field: the first sheet's first row, as it always was read.
        if not workbook.worksheets:
            raise file_error(
                "the workbook has no sheet", zh="工作簿里没有工作表", kind="empty_file"
            )
        sheet = workbook.worksheets[0]
        first = next(_sheet_rows(sheet), None)
        if first is None:
            raise file_error("the first sheet is empty", zh="第一张工作表是空的", kind="empty_file")
        chosen = (sheet, map_header(kind, first[1], first[0], sheet.title))
    sheet, mapping = chosen
    columns = _check_header(mapping)
    rows: list[tuple[int, dict[str, str]]] = []
    for n, cells in _sheet_rows(sheet):
        if n <= mapping.header_row or not any(c.strip() for c in cells):
            continue
        if len(rows) >= max_rows:
            raise _too_many_rows(max_rows)
        rows.append(
            (n, {c: (cells[i] if i < len(cells) else "") for i, c in enumerate(columns) if c})
        )
    return Table(columns, rows, format="xlsx", mapping=mapping)


def _too_many_rows(max_rows: int) -> ImportRejected:
    return file_error(
        f"more than {max_rows} rows; split the file",
        zh=f"超过 {max_rows} 行，请拆成几个文件（HUOMA_IMPORT_MAX_ROWS）",
        kind="too_many_rows",
    )


def _line_of(data: bytes, codec: str, at: int) -> int:
    return data[:at].decode(codec, errors="replace").count("\n") + 1


# How ops write the encodings' names (messages, the ops page).
ENCODING_LABELS = {"utf-8": "UTF-8", "gb18030": "GB18030", "big5": "Big5", "utf-16": "UTF-16"}


def _wrong_encoding(zh: str, en: str, data: bytes | None) -> ImportRejected:
    """A 422 `wrong_encoding`, Chinese first, with what automatic detection reads instead when
    `data` is given (None: the file's own BOM named the encoding)."""
    if data is None:
        zh_hint, en_hint = "请检查文件的实际编码", "check the encoding the file was saved in"
    else:
        detected = _detected(data)
        if detected is None:
            zh_hint, en_hint = "请改用自动识别", "try automatic"
        else:
            zh_hint = f"自动识别为 {ENCODING_LABELS[detected]}，请改选它或自动识别"
            en_hint = f"automatic detection reads it as {detected}"
    return file_error(f"{zh}；{zh_hint}。{en}; {en_hint}", code="wrong_encoding")


def _decode_as(data: bytes, encoding: str, *, named: bool = False) -> str:
    """`data` in the encoding, strictly; a byte it cannot hold is a clear rejection (saying what
    automatic detection reads, when ops named the encoding)."""
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
        line = _line_of(data, codec, exc.start)
        raise _wrong_encoding(
            f"文件不是 {ENCODING_LABELS[encoding]} 编码："
            f"第 {line} 行的字节 0x{byte} 不是其中的字符",
            f"the file is not {encoding} text: byte 0x{byte} on line {line} is not a character "
            "in it",
            data if named else None,
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
        text = _decode_as(data, encoding, named=True)
        _refuse_garbled(data, text, encoding)
        return text, encoding
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


# A named GB18030 or Big5 reading is refused as garbled when automatic detection's reading has at
# least this much larger a share of everyday characters (Big5 read as GB18030: 0.34 against 1.0);
# a smaller margin leaves ops' choice alone (automatic detection is not always right).
_GARBLED_MARGIN = 0.5


def _detected(data: bytes) -> str | None:
    try:
        return decode_text(data)[1]
    except ImportRejected:
        return None


def _refuse_garbled(data: bytes, text: str, named: str) -> None:
    """An encoding ops chose that decodes the file into garbage is refused, saying what automatic
    detection reads instead: Big5 read as GB18030 decodes without a single bad byte, and a
    GB18030 file read as UTF-16 becomes one line of ideographs."""
    if b"\n" in data and "\n" not in text:
        why_zh, why = "按此读取没有换行", "read that way it has no line breaks"
    elif named in ("gb18030", "big5"):
        share, count = _plausibility(text, named)
        detected = _detected(data)
        if count < _PLAUSIBILITY_MIN_CHARS or detected not in ("gb18030", "big5", named):
            return
        if detected == named:
            return
        theirs, _ = _plausibility(data.decode(_CODECS[detected]), detected)
        if theirs - share < _GARBLED_MARGIN:
            return
        why_zh = f"按此读取是乱码（常用字仅占 {share:.0%}）"
        why = f"read that way it looks garbled ({share:.0%} everyday characters)"
    else:
        return
    raise _wrong_encoding(
        f"文件可能不是 {ENCODING_LABELS[named]} 编码：{why_zh}",
        f"the file is probably not {named} text: {why}",
        data,
    )


def _unknown_encoding() -> ImportRejected:
    return file_error(
        "无法识别文件的文字编码（UTF-8、GB18030、Big5、UTF-16 都读不通或都是乱码）；"
        "请另存为 UTF-8，或选择文件的编码。"
        "The file is neither UTF-8 nor GB18030, Big5 or UTF-16 text (or reads as gibberish in "
        "each); save it as UTF-8, or choose its encoding",
        code="unknown_encoding",
    )


def _norm_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower().replace(" ", "_")


def _csv_delimiter(buffer: io.StringIO) -> str:
    """The delimiter that splits a record of the first rows (the header, or a title above it)
    into the most cells (comma on a tie).

    Only the delimiter is guessed; quoting is always RFC 4180's, whatever the first rows hold."""
    best, most = ",", 0
    for delimiter in CSV_DELIMITERS:
        buffer.seek(0)
        reader = csv.reader(buffer, delimiter=delimiter)
        cells = 0
        try:
            for _ in range(HEADER_SEARCH_ROWS):
                record = next(reader, None)
                if record is None:
                    break
                cells = max(cells, len(record))
        except csv.Error:
            pass
        if cells > most:
            best, most = delimiter, cells
    buffer.seek(0)
    return best


def _csv_error(n: int, exc: csv.Error, line: int) -> RowError:
    """Row `n`'s broken quoting, in both languages."""
    return RowError(n, "", "", _csv_problem(exc, line), "bad_csv", _csv_problem_zh(exc, line))


def _csv_problem_zh(exc: csv.Error, line: int) -> str:
    text = str(exc)
    if "expected after" in text:
        return f'引号内的单元格在结束引号后还有内容（第 {line} 行）：引号内的双引号要写两次（""）'
    if "unexpected end of data" in text:
        return "这一行开始的引号没有结束，文件其余部分都成了一个单元格"
    if "field larger than field limit" in text:
        return f"单元格超过 {csv.field_size_limit()} 个字（第 {line} 行），是否有引号没有结束？"
    return f"无法按 CSV 读取（第 {line} 行）"


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


def read_csv(text: str, max_rows: int, kind: str = "stores") -> Table:
    """RFC 4180 CSV: quoted cells may hold delimiters, doubled quotes and line breaks. Every
    row whose quoting is broken or that has more cells than the header is reported."""
    buffer = io.StringIO(text, newline="")
    delimiter = _csv_delimiter(buffer)
    # strict: text after a closing quote is refused rather than glued onto the cell.
    reader = csv.reader(buffer, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
    # The header may sit below title rows: the first rows are read, and the one naming the most
    # fields is the header (rows above it are skipped). A broken record among them is kept as
    # its problem, reported if it comes after the header.
    first: list[tuple[int, list[str] | RowError]] = []
    while len(first) < HEADER_SEARCH_ROWS:
        try:
            record = next(reader, None)
        except csv.Error as exc:
            first.append((len(first) + 1, _csv_error(len(first) + 1, exc, reader.line_num)))
            continue
        if record is None:
            break
        first.append((len(first) + 1, record))
    if not first:
        raise file_error("the file is empty", zh="文件是空的", kind="empty_file")
    readable = [(n, r) for n, r in first if not isinstance(r, RowError)]
    broken = first[0][1]
    if isinstance(broken, RowError) and (not readable or find_header(kind, readable) is None):
        raise file_error(f"the header: {broken.message}", zh=f"表头：{broken.zh}", kind="bad_csv")
    header = find_header(kind, readable) if readable else None
    if header is None and not readable:
        raise file_error("the file is empty", zh="文件是空的", kind="empty_file")
    mapping = header or map_header(kind, readable[0][1], readable[0][0])
    columns = _check_header(mapping)
    pending = [r for r in first if r[0] > mapping.header_row]
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    n = mapping.header_row
    while True:
        n += 1
        try:
            if pending:
                n, held = pending.pop(0)
                if isinstance(held, RowError):
                    errors.append(held)
                    continue
                record = held
            else:
                record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The reader starts afresh on the next line: later rows are still checked.
            errors.append(_csv_error(n, exc, reader.line_num))
            continue
        if not any(cell.strip() for cell in record):
            continue  # blank lines, common at the end of Excel exports
        if len(rows) >= max_rows:
            raise _too_many_rows(max_rows)
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
                        "extra_cells",
                        f"单元格比表头多（{len(record)} 个，表头 {len(columns)} 列）："
                        f"含有{_DELIMITER_ZH[delimiter]}的单元格必须放在双引号里",
                    )
                )
                continue
        rows.append((n, {c: (record[i] if i < len(record) else "") for i, c in enumerate(columns)}))
    if errors:
        raise ImportRejected(errors)
    return Table(columns, rows, format="csv", mapping=mapping)


_DELIMITER_ZH = {",": "逗号", ";": "分号", "\t": "制表符", "|": "“|”"}
_DELIMITER_NAMES = {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a '|'"}


def _check_header(mapping: Mapping) -> tuple[str, ...]:
    """The table's columns; two columns read as the same field refuse the file."""
    columns = mapping.fields
    seen: dict[str, str] = {}
    for (header, _), c in zip(mapping.columns, columns, strict=True):
        if not c:
            continue
        if c in seen:
            if seen[c] == header:
                raise file_error(
                    f"column {c!r} appears twice in the header",
                    zh=f"表头中「{header}」出现了两次",
                    kind="duplicate_column",
                )
            raise ImportRejected(
                [
                    RowError(
                        0,
                        c,
                        header,
                        f"columns {seen[c]!r} and {header!r} are both read as {c}: keep one",
                        code="duplicate_column",
                        zh=f"「{seen[c]}」和「{header}」两列都读作 {c}，请只保留一列",
                    )
                ]
            )
        seen[c] = header
    return columns


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
        raise file_error(
            f"not valid JSON: {exc.msg} at line {exc.lineno}",
            zh=f"不是有效的 JSON（第 {exc.lineno} 行）",
            kind="bad_json",
        ) from None
    if isinstance(data, dict):
        data = data.get(kind, data.get("rows"))
    if not isinstance(data, list):
        raise file_error(
            f'JSON must be a list of objects, or {{"{kind}": [...]}}',
            zh=f'JSON 必须是对象列表，或 {{"{kind}": [...]}}',
            kind="bad_json",
        )
    if len(data) > max_rows:
        raise _too_many_rows(max_rows)
    columns: dict[str, None] = {}
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            errors.append(
                RowError(
                    n,
                    "",
                    str(item)[:100],
                    "each row must be a JSON object",
                    "bad_json",
                    "每一行必须是 JSON 对象",
                )
            )
            continue
        values: dict[str, str] = {}
        for key, value in item.items():
            col = field_of(kind, str(key)) or _norm_header(str(key))
            columns.setdefault(col, None)
            try:
                values[col] = _cell(value, col)
            except ValueError as exc:
                errors.append(
                    RowError(
                        n,
                        col,
                        json.dumps(value)[:100],
                        str(exc),
                        "bad_json",
                        "必须是简单的值（文字或数字）",
                    )
                )
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
        raise file_error(TooLarge(max_bytes, "HUOMA_IMPORT_MAX_BYTES").message, kind="too_large")
    fmt = detect_format(data, filename)
    if fmt == "xlsx":
        return read_xlsx(data, max_bytes, max_rows, kind)
    text, used = decode_text(data, encoding)
    if fmt is None:
        fmt = "json" if text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{") else "csv"
    table = read_json(text, kind, max_rows) if fmt == "json" else read_csv(text, max_rows, kind)
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
