"""Plausibility warnings on store uploads (issue 16): each kind with the issue's inputs."""

from __future__ import annotations

from geo.coords import Coord, CoordSystem, Shift, to_system
from geo.distance import haversine_m
from router.ops.upload_review import checks as review_checks
from router.ops.uploads.checks import (
    Checks,
    Limits,
    Located,
    address_key,
    check_stores,
    collapse_swapped_columns,
    example_rows,
)
from router.ops.uploads.model import Table
from router.ops.uploads.rows import validate_stores
from router.settings import Settings

HEADER = ("store_id", "name", "city", "address", "lng", "lat", "coord")


def table(*rows: tuple[str, ...], header: tuple[str, ...] = HEADER) -> Table:
    return Table(
        header, [(n, dict(zip(header, r, strict=True))) for n, r in enumerate(rows, start=2)]
    )


def warnings(t: Table, checks: Checks | None = None) -> list[tuple[int, str, str]]:
    rows, errors, _ = validate_stores(t)
    assert errors == []
    found = check_stores(rows, [n for n, _ in t.rows], checks or Checks())
    return [(w.row, w.code, w.text()) for w in found]


def test_the_kashgar_row_with_latitude_and_longitude_swapped_is_said_to_be_swapped() -> None:
    # The row: lng 75.9897 lat 39.4704 would be right; given as lng 39.47, lat 75.99 it
    # stays in range and lands in the Barents Sea.
    t = table(("ks-1", "喀什店", "喀什", "x", "39.4704", "75.9897", "gcj02"))
    [(row, code, text)] = warnings(t)
    assert (row, code) == (2, "swapped_coordinates")
    assert text.startswith("经纬度可能填反了")
    assert "swapped" in text


def test_the_same_row_the_right_way_round_is_fine() -> None:
    t = table(("ks-1", "喀什店", "喀什", "x", "75.9897", "39.4704", "gcj02"))
    assert warnings(t) == []


def test_a_whole_file_swapped_is_said_once_for_the_file() -> None:
    t = table(
        ("ks-1", "喀什店", "喀什", "x", "39.4704", "75.9897", "gcj02"),
        ("ks-2", "喀什二店", "喀什", "x", "39.4710", "75.9900", "gcj02"),
        ("ks-3", "喀什三店", "喀什地区", "x", "39.4690", "75.9880", "gcj02"),
        ("ks-4", "喀什四店", "喀什市", "x", "39.4720", "75.9870", "gcj02"),
    )
    found = warnings(t)
    assert [(r, c) for r, c, _ in found] == [(0, "file_swapped_coordinates")]
    assert "整个文件的经纬度两列可能填反了" in found[0][2]


def test_a_shanghai_store_at_beijings_guomao_is_far_from_its_city() -> None:
    t = table(("SH9", "国贸店", "上海", "x", "116.4612", "39.9088", "gcj02"))
    [(row, code, text)] = warnings(t)
    assert (row, code) == (2, "far_from_city")
    assert "上海" in text and "公里" in text and "km" in text


def test_a_store_abroad_is_fine_when_its_city_is_abroad() -> None:
    t = table(("LDN1", "London", "London", "x", "-0.1276", "51.5072", "wgs84"))
    assert warnings(t) == []


def test_a_store_far_from_its_district_is_warned_about() -> None:
    header = (*HEADER, "district")
    # 嘉定 is 30 km from the centre of 上海 but 28 km from 浦东新区 only at its far edge: a tight
    # district radius catches a store in 嘉定 labelled 浦东.
    t = table(
        ("SH5", "嘉定店", "上海", "x", "121.2655", "31.3750", "gcj02", "浦东新区"), header=header
    )
    found = warnings(t, Checks(Limits(district_radius_m=15_000)))
    assert [(r, c) for r, c, _ in found] == [(2, "far_from_district")]


def test_a_service_area_far_from_its_store_is_warned_about() -> None:
    header = (*HEADER, "service_area")
    far = "POLYGON((121.90 31.00, 121.95 31.00, 121.95 31.05, 121.90 31.05, 121.90 31.00))"  # ~45 km east of 人民广场
    near = "POLYGON((121.46 31.22, 121.49 31.22, 121.49 31.24, 121.46 31.24, 121.46 31.22))"
    t = table(
        ("SH1", "人民广场店", "上海", "x", "121.4737", "31.2304", "gcj02", far),
        ("SH2", "人民广场二店", "上海", "x", "121.4740", "31.2310", "gcj02", near),
        header=header,
    )
    assert [(r, c) for r, c, _ in warnings(t)] == [(2, "area_far_from_store")]


def test_baidu_coordinates_labelled_amap_are_said_to_be_baidu() -> None:
    # 人民广场店: AMap's point, and the same place in Baidu's system, labelled gcj02 (AMap).
    amap = Coord(31.230416, 121.473701, CoordSystem.GCJ02, Shift.MAINLAND)
    baidu = to_system(amap, CoordSystem.BD09, Shift.MAINLAND)
    moved = haversine_m(amap.lat, amap.lng, baidu.lat, baidu.lng)
    assert 850 < moved < 950  # the "moves 905 m"
    address = "黄浦区人民大道 120 号"
    t = table(("SH1", "人民广场店", "上海", address, str(baidu.lng), str(baidu.lat), "amap"))
    geocoded = Checks(geocodes={address_key("上海", address): Located(amap.lat, amap.lng)})
    [(row, code, text)] = warnings(t, geocoded)
    assert (row, code) == (2, "wrong_coord_system")
    assert text.startswith("坐标可能是百度坐标")
    # Without a geocode (no key configured) nothing is said, and right labels are quiet.
    assert warnings(t) == []
    right = table(("SH1", "人民广场店", "上海", address, str(baidu.lng), str(baidu.lat), "baidu"))
    assert warnings(right, geocoded) == []


def test_stores_stacked_on_one_point_are_counted() -> None:
    rows = [(f"S{i}", f"店{i}", "上海", "x", "121.47", "31.23", "gcj02") for i in range(4)]
    t = table(*rows, ("S9", "别的店", "上海", "x", "121.4737", "31.2304", "gcj02"))
    found = warnings(t)
    assert [(r, c) for r, c, _ in found] == [(n, "stacked_points") for n in range(2, 6)]
    assert all("4 家门店在同一个点上" in text for _, _, text in found)
    assert warnings(table(*rows[:2])) == []  # below HUOMA_UPLOAD_STACK_MIN


def test_the_templates_example_row_is_found_and_a_look_alike_is_not() -> None:
    examples = review_checks(Settings()).examples["stores"]
    header = tuple(examples)
    example = tuple(examples.values())
    real = ("SH001", "人民广场店", "上海", "黄浦区人民大道120号", *example[4:])
    t = table(example, real, header=header)
    assert example_rows(t, "stores", examples) == [(2, "SH001")]


def test_a_file_with_its_two_coordinate_columns_swapped_gets_one_sentence() -> None:
    # lat holds longitudes (beyond 90): each row alone is an out-of-range error.
    rows = [(f"S{i}", f"店{i}", "上海", "x", "31.23", f"121.{i:04d}", "gcj02") for i in range(1000)]
    t = table(*rows)
    _, errors, _ = validate_stores(t)
    assert len(errors) == 1000
    [one] = collapse_swapped_columns(errors, len(t.rows))
    assert (one.row, one.code) == (0, "columns_swapped")
    assert one.text().startswith("经纬度两列填反了")
    # One wrong row in a good file stays that row's own error.
    good = [(f"S{i}", f"店{i}", "上海", "x", "121.47", "31.23", "gcj02") for i in range(9)]
    t = table(*good, ("BAD", "坏店", "上海", "x", "31.23", "121.47", "gcj02"))
    _, errors, _ = validate_stores(t)
    assert collapse_swapped_columns(errors, len(t.rows)) == errors
