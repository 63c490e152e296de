"""Coordinate systems: published reference values, round trips, and where GCJ-02 applies."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import (
    Coord,
    CoordError,
    CoordSystem,
    bd09_to_gcj02,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_gcj02,
    to_system,
    wgs84_to_gcj02,
)
from geo.distance import haversine_m
from geo.mainland import in_mainland_china

# (wgs lat, wgs lng) -> (gcj lat, gcj lng), as published with two widely used open-source
# converters (eviltransform's test table; coordtransform's README example).
PUBLISHED_WGS_TO_GCJ = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
    ((39.915, 116.404), (39.91640428150164, 116.41024449916938)),  # Beijing (coordtransform)
]


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED_WGS_TO_GCJ)
def test_wgs84_to_gcj02_matches_published_values(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    lat, lng = wgs84_to_gcj02(*wgs)
    assert lat == pytest.approx(gcj[0], abs=1e-12)
    assert lng == pytest.approx(gcj[1], abs=1e-12)


def test_gcj02_to_bd09_matches_published_value() -> None:
    lat, lng = gcj02_to_bd09(39.915, 116.404)
    assert (lat, lng) == pytest.approx((39.92133699351021, 116.41036949371029), abs=1e-12)


def test_bd09_to_gcj02_is_close_to_baidus_approximate_inverse_and_exact_on_the_way_back() -> None:
    lat, lng = bd09_to_gcj02(39.915, 116.404)
    # Baidu's published inverse gives (39.90865673957631, 116.39762729119315); it is approximate,
    # ours is refined, so they agree to a few decimetres and ours maps back exactly.
    assert haversine_m(lat, lng, 39.90865673957631, 116.39762729119315) < 1.0
    back = gcj02_to_bd09(lat, lng)
    assert haversine_m(*back, 39.915, 116.404) < 0.001


china_points = st.tuples(
    st.floats(min_value=18.3, max_value=45.0), st.floats(min_value=100.0, max_value=122.0)
).filter(lambda p: in_mainland_china(*p))


@settings(max_examples=300, deadline=None)
@given(china_points)
def test_gcj02_to_wgs84_inverts_the_forward_formula_to_under_a_centimetre(
    p: tuple[float, float],
) -> None:
    gcj = wgs84_to_gcj02(*p)
    back = gcj02_to_wgs84(*gcj)
    assert haversine_m(*back, *p) < 0.01


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(
        st.floats(min_value=-80.0, max_value=80.0), st.floats(min_value=-179.0, max_value=179.0)
    )
)
def test_bd09_round_trip_is_exact_anywhere(p: tuple[float, float]) -> None:
    bd = gcj02_to_bd09(*p)
    back = bd09_to_gcj02(*bd)
    assert haversine_m(*back, *p) < 0.01


def test_a_mainland_point_shifted_across_the_outline_still_round_trips() -> None:
    # In Dongxing, on the Beilun river across from Mong Cai (Vietnam), the shift carries this point
    # across the border; the inverse must still find the mainland preimage.
    p = (21.5365, 107.956)
    gcj = wgs84_to_gcj02(*p)
    assert not in_mainland_china(*gcj)
    assert haversine_m(*gcj02_to_wgs84(*gcj), *p) < 0.01


def test_the_gcj02_shift_in_mainland_cities_is_tens_to_hundreds_of_metres() -> None:
    for lat, lng in [(39.9, 116.4), (31.23, 121.47), (23.13, 113.26), (43.8, 87.6)]:
        shifted = wgs84_to_gcj02(lat, lng)
        assert 20 < haversine_m(lat, lng, *shifted) < 1000


MAINLAND = {
    "Beijing": (39.9, 116.4),
    "Shanghai": (31.23, 121.47),
    "Shenzhen Futian, across the river from Hong Kong": (22.54, 114.055),
    "Shenzhen Luohu": (22.545, 114.12),
    "Shenzhen Shekou": (22.48, 113.915),
    "Zhuhai, next to Macau": (22.27, 113.57),
    "Hengqin, west of Cotai": (22.12, 113.52),
    "Xiamen, next to Kinmen": (24.48, 118.09),
    "Huangqi peninsula, next to Matsu": (26.33, 119.9),
    "Urumqi": (43.8, 87.6),
    "Lhasa": (29.65, 91.1),
    "Kashgar": (39.47, 75.99),
    "Harbin": (45.75, 126.6),
    "Mohe": (52.97, 122.5),
    "Sanya, Hainan": (18.25, 109.5),
    "Manzhouli": (49.6, 117.43),
}
OUTSIDE = {
    "Hong Kong, Tsim Sha Tsui": (22.30, 114.17),
    "Hong Kong, Sheung Shui by the border": (22.50, 114.13),
    "Hong Kong, Yuen Long": (22.445, 114.03),
    "Hong Kong airport": (22.31, 113.92),
    # Guia Hill: a point nearer the Inner Harbour is the GCJ-02 of a Zhuhai point too (see
    # gcj02_to_wgs84), which decides for the mainland.
    "Macau peninsula, Guia Hill": (22.1968, 113.5497),
    "Macau, Taipa": (22.155, 113.56),
    "Taipei": (25.03, 121.56),
    "Kaohsiung": (22.62, 120.3),
    "Kinmen": (24.43, 118.32),
    "Matsu, Nangan": (26.16, 119.94),
    "Penghu": (23.57, 119.58),
    "Singapore (inside the usual bounding box)": (1.35, 103.82),
    "Seoul": (37.57, 126.98),
    "Pyongyang": (39.03, 125.75),
    "Hanoi": (21.03, 105.85),
    "Ulaanbaatar": (47.92, 106.92),
    "Tokyo": (35.68, 139.69),
    "Vladivostok": (43.1, 131.9),
}


@pytest.mark.parametrize("place", sorted(MAINLAND))
def test_gcj02_applies_in_mainland_china(place: str) -> None:
    lat, lng = MAINLAND[place]
    assert in_mainland_china(lat, lng)
    assert wgs84_to_gcj02(lat, lng) != (lat, lng)


@pytest.mark.parametrize("place", sorted(OUTSIDE))
def test_gcj02_equals_wgs84_outside_mainland_china(place: str) -> None:
    lat, lng = OUTSIDE[place]
    assert not in_mainland_china(lat, lng)
    assert wgs84_to_gcj02(lat, lng) == (lat, lng)
    assert gcj02_to_wgs84(lat, lng) == (lat, lng)


def test_a_coordinate_knows_its_system_and_converts_to_any_other() -> None:
    wgs = Coord(31.23, 121.47, CoordSystem.WGS84)
    bd = to_system(wgs, CoordSystem.BD09)
    assert bd.system is CoordSystem.BD09
    again = to_system(bd, CoordSystem.WGS84)
    assert haversine_m(again.lat, again.lng, wgs.lat, wgs.lng) < 0.01
    gcj = to_gcj02(wgs)
    assert gcj.system is CoordSystem.GCJ02
    assert to_gcj02(gcj) is gcj


def test_zero_is_a_valid_latitude_and_longitude() -> None:
    c = Coord(0.0, 0.0, CoordSystem.WGS84)
    assert (c.lat, c.lng) == (0.0, 0.0)
    assert to_gcj02(c).lat == 0.0


@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        (math.nan, 1.0),
        (1.0, math.nan),
        (math.inf, 1.0),
        (1.0, -math.inf),
        (90.0001, 0.0),
        (-91.0, 0.0),
        (0.0, 180.5),
        (0.0, -181.0),
    ],
)
def test_a_coordinate_rejects_what_is_not_a_place_on_earth(lat: float, lng: float) -> None:
    with pytest.raises(CoordError):
        Coord(lat, lng, CoordSystem.WGS84)


@pytest.mark.parametrize(
    ("text", "system"),
    [
        ("wgs84", CoordSystem.WGS84),
        ("WGS-84", CoordSystem.WGS84),
        ("gcj02", CoordSystem.GCJ02),
        ("GCJ-02", CoordSystem.GCJ02),
        ("bd09", CoordSystem.BD09),
        ("BD09LL", CoordSystem.BD09),
    ],
)
def test_coordinate_systems_accept_common_spellings(text: str, system: CoordSystem) -> None:
    assert CoordSystem.parse(text) is system


def test_an_unknown_coordinate_system_is_an_error_that_lists_the_known_ones() -> None:
    with pytest.raises(CoordError, match="wgs84, gcj02 or bd09"):
        CoordSystem.parse("mercator")


def test_conversions_near_the_poles_and_the_180th_meridian_stay_valid() -> None:
    for lat, lng in [(89.9999, 179.9999), (-89.9999, -179.9999), (0.0, 180.0), (90.0, 0.0)]:
        for system in CoordSystem:
            out = to_system(Coord(lat, lng, CoordSystem.WGS84), system)
            assert -90.0 <= out.lat <= 90.0
            assert -180.0 <= out.lng <= 180.0
