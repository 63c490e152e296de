"""Whatever bytes ops (or anyone) upload, the parsers answer with a table or a clear rejection,
never a crash: random bytes, broken CSV/JSON, and real workbooks with bytes flipped."""

from __future__ import annotations

import io

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.errors import HuomaError
from router.ops.uploads import KINDS, ImportRejected, read_table

MAX_BYTES = 1_000_000
MAX_ROWS = 1_000


def parse(data: bytes, filename: str, kind: str) -> None:
    try:
        read_table(data, filename, kind, MAX_BYTES, MAX_ROWS)
    except HuomaError as exc:  # ImportRejected, BadInput: the clear 4xx answers
        assert exc.status < 500 and exc.message


def workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["store_id", "name", "city", "address", "lat", "lng", "coord"])
    for i in range(20):
        sheet.append([f"S{i}", f"店{i}", "上海", "路", 31.2 + i / 100, 121.4, "gcj02"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


WORKBOOK = workbook()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=2_000),
    filename=st.sampled_from(["f.csv", "f.json", "f.xlsx", "f.txt", None, "f"]),
    kind=st.sampled_from(KINDS),
)
def test_random_bytes_are_a_table_or_a_clear_rejection(
    data: bytes, filename: str | None, kind: str
) -> None:
    parse(data, filename or "", kind)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=500),
    kind=st.sampled_from(KINDS),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_any_text_as_csv_or_json_is_a_table_or_a_clear_rejection(
    text: str, kind: str, encoding: str
) -> None:
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    parse(data, "f.csv", kind)
    parse(data, "f.json", kind)


@settings(max_examples=150, deadline=None)
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(WORKBOOK) - 1), st.integers(1, 255)), min_size=1, max_size=8
    )
)
def test_a_damaged_workbook_is_a_clear_rejection_or_still_read(
    flips: list[tuple[int, int]],
) -> None:
    data = bytearray(WORKBOOK)
    for at, xor in flips:
        data[at] ^= xor
    parse(bytes(data), "stores.xlsx", "stores")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xef\xbb\xbf",
        b"store_id\n" + b"x\n" * 2_000,  # more rows than allowed
        b'[{"store_id": 1}' * 3,
        b"{}",
        b"null",
        b'"just a string"',
        b"PK\x03\x04" + b"\x00" * 100,
        b'store_id,name\n"unterminated,quote\n',
        b"\x00\x01\x02\x03" * 100,
    ],
)
def test_a_corpus_of_malformed_files_is_rejected_clearly(data: bytes) -> None:
    for name in ("f.csv", "f.json", "f.xlsx"):
        parse(data, name, "stores")


def test_a_workbook_needing_a_zip_version_python_cannot_read_is_a_clear_rejection() -> None:
    # Found by the fuzzing above: zipfile raises NotImplementedError for "zip file version 8.4".
    central = WORKBOOK.find(b"PK\x01\x02")
    data = bytearray(WORKBOOK)
    data[central + 6] = 84
    with pytest.raises(ImportRejected) as info:
        read_table(bytes(data), "stores.xlsx", "stores", MAX_BYTES, MAX_ROWS)
    assert info.value.status == 422 and "not a readable XLSX file" in info.value.message
