"""The nearest-store index returns the true great-circle nearest, in order, for any point."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import EARTH_RADIUS_M, haversine_m
from geo.index import NearestIndex


def brute_force(
    points: list[tuple[float, float]], lat: float, lng: float, k: int
) -> list[tuple[int, float]]:
    arr = np.radians(np.asarray(points))
    p, lam = math.radians(lat), math.radians(lng)
    h = (
        np.sin((arr[:, 0] - p) / 2) ** 2
        + np.cos(p) * np.cos(arr[:, 0]) * np.sin((arr[:, 1] - lam) / 2) ** 2
    )
    d = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
    order = np.lexsort((np.arange(len(points)), d))[:k]
    return [(int(i), float(d[i])) for i in order]


def assert_same_ranking(
    index: NearestIndex, points: list[tuple[float, float]], lat: float, lng: float, k: int
) -> None:
    got = index.nearest(lat, lng, k)
    want = brute_force(points, lat, lng, k)
    assert len(got) == len(want)
    for g, (wi, wd) in zip(got, want, strict=True):
        # Distances agree to a millimetre; indices agree unless two stores tie (duplicates).
        assert g.distance_m == pytest.approx(wd, abs=1e-3)
        if g.position != wi:
            assert haversine_m(lat, lng, *points[g.position]) == pytest.approx(wd, abs=1e-3)


def test_random_stores_across_china_match_brute_force() -> None:
    rng = random.Random(1)
    points = [(rng.uniform(18, 45), rng.uniform(100, 125)) for _ in range(20_000)]
    index = NearestIndex(points)
    for _ in range(300):
        assert_same_ranking(index, points, rng.uniform(18, 45), rng.uniform(100, 125), 6)


def test_stores_twenty_metres_apart_in_one_mall_are_told_apart() -> None:
    rng = random.Random(2)
    base_lat, base_lng = 31.2304, 121.4737
    step = 20 / 111_320
    points = [
        (base_lat + (i // 8) * step, base_lng + (i % 8) * step / math.cos(math.radians(base_lat)))
        for i in range(64)
    ]
    points += [(rng.uniform(31.0, 31.5), rng.uniform(121.2, 121.8)) for _ in range(2000)]
    index = NearestIndex(points)
    for _ in range(500):
        lat = base_lat + rng.uniform(-0.0005, 0.0015)
        lng = base_lng + rng.uniform(-0.0005, 0.002)
        assert_same_ranking(index, points, lat, lng, 8)


def test_the_180th_meridian_is_not_a_seam() -> None:
    points = [(0.0, 179.99), (0.0, -179.99), (0.0, 179.0), (0.0, -179.0), (10.0, 170.0)]
    index = NearestIndex(points)
    near_east = index.nearest(0.0, 179.999, 2)
    assert {n.position for n in near_east} == {0, 1}
    near_west = index.nearest(0.0, -179.999, 1)
    assert near_west[0].position == 1
    assert near_west[0].distance_m == pytest.approx(
        haversine_m(0.0, -179.999, 0.0, -179.99), abs=1e-3
    )
    rng = random.Random(3)
    many = [
        (rng.uniform(-60, 60), rng.choice([-1, 1]) * rng.uniform(170, 180)) for _ in range(3000)
    ]
    index = NearestIndex(many)
    for _ in range(300):
        assert_same_ranking(
            index, many, rng.uniform(-60, 60), rng.choice([-1, 1]) * rng.uniform(175, 180), 5
        )


def test_high_latitudes_and_the_poles() -> None:
    rng = random.Random(4)
    points = [(rng.uniform(80, 90), rng.uniform(-180, 180)) for _ in range(2000)]
    points += [(rng.uniform(-90, -80), rng.uniform(-180, 180)) for _ in range(2000)]
    index = NearestIndex(points)
    for lat in (90.0, -90.0, 89.9999, -89.99995):
        for lng in (-180.0, 0.0, 45.0, 179.9999, 180.0):
            assert_same_ranking(index, points, lat, lng, 5)
    for _ in range(300):
        assert_same_ranking(index, points, rng.uniform(85, 90), rng.uniform(-180, 180), 5)


def test_nearest_in_degrees_is_not_the_nearest_in_metres_but_the_index_is() -> None:
    # At 60N a degree of longitude is half a degree of latitude: the store 0.8 degrees east is
    # closer on the ground than the one 0.5 degrees north.
    points = [(60.5, 10.0), (60.0, 10.8)]
    index = NearestIndex(points)
    assert index.nearest(60.0, 10.0, 1)[0].position == 1


def test_duplicate_coordinates_are_all_returned_ties_broken_by_position() -> None:
    points = [(31.0, 121.0)] * 5 + [(31.001, 121.0)]
    index = NearestIndex(points)
    got = index.nearest(31.0, 121.0, 6)
    assert [n.position for n in got] == [0, 1, 2, 3, 4, 5]
    assert got[0].distance_m == 0.0


def test_an_empty_index_and_fewer_stores_than_asked() -> None:
    assert NearestIndex([]).nearest(31.0, 121.0, 3) == []
    index = NearestIndex([(31.0, 121.0), (31.1, 121.0)])
    assert [n.position for n in index.nearest(31.09, 121.0, 5)] == [1, 0]
    assert index.nearest(31.09, 121.0, 0) == []


def test_more_neighbours_than_the_cache_holds_come_straight_from_the_tree() -> None:
    rng = random.Random(5)
    points = [(rng.uniform(30, 32), rng.uniform(120, 122)) for _ in range(500)]
    index = NearestIndex(points, k_max=3)
    assert_same_ranking(index, points, 31.0, 121.0, 20)


def test_a_cache_of_one_cell_still_answers_correctly() -> None:
    rng = random.Random(6)
    points = [(rng.uniform(30, 32), rng.uniform(120, 122)) for _ in range(2000)]
    index = NearestIndex(points, cache_cells=1)
    for _ in range(200):
        assert_same_ranking(index, points, rng.uniform(30, 32), rng.uniform(120, 122), 4)
    assert index.cached_cells() == 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), min_size=1, max_size=60),
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    st.integers(1, 8),
)
def test_any_layout_and_any_query_match_brute_force(
    points: list[tuple[float, float]], q: tuple[float, float], k: int
) -> None:
    assert_same_ranking(NearestIndex(points), points, q[0], q[1], k)


def test_build_time_is_recorded() -> None:
    index = NearestIndex([(31.0, 121.0)] * 10)
    assert index.build_seconds > 0
    assert index.memory_bytes() > 0
