"""Headers as ops write them: aliases in Chinese and English, title rows, the data on another sheet,
one cell of both coordinates, messages by code in both languages and grouped."""

from __future__ import annotations

import io
import math
import zoneinfo
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from router.ops.uploads import ImportRejected, group_errors, pick_language, read_table
from router.ops.uploads.headers import ALIASES, field_of, header_key
from router.ops.uploads.rows import validate_groups, validate_stores

LIMITS = {"max_bytes": 1_000_000, "max_rows": 1000}

ZH_STORES = [
    "门店编号",
    "门店名称",
    "省份",
    "城市",
    "区县",
    "大区",
    "详细地址",
    "纬度",
    "经度",
    "坐标系",
]
EN_STORES = [
    "Store Number",
    "Store Name",
    "State/Province",
    "City",
    "District",
    "Region",
    "Street Address",
    "Latitude",
    "Longitude",
    "Coordinate System",
]
ZH_ROW = [
    "SH001",
    "人民广场店",
    "上海",
    "上海",
    "黄浦区",
    "华东大区",
    "人民大道 1 号",
    "31.2304",
    "121.4737",
    "gcj02",
]


def xlsx(*sheets: tuple[str, list[list[Any]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[list[str]]) -> bytes:
    return "\r\n".join(",".join(r) for r in rows).encode()


def stores(data: bytes, name: str) -> Any:
    table = read_table(data, name, "stores", **LIMITS)
    valid, errors, ignored = validate_stores(table)
    return table, valid, errors, ignored


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("纬度(°)", "lat"),
        ("经度（度）", "lng"),
        ("ＬＡＴＩＴＵＤＥ", "lat"),  # full-width forms
        (" store  number ", "store_id"),
        ("STORE_NUMBER", "store_id"),
        ("门店ID", "store_id"),
        ("门店编码", "store_id"),
        ("坐标来源", "coord"),
        ("Coordinate System", "coord"),
        ("经纬度", "coordinates"),
        ("lng,lat", "coordinates"),
        ("lng，lat", "coordinates"),  # full-width comma
        ("详细地址【必填】", "address"),
        ("*门店名称", "name"),
        ("省/直辖市", "province"),
        ("大区", "region"),
        ("区域", "region"),
        ("区", "district"),
        ("store_id", "store_id"),  # today's names stay
        ("Remarks", None),
    ],
)
def test_a_store_header_is_read_whatever_its_case_spacing_width_or_unit(
    header: str, field: str | None
) -> None:
    assert field_of("stores", header) == field


def test_no_two_fields_of_a_kind_share_a_header_name() -> None:
    for kind, fields in ALIASES.items():
        seen: dict[str, str] = {}
        for name, aliases in fields.items():
            for alias in aliases:
                key = header_key(alias)
                assert seen.setdefault(key, name) == name, (kind, alias)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("群编号", "group_id"),
        ("群名称", "name"),
        ("门店编号", "store_id"),
        ("群二维码内容", "qr_payload"),
        ("容量", "capacity"),
        ("人数上限", "capacity"),
        ("当前人数", "member_count"),
        ("有效期至", "expires_at"),
        ("排序", "position"),
        ("Group ID", "group_id"),
        ("Group Name", "name"),
        ("Store Number", "store_id"),
        ("QR Content", "qr_payload"),
        ("Capacity", "capacity"),
        ("Member Count", "member_count"),
        ("Expires At", "expires_at"),
    ],
)
def test_a_group_header_is_read_in_chinese_and_english(header: str, field: str) -> None:
    assert field_of("groups", header) == field


@pytest.mark.parametrize("header", [ZH_STORES, EN_STORES], ids=["zh", "en"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_store_list_with_its_own_headers_is_read_and_says_what_each_column_was(
    header: list[str], fmt: str
) -> None:
    rows = [[*header, "备注"], [*ZH_ROW, "x"]]
    data = csv_bytes(rows) if fmt == "csv" else xlsx(("门店", rows))
    table, valid, errors, ignored = stores(data, f"s.{fmt}")
    assert errors == []
    assert ignored == ["备注"]
    (row,) = valid
    assert (row.store_id, row.province, row.district, row.region) == (
        "SH001",
        "上海",
        "黄浦区",
        "华东大区",
    )
    assert (row.source_lat, row.source_lng) == (31.2304, 121.4737)
    mapping = table.mapping.as_dict()
    assert mapping["header_row"] == 1
    assert mapping["ignored"] == ["备注"]
    read_as = {c["header"]: c["field"] for c in mapping["columns"]}
    assert read_as[header[0]] == "store_id" and read_as[header[7]] == "lat"
    assert read_as["备注"] is None


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_title_rows_above_the_header_are_skipped_and_rows_keep_their_spreadsheet_numbers(
    fmt: str,
) -> None:
    rows = [
        ["XX 品牌门店清单（2026 年 11 月导出）"],
        ["导出人：张三"],
        [],
        ZH_STORES,
        ZH_ROW,
        [*ZH_ROW[:1], "", *ZH_ROW[2:]],
    ]
    if fmt == "csv":
        rows[2] = [""]
        data = csv_bytes(rows)
    else:
        data = xlsx(("门店", rows))
    table, valid, errors, _ = stores(data, f"s.{fmt}")
    assert table.mapping.header_row == 4
    assert [r.store_id for r in valid] == ["SH001"]
    assert [(e.row, e.column, e.code) for e in errors] == [
        (6, "store_id", "duplicate"),
        (6, "name", "required"),
    ]


def test_the_data_sheet_is_found_after_an_instructions_sheet_and_named() -> None:
    instructions = [["列名", "说明"], ["门店编号", "必填，门店的唯一编号"], ["纬度", "必填"]]
    data = xlsx(("说明", instructions), ("门店列表", [["门店清单"], ZH_STORES, ZH_ROW]))
    table, valid, errors, _ = stores(data, "erp.xlsx")
    assert errors == [] and len(valid) == 1
    assert table.mapping.as_dict()["sheet"] == "门店列表"
    assert table.mapping.header_row == 2


def test_a_workbook_without_a_recognised_sheet_says_which_columns_are_missing() -> None:
    data = xlsx(
        ("说明", [["列名", "说明"], ["门店编号", "必填"]]), ("其他", [["a", "b"], ["1", "2"]])
    )
    with pytest.raises(ImportRejected) as caught:
        stores(data, "x.xlsx")
    (error,) = caught.value.errors
    assert error.code == "missing_columns"
    assert "缺少列" in error.text("zh") and "missing column" in error.text("en")


def test_two_columns_read_as_one_field_refuse_the_file() -> None:
    data = csv_bytes([["门店编号", "地址", "详细地址"], ["S1", "a", "b"]])
    with pytest.raises(ImportRejected) as caught:
        read_table(data, "s.csv", "stores", **LIMITS)
    (error,) = caught.value.errors
    assert error.code == "duplicate_column"
    assert "「地址」和「详细地址」" in error.text("zh")


COORD_HEADER = ["门店编号", "门店名称", "城市", "详细地址", "经纬度", "坐标系"]


@pytest.mark.parametrize(
    ("cell", "lat", "lng"),
    [
        ("121.473701,31.230416", 31.230416, 121.473701),  # AMap / Tencent copy: lng first
        ("31.230416,121.473701", 31.230416, 121.473701),  # lat first
        ("121.473701，31.230416", 31.230416, 121.473701),  # full-width comma
        ("121.473701 31.230416", 31.230416, 121.473701),
        ("lng:121.480237,lat:31.236305", 31.236305, 121.480237),  # Baidu's picker, labelled
        ("纬度:31.2 经度:121.4", 31.2, 121.4),
        ("-122.4194,37.7749", 37.7749, -122.4194),  # the west: a negative longitude
    ],
)
def test_one_cell_of_both_coordinates_is_read_in_either_order(
    cell: str, lat: float, lng: float
) -> None:
    data = csv_bytes([COORD_HEADER, ["S1", "店", "上海", "x", f'"{cell}"', "bd09"]])
    _, valid, errors, _ = stores(data, "s.csv")
    assert errors == []
    assert (valid[0].source_lat, valid[0].source_lng) == (lat, lng)


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("31.2,45.6", "ambiguous_coordinates"),
        ("22.3,88", "ambiguous_coordinates"),
        ("200,300", "out_of_range"),
        ("121.47", "bad_coordinates"),
        ("上海", "bad_coordinates"),
        ("", "required"),
    ],
)
def test_a_coordinates_cell_that_cannot_be_read_one_way_is_refused_saying_why(
    cell: str, code: str
) -> None:
    data = csv_bytes([COORD_HEADER, ["S1", "店", "上海", "x", f'"{cell}"', "gcj02"]])
    _, valid, errors, _ = stores(data, "s.csv")
    assert valid == []
    assert [(e.column, e.code) for e in errors] == [("coordinates", code)]
    if code == "ambiguous_coordinates":
        assert "无法判断哪个是经度" in errors[0].text("zh")
        assert "cannot be told" in errors[0].text("en")


def test_a_group_list_with_chinese_headers_is_read() -> None:
    header = [
        "群编号",
        "门店编号",
        "群名称",
        "群二维码内容",
        "人数上限",
        "当前人数",
        "有效期至",
        "排序",
    ]
    row = ["G1", "SH001", "1 群", "https://work.weixin.qq.com/gm/x", "180", "12", "2030-01-01", "2"]
    table = read_table(csv_bytes([["群清单"], header, row]), "g.csv", "groups", **LIMITS)
    valid, errors, ignored = validate_groups(table, zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert errors == [] and ignored == []
    assert (valid[0].capacity, valid[0].member_count, valid[0].position) == (180, 12, 2)


def test_repeated_problems_are_grouped_by_kind_with_row_ranges_in_both_languages() -> None:
    rows = [ZH_STORES] + [[f"S{i}", *ZH_ROW[1:9], "墨卡托"] for i in range(50)]
    rows.append(["S99", "", *ZH_ROW[2:]])
    rows.append([f"S{60}", *ZH_ROW[1:9], "墨卡托"])
    _, _, errors, _ = stores(csv_bytes(rows), "s.csv")
    assert len(errors) == 52  # per-row detail stays for machines
    grouped = group_errors(errors, "zh")
    assert [(g["code"], g["rows"][:1], g["count"]) for g in grouped] == [
        ("bad_coord", [2], 51),
        ("required", [52], 1),
    ]
    assert grouped[0]["message"].startswith("第2-51、53行 coord「墨卡托」：")
    english = group_errors(errors, "en")[0]["message"]
    assert english.startswith("rows 2-51, 53 coord '墨卡托': ")
    both = group_errors(errors)[0]["message"]
    assert both.index("第2-51") < both.index("rows 2-51")
    rejected = ImportRejected(errors, "zh")
    assert rejected.message.startswith("52 处错误（2 类）")
    assert rejected.details()["grouped"][0]["count"] == 51


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, None),
        ("", None),
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("fr-FR,en;q=0.5,zh;q=0.4", "en"),
        ("en;q=0.2,zh;q=0.8", "zh"),
        ("de", None),
        ("en;q=0", None),
    ],
)
def test_the_message_language_follows_accept_language(header: str | None, lang: str | None) -> None:
    assert pick_language(header) == lang


def test_json_keys_are_read_as_headers_too() -> None:
    data = '[{"门店编号": "S1", "门店名称": "店", "城市": "上海", "地址": "x", "经纬度": "121.47,31.23", "坐标系": "gcj02"}]'
    _, valid, errors, _ = stores(data.encode(), "s.json")
    assert errors == [] and math.isclose(valid[0].source_lat, 31.23)


def test_the_readme_lists_every_store_and_group_header_name() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("### Accepted headers", 1)[1].split("\n### ", 1)[0]
    for kind in ("stores", "groups"):
        for name, aliases in ALIASES[kind].items():
            for alias in aliases:
                if alias == name or (kind == "groups" and name == "store_id"):
                    continue
                assert alias in section, (kind, name, alias)
