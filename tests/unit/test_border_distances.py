"""Distances and the nearest store are true great-circle values between real positions, whichever
side of the Hong Kong or Macau border a store or a phone is on, in whichever system either is given.

The reference is independent of Huoma's arithmetic: the standard GCJ-02 and BD-09 formulas from
`prcoords`, applied through its raw transforms (`check_china=False`; its own "in China" test is a
bounding box that would shift Hong Kong and Macau). Which side of the border a point is on, i.e.
whether GCJ-02 shifts it, is the service's own rule (`geo.mainland`): this checks the frame, not
the outline.
"""

from __future__ import annotations

import math

import prcoords
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geo.coords import Coord, CoordSystem
from geo.distance import haversine_m
from geo.mainland import in_mainland_china
from router.ops.uploads.rows import validate_stores
from router.scan.catalogue import Catalogue, build_catalogue
from router.scan.live import LeaseBook, LiveState, StickySigner
from router.scan.routing import MatchedBy, RoutePolicy, RouteQuery, route
from tests.conftest import table

# Boxes across the two borders (WGS-84 lat, lng ranges): Zhuhai and Hengqin with Macau, and
# Shenzhen with the New Territories and Kowloon.
REGIONS = {
    "macau": ((22.10, 22.30), (113.50, 113.62)),
    "hong_kong": ((22.40, 22.60), (113.95, 114.25)),
}
SYSTEMS = (CoordSystem.WGS84, CoordSystem.GCJ02, CoordSystem.BD09)
POLICY = RoutePolicy(
    max_distance_m=1e7, alternatives=3, coarse_accuracy_m=500.0, pin_max_distance_m=300.0
)


def reference_gcj(lat: float, lng: float) -> tuple[float, float]:
    """GCJ-02 of a real position: shifted on the mainland, as it is elsewhere."""
    if not in_mainland_china(lat, lng):
        return lat, lng
    g = prcoords.wgs_gcj((lat, lng), False)
    return g.lat, g.lon


def reference_in(system: CoordSystem, lat: float, lng: float) -> tuple[float, float]:
    if system is CoordSystem.WGS84:
        return lat, lng
    g = reference_gcj(lat, lng)
    if system is CoordSystem.GCJ02:
        return g
    b = prcoords.gcj_bd(g)
    return b.lat, b.lon


def unambiguous_gcj(lat: float, lng: float) -> bool:
    """True when the GCJ-02 form of this real position is the form of no other real position.

    Within about a kilometre of the border GCJ-02 folds: a shifted mainland point can land where
    an unshifted Hong Kong or Macau point is. Such a GCJ-02 point names two places and no service
    can tell which (the provider decides; a separate rule). Points given in WGS-84 never are.
    """
    g_lat, g_lng = reference_gcj(lat, lng)
    if in_mainland_china(lat, lng):
        # The other candidate: the GCJ-02 point itself, taken as an unshifted one.
        return in_mainland_china(g_lat, g_lng)
    # The other candidate: a mainland point the shift would carry here.
    v_lat, v_lng = g_lat, g_lng
    for _ in range(20):
        s = prcoords.wgs_gcj((v_lat, v_lng), False)
        v_lat, v_lng = v_lat - (s.lat - g_lat), v_lng - (s.lon - g_lng)
    return not in_mainland_china(v_lat, v_lng)


@st.composite
def places(draw: st.DrawFn, region: str, n_min: int, n_max: int) -> list[tuple[float, float]]:
    (lat0, lat1), (lng0, lng1) = REGIONS[region]
    point = st.tuples(st.floats(lat0, lat1), st.floats(lng0, lng1))
    return draw(st.lists(point, min_size=n_min, max_size=n_max))


def catalogue_from_upload(rows: list[dict[str, str]]) -> Catalogue:
    """Rows through the upload's own validation and conversion, then stored as the database
    would hold them, then built into a catalogue."""
    valid, errors, _ = validate_stores(table(rows))
    assert errors == []
    stored = [
        {
            "store_id": s.store_id, "name": s.name, "city": s.city, "address": s.address or "",
            "lat": s.lat, "lng": s.lng, "service_area": s.service_area or None,
            "source_lat": s.source_lat, "source_lng": s.source_lng,
            "source_coord": s.source_coord, "source_area": s.source_area or None,
        }
        for s in valid
    ]  # fmt: skip
    return build_catalogue(stored, [], [], k_max=8, cache_cells=1000)


def live() -> LiveState:
    return LiveState(LeaseBook(10), StickySigner(b"k" * 32))


def ask(cat: Catalogue, system: CoordSystem, lat: float, lng: float) -> tuple[str, float]:
    q = RouteQuery(Coord(lat, lng, system), 10.0, None, None, visitor="visitor-0001")
    result = route(cat, q, POLICY, 1_800_000_000.0, live())
    assert result.store is not None and result.distance_m is not None
    return result.store.store_id, result.distance_m


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), region=st.sampled_from(sorted(REGIONS)))
def test_the_nearest_store_and_its_distance_are_brute_force_over_real_positions_across_the_border(
    data: st.DataObject, region: str
) -> None:
    stores = data.draw(places(region, 1, 12), label="stores")
    systems = data.draw(st.lists(st.sampled_from(SYSTEMS), min_size=12, max_size=12))
    for (lat, lng), system in zip(stores, systems, strict=False):
        assume(system is CoordSystem.WGS84 or unambiguous_gcj(lat, lng))
    rows = []
    for i, ((lat, lng), system) in enumerate(zip(stores, systems, strict=False)):
        s_lat, s_lng = reference_in(system, lat, lng)
        rows.append(
            {"store_id": f"s{i}", "name": f"店{i}", "city": "x", "address": "x",
             "lat": repr(s_lat), "lng": repr(s_lng), "coord": system.value}
        )  # fmt: skip
    cat = catalogue_from_upload(rows)

    phone = data.draw(places(region, 1, 1), label="phone")[0]
    phone_system = data.draw(st.sampled_from(SYSTEMS), label="phone_system")
    assume(phone_system is CoordSystem.WGS84 or unambiguous_gcj(*phone))
    truth = sorted((haversine_m(*phone, *p), i) for i, p in enumerate(stores))
    store_id, distance_m = ask(cat, phone_system, *reference_in(phone_system, *phone))

    assert distance_m == pytest.approx(truth[0][0], abs=0.01)
    assert haversine_m(*phone, *stores[int(store_id[1:])]) == pytest.approx(truth[0][0], abs=0.01)


@st.composite
def rectangle(draw: st.DrawFn, region: str) -> list[tuple[float, float]]:
    """A real (WGS-84) rectangle's corners, 300 m to 6 km a side, in the region."""
    (lat0, lat1), (lng0, lng1) = REGIONS[region]
    lat = draw(st.floats(lat0, lat1 - 0.06))
    lng = draw(st.floats(lng0, lng1 - 0.06))
    d_lat = draw(st.floats(0.003, 0.055))
    d_lng = draw(st.floats(0.003, 0.055))
    return [(lat, lng), (lat, lng + d_lng), (lat + d_lat, lng + d_lng), (lat + d_lat, lng)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), region=st.sampled_from(sorted(REGIONS)))
def test_a_service_area_contains_the_real_position_whichever_systems_it_and_the_phone_are_in(
    data: st.DataObject, region: str
) -> None:
    corners = data.draw(rectangle(region), label="area")
    area_system = data.draw(st.sampled_from(SYSTEMS), label="area_system")
    if area_system is not CoordSystem.WGS84:
        assume(all(unambiguous_gcj(*c) for c in corners))
    vertices = [reference_in(area_system, *c) for c in [*corners, corners[0]]]
    area_text = "POLYGON(({}))".format(", ".join(f"{lng!r} {lat!r}" for lat, lng in vertices))
    # The area's store stands far away, so only the area can send a customer there.
    far_lat, far_lng = REGIONS[region][0][1] + 0.5, REGIONS[region][1][1] + 0.5
    rows = [
        {"store_id": "area", "name": "区", "city": "x", "address": "x", "lat": repr(far_lat),
         "lng": repr(far_lng), "coord": "wgs84", "service_area": area_text},
    ]  # fmt: skip
    rows[0]["coord"] = area_system.value
    rows[0]["lat"], rows[0]["lng"] = map(repr, reference_in(area_system, far_lat, far_lng))
    near = data.draw(places(region, 1, 1), label="near_store")[0]
    rows.append(
        {"store_id": "near", "name": "近", "city": "x", "address": "x", "lat": repr(near[0]),
         "lng": repr(near[1]), "coord": "wgs84"}
    )  # fmt: skip
    cat = catalogue_from_upload(rows)

    phone = data.draw(places(region, 1, 1), label="phone")[0]
    phone_system = data.draw(st.sampled_from(SYSTEMS), label="phone_system")
    assume(phone_system is CoordSystem.WGS84 or unambiguous_gcj(*phone))
    real_area = shapely.Polygon([(lng, lat) for lat, lng in corners])
    # A centimetre from an edge the two conversions may round either way.
    assume(real_area.exterior.distance(shapely.Point(phone[1], phone[0])) > 1e-6)
    inside = real_area.contains(shapely.Point(phone[1], phone[0]))
    q = RouteQuery(
        Coord(*reference_in(phone_system, *phone), phone_system), 10.0, None, None, "visitor-0001"
    )
    result = route(cat, q, POLICY, 1_800_000_000.0, live())
    assert result.store is not None
    assert (result.store.store_id == "area") is inside
    assert (result.matched_by is MatchedBy.AREA) is inside
    if inside:
        assert result.distance_m == pytest.approx(haversine_m(*phone, far_lat, far_lng), abs=0.01)


def test_the_issue_case_macau_phone_zhuhai_and_macau_stores() -> None:
    cat = catalogue_from_upload(
        [
            {"store_id": "mo-1", "name": "澳门店", "city": "澳门", "address": "x",
             "lat": "22.2", "lng": "113.548", "coord": "wgs84"},
            {"store_id": "zh-1", "name": "珠海店", "city": "珠海", "address": "x",
             "lat": "22.2155451", "lng": "113.5530936", "coord": "gcj02"},
        ]
    )  # fmt: skip
    store_id, distance_m = ask(cat, CoordSystem.WGS84, 22.2080, 113.5530)
    assert store_id == "mo-1"
    assert round(distance_m) == 1028
    zh = cat.by_id["zh-1"]
    assert math.isclose(haversine_m(22.2080, 113.5530, zh.wgs_lat, zh.wgs_lng), 1276, abs_tol=1)
