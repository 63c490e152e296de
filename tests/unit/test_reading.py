"""How upload files become tables: RFC 4180 CSV whatever its first rows hold, the text encodings
ops' systems write (UTF-8, GB18030, Big5, UTF-16), and workbooks whatever size they declare."""

from __future__ import annotations

import codecs
import csv
import io
import random
import re
import zipfile

import asyncpg
import openpyxl
import pytest

from router.errors import BadInput
from router.ops.uploads import ImportRejected, decode_text, import_file, parse_encoding, read_table

HEADER = ["store_id", "name", "city", "address", "lat", "lng", "coord"]
LIMITS = {"timezone": "Asia/Shanghai", "max_bytes": 20_000_000, "max_rows": 200_000}


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def read(data: bytes, filename: str = "f.csv", encoding: str | None = None) -> list[list[str]]:
    table = read_table(data, filename, "stores", 20_000_000, 200_000, encoding)
    return [[values.get(c, "") for c in table.columns] for _, values in table.rows]


# ---- CSV quoting: RFC 4180 wherever a quote first appears -------------------------------------

STARBUCKS_COLUMNS = [
    "Brand",
    "Store Number",
    "Store Name",
    "Ownership Type",
    "Street Address",
    "City",
    "State/Province",
    "Country",
    "Postcode",
    "Phone Number",
    "Timezone",
    "Longitude",
    "Latitude",
]
# Rows of the public Starbucks store directory (25,600 stores) whose names hold quotes and commas;
# the first is far past the first 4 KB, at row 3808 as in the file.
STARBUCKS_QUOTED_ROWS = (3808, 5012, 7730, 9001, 12_345, 15_000, 19_999, 23_456, 25_601)


def starbucks_directory() -> list[list[str]]:
    """The directory's shape: 25,600 stores, plain for thousands of rows, then names like
    `Mall "A", Level 2` (written as "Mall ""A"", Level 2")."""
    rng = random.Random(7)
    rows = [STARBUCKS_COLUMNS]
    for n in range(2, 25_602):
        name = f"Store {n} Drive Thru"
        if n in STARBUCKS_QUOTED_ROWS:
            name = f'Mall "A{n}", Level 2'
        rows.append(
            [
                "Starbucks",
                f"{n:05d}-{rng.randrange(10**5):05d}",
                name,
                "Licensed",
                f"{rng.randrange(1, 999)} Main Street",
                "Abu Dhabi",
                "AZ",
                "AE",
                "",
                "",
                "GMT+04:00 Asia/Dubai",
                f"{rng.uniform(-180, 180):.2f}",
                f"{rng.uniform(-60, 70):.2f}",
            ]
        )
    return rows


def test_the_starbucks_directory_is_read_whole_with_every_quoted_name_as_written() -> None:
    rows = starbucks_directory()
    read_back = read(csv_text(rows).encode("utf-8"), "directory.csv")
    assert len(read_back) == 25_600
    assert read_back == rows[1:]
    assert read_back[3808 - 2][2] == 'Mall "A3808", Level 2'


@pytest.mark.db
async def test_a_name_with_quotes_after_the_first_4kb_is_stored_as_written(
    pool: asyncpg.Pool,
) -> None:
    rows = [HEADER] + [
        [f"S{i:04d}", f"店{i}", "上海", "人民路", "31.2", "121.4", "gcj02"] for i in range(200)
    ]
    rows.append(["Q1", 'Mall "A"', "上海", 'Road "B", No. 1', "31.2", "121.4", "gcj02"])
    data = csv_text(rows).encode("utf-8")
    assert data.index(b'"Mall ""A"""') > 4096
    await import_file(pool, "stores", data, "stores.csv", **LIMITS)
    row = await pool.fetchrow("SELECT name, address FROM stores WHERE store_id = 'Q1'")
    assert (row["name"], row["address"]) == ('Mall "A"', 'Road "B", No. 1')


def test_quoted_cells_hold_delimiters_quotes_and_line_breaks_whatever_comes_first() -> None:
    cells = [
        ["S1", "plain", "上海", "", "31.2", "121.4", "gcj02"],
        ["S2", 'say "hi"', "上海", "a,b", "31.2", "121.4", "gcj02"],
        ["S3", "two\nlines", "上海", "crlf\r\ninside", "31.2", "121.4", "gcj02"],
        ["S4", '"', "上海", '""', "31.2", "121.4", "gcj02"],
        ["S5", 'Mall "A"', "上海", " leading space", "31.2", "121.4", "gcj02"],
    ]
    for order in (cells, cells[::-1]):
        assert read(csv_text([HEADER, *order]).encode()) == order


def test_spreadsheet_rows_count_records_not_lines() -> None:
    text = csv_text([HEADER, ["S1", "two\nlines", "上海", "", "31.2", "121.4", "gcj02"]])
    text += "S2,x,上海,,31.2,121.4,gcj02,extra\r\n"
    with pytest.raises(ImportRejected) as info:
        read(text.encode())
    assert [(e.row, e.value) for e in info.value.errors] == [(3, "extra")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_read_from_the_whole_header(delimiter: str) -> None:
    rows = [
        ["S1", "a,b;c|d", "上海", "x\ty", "31.2", "121.4", "gcj02"],
        ["S2", "普通", "上海", "", "31.2", "121.4", "gcj02"],
    ]
    assert read(csv_text([HEADER, *rows], delimiter).encode()) == rows


def test_every_row_with_more_cells_than_the_header_is_reported() -> None:
    lines = ["store_id,name,city,address,lat,lng,coord"]
    for i in range(2, 40):
        lines.append(f"S{i},店,上海,路,31.2,121.4,gcj02" + (f",x{i}" if i % 4 == 0 else ""))
    with pytest.raises(ImportRejected) as info:
        read("\n".join(lines).encode())
    errors = info.value.errors
    assert [(e.row, e.value) for e in errors] == [(i, f"x{i}") for i in range(4, 40, 4)]
    assert all(e.message.startswith("more cells than header columns (8;") for e in errors)


def test_text_after_a_closing_quote_is_refused_not_glued_onto_the_cell() -> None:
    # A quote inside a quoted cell that is not doubled: Excel would read `Mall A"x`, a guess.
    data = (
        "store_id,name,city,address,lat,lng,coord\n"
        'S1,"Mall "A"x",上海,路,31.2,121.4,gcj02\n'
        "S2,好店,上海,路,31.2,121.4,gcj02\n"
        'S3,"B"c,上海,路,31.2,121.4,gcj02\n'
    ).encode()
    with pytest.raises(ImportRejected) as info:
        read(data)
    assert [e.row for e in info.value.errors] == [2, 4]
    assert "must be written twice" in info.value.errors[0].message


def test_a_quote_never_closed_is_reported_at_its_row() -> None:
    data = b'store_id,name\nS1,ok\nS2,"never closed\nS3,x\n'
    with pytest.raises(ImportRejected) as info:
        read(data)
    assert [(e.row, e.message) for e in info.value.errors] == [
        (3, "a quote opened in this row is never closed, so the rest of the file is one cell")
    ]


def test_a_quote_inside_an_unquoted_cell_is_kept_as_it_is() -> None:
    data = b'store_id,name\nS1,Mall "A"\nS2,5" screen\n'
    assert read(data) == [["S1", 'Mall "A"'], ["S2", '5" screen']]


# ---- encodings --------------------------------------------------------------------------------

HONG_KONG = (
    "store_id,name,city,address,lat,lng,coord\n"
    "HK001,銅鑼灣店,香港,銅鑼灣軒尼詩道500號,22.2800,114.1830,wgs84\n"
    "HK002,旺角店,香港,旺角彌敦道688號,22.3193,114.1694,wgs84\n"
    "HK003,尖沙咀店,香港,尖沙咀廣東道30號,22.2976,114.1722,wgs84\n"
)
SHANGHAI = (
    "store_id,name,city,address,lat,lng,coord\n"
    "SH001,人民广场店,上海,黄浦区人民大道120号,31.2304,121.4737,gcj02\n"
    "SH002,徐家汇店,上海,徐汇区漕溪北路1111号,31.1955,121.4365,gcj02\n"
)


@pytest.mark.parametrize(
    ("text", "data", "encoding"),
    [
        (HONG_KONG, HONG_KONG.encode("big5"), "big5"),
        (SHANGHAI, SHANGHAI.encode("gb18030"), "gb18030"),
        (HONG_KONG, HONG_KONG.encode("gb18030"), "gb18030"),  # traditional text from GB systems
        (SHANGHAI, SHANGHAI.encode("utf-8"), "utf-8"),
        (HONG_KONG, codecs.BOM_UTF8 + HONG_KONG.encode("utf-8"), "utf-8"),
        (SHANGHAI, SHANGHAI.encode("utf-16"), "utf-16"),
        (HONG_KONG, codecs.BOM_UTF16_LE + HONG_KONG.encode("utf-16-le"), "utf-16"),
        (SHANGHAI, codecs.BOM_UTF16_BE + SHANGHAI.encode("utf-16-be"), "utf-16"),
    ],
    ids=[
        "big5",
        "gb18030",
        "traditional-gb18030",
        "utf8",
        "utf8-bom",
        "utf16",
        "utf16le",
        "utf16be",
    ],
)
def test_short_lists_are_read_in_their_encoding(text: str, data: bytes, encoding: str) -> None:
    assert decode_text(data) == (text, encoding)
    table = read_table(data, "stores.csv", "stores", 1_000_000, 100)
    assert table.encoding == encoding
    assert [v["name"] for _, v in table.rows] == [line.split(",")[1] for line in text.split()[1:]]


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        *[
            (n, "big5")
            for n in ("銅鑼灣店", "旺角店", "尖沙咀店", "中環店", "將軍澳店", "鰂魚涌店")
        ],
        *[(n, "gb18030") for n in ("人民广场店", "徐家汇店", "国贸店", "静安寺店", "陆家嘴店")],
    ],
)
def test_a_single_store_name_is_enough_to_tell_big5_from_gb18030(name: str, encoding: str) -> None:
    # 鰂 (of 鰂魚涌) is one of Hong Kong's own characters, in Big5-HKSCS only.
    data = f"store_id,name\nS1,{name}\n".encode("big5hkscs" if encoding == "big5" else encoding)
    assert decode_text(data) == (f"store_id,name\nS1,{name}\n", encoding)


def test_lists_of_everyday_characters_are_told_apart_short_or_long() -> None:
    """Lists of one to three names (too short for the detector) and of forty (long enough)."""
    simplified = [
        bytes([a, b]).decode("gb2312") for a in range(0xB0, 0xD7) for b in range(0xA1, 0xFF)
    ]
    traditional = []
    for code in range(0xA440, 0xC67F):
        try:
            traditional.append(code.to_bytes(2, "big").decode("big5"))
        except UnicodeDecodeError:
            continue
    rng = random.Random(12)
    for alphabet, encoding in ((simplified, "gb18030"), (traditional, "big5")):
        for rows in [1, 2, 3] * 50 + [40] * 30:
            text = "store_id,name\n" + "".join(
                f"S{i},{''.join(rng.choices(alphabet, k=rng.randint(2, 5)))}店\n"
                for i in range(rows)
            )
            assert decode_text(text.encode(encoding))[1] == encoding, text


def test_a_named_encoding_is_used_and_one_that_does_not_fit_is_refused() -> None:
    data = HONG_KONG.encode("big5")
    assert read(data, encoding="big5")[0][1] == "銅鑼灣店"
    with pytest.raises(ImportRejected) as info:
        read(data, encoding="utf-8")
    assert info.value.code == "wrong_encoding" and info.value.status == 422
    message = info.value.errors[0].message
    assert message.startswith("文件不是 UTF-8 编码：第 2 行的字节 0xbb 不是其中的字符")
    assert "the file is not utf-8 text: byte 0xbb on line 2" in message


@pytest.mark.parametrize(
    ("text", "written", "named", "detected"),
    [
        (HONG_KONG, "big5", "gb18030", "big5"),  # decodes without a bad byte, into garbage
        (SHANGHAI, "gb18030", "big5", "gb18030"),
        (SHANGHAI, "gb18030", "utf-16", "gb18030"),  # one line of ideographs, no line breaks
        (HONG_KONG, "big5", "utf-16", "big5"),
    ],
)
def test_a_named_encoding_that_reads_as_garbage_is_refused_with_what_fits(
    text: str, written: str, named: str, detected: str
) -> None:
    data = text.encode(written)
    with pytest.raises(ImportRejected) as info:
        read(data, encoding=named)
    assert info.value.code == "wrong_encoding" and info.value.status == 422
    message = info.value.errors[0].message
    assert f"not {named} text" in message and f"reads it as {detected}" in message
    assert read(data, encoding=detected)[0][1] == text.splitlines()[1].split(",")[1]


def test_encoding_names_are_the_four_read_with_their_usual_aliases() -> None:
    assert [
        parse_encoding(n) for n in ("auto", None, "", "UTF8", "GBK", "Big5-HKSCS", "utf-16le")
    ] == [
        None,
        None,
        None,
        "utf-8",
        "gb18030",
        "big5",
        "utf-16",
    ]
    with pytest.raises(BadInput) as info:
        parse_encoding("latin-1")
    assert info.value.code == "bad_encoding"


@pytest.mark.parametrize(
    "data",
    [
        "store_id,name\nS1,Café Crème\n".encode("latin-1"),
        "store_id,name,address\nS1,渋谷店,東京都渋谷区道玄坂二丁目\n".encode("shift_jis"),
        b"\x81\x30\xff\xff",
    ],
    ids=["latin1", "shift-jis", "broken"],
)
def test_text_in_no_candidate_encoding_is_refused_with_a_stable_code(data: bytes) -> None:
    with pytest.raises(ImportRejected) as info:
        read(data)
    assert info.value.code == "unknown_encoding"
    assert "choose its encoding" in info.value.errors[0].message


def test_a_json_file_in_utf16_is_read_as_json() -> None:
    data = '[{"store_id": "S1", "name": "銅鑼灣店"}]'.encode("utf-16")
    table = read_table(data, "upload", "stores", 1_000, 10)
    assert (table.format, table.encoding, table.rows) == (
        "json",
        "utf-16",
        [(1, {"store_id": "S1", "name": "銅鑼灣店"})],
    )


# ---- workbooks that lie about their size ------------------------------------------------------


def workbook_with_dimension(ref: str | None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(1, 4):
        sheet.append([f"S{i}", f"店{i}", "上海", "路", 31.2 + i / 100, 121.4, "gcj02"])
    buf = io.BytesIO()
    book.save(buf)
    if ref is None:
        return buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body, count = re.subn(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), body
                )
                assert count == 1
            dst.writestr(item, body)
    return out.getvalue()


@pytest.mark.parametrize("ref", [None, "A1", "A1:G2", "A1:C1"])
def test_every_row_of_a_workbook_is_read_whatever_size_it_declares(ref: str | None) -> None:
    rows = read(workbook_with_dimension(ref), "stores.xlsx")
    assert [r[:2] for r in rows] == [["S1", "店1"], ["S2", "店2"], ["S3", "店3"]]
    assert rows[2][4] == "31.23"


def test_a_workbook_cell_escaped_by_its_writer_reads_as_the_text_it_holds() -> None:
    book = openpyxl.Workbook()
    book.active.append(["store_id", "name"])
    # How Excel stores a carriage return and a literal "_x0041_" in a cell.
    book.active.append(["S1", "two_x000D_\nlines, literal _x005F_x0041_"])
    buf = io.BytesIO()
    book.save(buf)
    assert read(buf.getvalue(), "s.xlsx") == [["S1", "two\r\nlines, literal _x0041_"]]
