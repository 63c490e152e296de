"""Which region a point is in: mainland China, Hong Kong, Macau, Taiwan or abroad.

Map providers disagree on where their shift applies (`geo.providers`): a rule is a set of these
regions. The mainland is `geo.mainland`'s outline; Hong Kong, Macau and Taiwan (with Penghu,
Kinmen and Matsu) are their own shapes (`geo/data/regions.geojson`, OpenStreetMap-derived, ODbL,
derived by `geo/data/derive_regions.py`), each its land plus its median-line share of the sea,
and cut to lie outside the mainland outline, so no point is in two regions.

Cost per lookup: the mainland's own cell cache first; outside it, a bounding-box test, then the
same scheme as the mainland's: cells of `_CELL_DEG`, a cell wholly inside one shape or outside all
answering from a dictionary, a cell a border crosses testing the point against its clipped pieces.
"""

from __future__ import annotations

import enum
import functools
import json
import math
from importlib import resources

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.mainland import in_mainland_china


class Region(enum.StrEnum):
    MAINLAND = "mainland"
    HONG_KONG = "hong_kong"
    MACAU = "macau"
    TAIWAN = "taiwan"
    ABROAD = "abroad"


_DATA = ("data", "regions.geojson")
_CELL_DEG = 0.05
_CELL_INV = 1.0 / _CELL_DEG
_CELL_CACHE_MAX = 100_000  # the three shapes' bounding boxes hold ~20,000 cells


@functools.cache
def shapes() -> dict[Region, BaseGeometry]:
    """Hong Kong, Macau and Taiwan as (multi)polygons in (lng, lat) degrees, prepared."""
    text = resources.files("geo").joinpath(*_DATA).read_text(encoding="utf-8")
    out: dict[Region, BaseGeometry] = {}
    for feature in json.loads(text)["features"]:
        geometry = shape(feature["geometry"])
        shapely.prepare(geometry)
        out[Region(feature["properties"]["region"])] = geometry
    return out


@functools.cache
def _bounds() -> tuple[float, float, float, float]:
    min_lng, min_lat, max_lng, max_lat = shapely.union_all(list(shapes().values())).bounds
    return min_lat, min_lng, max_lat, max_lng


_Pieces = tuple[tuple[Region, BaseGeometry], ...]
_cells: dict[tuple[int, int], Region | _Pieces] = {}


def _classify_cell(ci: int, cj: int) -> Region | _Pieces:
    lat0 = ci * _CELL_DEG
    lng0 = cj * _CELL_DEG
    cell = shapely.box(lng0, lat0, lng0 + _CELL_DEG, lat0 + _CELL_DEG)
    margin = _CELL_DEG / 100
    wider = shapely.box(
        lng0 - margin, lat0 - margin, lng0 + _CELL_DEG + margin, lat0 + _CELL_DEG + margin
    )
    pieces: list[tuple[Region, BaseGeometry]] = []
    for region, geometry in shapes().items():
        if shapely.contains(geometry, cell):
            return region
        if shapely.intersects(geometry, wider):
            piece = shapely.intersection(geometry, wider)
            shapely.prepare(piece)
            pieces.append((region, piece))
    if not pieces:
        return Region.ABROAD
    return tuple(pieces)


def region_of(lat: float, lng: float) -> Region:
    """The region of a WGS-84 point (a GCJ-02 one is within ~600 m of its WGS-84 place, which
    only matters at a border, where callers test the solved WGS-84 point)."""
    if in_mainland_china(lat, lng):
        return Region.MAINLAND
    min_lat, min_lng, max_lat, max_lng = _bounds()
    if not (min_lat <= lat <= max_lat and min_lng <= lng <= max_lng):
        return Region.ABROAD
    key = (math.floor(lat * _CELL_INV), math.floor(lng * _CELL_INV))
    kind = _cells.get(key)
    if kind is None:
        kind = _classify_cell(*key)
        if len(_cells) >= _CELL_CACHE_MAX:
            _cells.clear()
        _cells[key] = kind
    if isinstance(kind, Region):
        return kind
    for region, piece in kind:
        if shapely.contains_xy(piece, lng, lat):
            return region
    return Region.ABROAD
