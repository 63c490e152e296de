"""Service areas: parsed from WKT or GeoJSON, converted to GCJ-02, and looked up per point."""

from __future__ import annotations

import json

import pytest
import shapely.wkt

from geo.areas import AreaError, ServiceAreas, parse_area
from geo.coords import CoordSystem, wgs84_to_gcj02

SQUARE_WKT = "POLYGON((121.40 31.20, 121.50 31.20, 121.50 31.30, 121.40 31.30, 121.40 31.20))"


def test_wkt_and_geojson_give_the_same_area() -> None:
    geojson = json.dumps(
        {
            "type": "Polygon",
            "coordinates": [
                [
                    [121.40, 31.20],
                    [121.50, 31.20],
                    [121.50, 31.30],
                    [121.40, 31.30],
                    [121.40, 31.20],
                ]
            ],
        }
    )
    a = parse_area(SQUARE_WKT, CoordSystem.GCJ02)
    b = parse_area(geojson, CoordSystem.GCJ02)
    assert a.equals(b)
    feature = json.dumps({"type": "Feature", "properties": {}, "geometry": json.loads(geojson)})
    assert parse_area(feature, CoordSystem.GCJ02).equals(a)


def test_an_area_in_wgs84_is_shifted_into_gcj02_vertex_by_vertex() -> None:
    area = parse_area(SQUARE_WKT, CoordSystem.WGS84)
    lng, lat = area.exterior.coords[0]  # type: ignore[union-attr]
    assert (lat, lng) == pytest.approx(wgs84_to_gcj02(31.20, 121.40))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("POINT(121 31)", "Polygon or MultiPolygon"),
        ("POLYGON((", "not valid WKT or GeoJSON"),
        ('{"type": "Polygon"}', "not valid WKT or GeoJSON"),
        ("[1, 2]", "not valid WKT or GeoJSON"),
        ("POLYGON((121 31, 122 32, 122 31, 121 32, 121 31))", "not a valid polygon"),
        ("POLYGON((121 31, 121 95, 122 31, 121 31))", "vertex"),
        ("POLYGON EMPTY", "empty"),
    ],
)
def test_unusable_areas_are_rejected_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(AreaError, match=message):
        parse_area(text, CoordSystem.GCJ02)


def test_points_inside_outside_and_in_overlaps() -> None:
    a = parse_area(SQUARE_WKT, CoordSystem.GCJ02)
    b = parse_area(
        "POLYGON((121.45 31.25, 121.60 31.25, 121.60 31.35, 121.45 31.35, 121.45 31.25))",
        CoordSystem.GCJ02,
    )
    areas = ServiceAreas([(7, a), (9, b)])
    assert areas.containing(31.21, 121.41) == (7,)
    assert sorted(areas.containing(31.28, 121.48)) == [7, 9]
    assert areas.containing(31.34, 121.59) == (9,)
    assert areas.containing(31.0, 121.0) == ()
    # Again, now from the cache: the same answers.
    assert sorted(areas.containing(31.28, 121.48)) == [7, 9]
    assert areas.containing(31.0, 121.0) == ()


def test_a_point_near_an_edge_is_tested_exactly() -> None:
    areas = ServiceAreas([(1, parse_area(SQUARE_WKT, CoordSystem.GCJ02))])
    assert areas.containing(31.2499, 121.49999) == (1,)
    assert areas.containing(31.2499, 121.50001) == ()


def test_no_areas_answer_nothing() -> None:
    assert ServiceAreas([]).containing(31.0, 121.0) == ()


def test_an_area_across_the_hong_kong_border_is_stored_not_refused() -> None:
    # Drawn in WGS-84 across the Shenzhen River: valid as drawn, but its mainland vertices shift
    # ~500 m into GCJ-02 and the others do not, so the converted copy crossed itself and the upload
    # was refused (found by the border property test). It is repaired, and routing uses the area
    # as drawn (converted to WGS-84, here unchanged).
    drawn = (
        "POLYGON((114.0625 22.484375, 114.06640625 22.484375, 114.06640625 22.515625, "
        "114.0625 22.515625, 114.0625 22.484375))"
    )
    stored = parse_area(drawn, CoordSystem.WGS84)
    assert stored.is_valid and stored.area > 0
    real = parse_area(drawn, CoordSystem.WGS84, into=CoordSystem.WGS84)
    assert real.equals(shapely.wkt.loads(drawn))
    with pytest.raises(AreaError, match="not a valid polygon"):  # invalid as drawn: refused
        parse_area("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))", CoordSystem.WGS84)
