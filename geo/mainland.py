"""Where GCJ-02 applies: mainland China's outline, from OpenStreetMap's borders (geo/data/).

The decision, and why:
- GCJ-02 is a rule of mainland China's surveying law. Mainland map providers (AMap, Tencent,
  Baidu's base layer) shift mainland coordinates, and the browser's WGS-84 fix must be shifted the
  same way to land on the same map.
- Hong Kong and Macau survey and publish in their own WGS-84-aligned datums, and their maps line up
  with GPS (the border with Shenzhen is where the famous "roads that do not meet" are). They are
  outside the outline.
- Taiwan, Penghu, Kinmen and Matsu are administered separately and their data is WGS-84; they are
  outside the outline, although Kinmen sits a few kilometres off Xiamen.
- Singapore, Korea, Vietnam, Mongolia, Russia... are outside. The common shortcut, a bounding box
  from 72E to 137.8E and 0.8N to 55.8N, wrongly shifts all of them (Singapore is inside that box),
  so this module uses a polygon instead.

The outline (`geo/data/mainland.geojson`, derived by `geo/data/derive_mainland.py`, ODbL, see
`geo/data/README.md`) is the PRC's land as OpenStreetMap draws it, Hainan and the South China Sea
islands included, Hong Kong, Macau, Taiwan, Kinmen and Matsu left out, plus the sea within 12
nautical miles that is nearer to that land than to anyone else's. Land borders are within 179 m
of the source at worst, the Hong Kong and Macau borders within 8 m; geo/data/README.md has the
measured figures.

Cost per lookup: the plane is cut into cells of `_CELL_DEG`; a cell wholly inside or outside the
outline answers from a dictionary, and only a cell the border crosses tests the point, against
that cell's own piece of the outline (a few dozen vertices, prepared).
"""

from __future__ import annotations

import functools
import math
from importlib import resources

import shapely
from shapely.geometry.base import BaseGeometry

_DATA = ("data", "mainland.geojson")

_CELL_DEG = 0.05
_CELL_INV = 1.0 / _CELL_DEG
# Cells remembered per process: the whole border is ~15,000 cells, and every cell of the
# populated mainland ~250,000; past this the cache starts over (answers never change).
_CELL_CACHE_MAX = 400_000


@functools.cache
def outline() -> BaseGeometry:
    """The outline as one (multi)polygon in (lng, lat) degrees, prepared for repeated tests."""
    text = resources.files("geo").joinpath(*_DATA).read_text(encoding="utf-8")
    geometry = shapely.from_geojson(text)
    shapely.prepare(geometry)
    return geometry


@functools.cache
def _bounds() -> tuple[float, float, float, float]:
    min_lng, min_lat, max_lng, max_lat = outline().bounds
    return min_lat, min_lng, max_lat, max_lng


# A cell's answer: True (wholly inside), False (wholly outside), or the outline clipped to the
# cell, prepared, when the border crosses it.
_cells: dict[tuple[int, int], bool | BaseGeometry] = {}


def _classify_cell(ci: int, cj: int) -> bool | BaseGeometry:
    whole = outline()
    lat0 = ci * _CELL_DEG
    lng0 = cj * _CELL_DEG
    cell = shapely.box(lng0, lat0, lng0 + _CELL_DEG, lat0 + _CELL_DEG)
    if shapely.contains(whole, cell):
        return True
    if not shapely.intersects(whole, cell):
        return False
    # The piece is clipped from a slightly larger box so that a point on the cell's edge is
    # classified as the whole outline would classify it.
    margin = _CELL_DEG / 100
    piece = shapely.intersection(
        whole,
        shapely.box(
            lng0 - margin, lat0 - margin, lng0 + _CELL_DEG + margin, lat0 + _CELL_DEG + margin
        ),
    )
    shapely.prepare(piece)
    return piece


def in_mainland_china(lat: float, lng: float) -> bool:
    """True when GCJ-02 applies at this WGS-84 (or GCJ-02) point."""
    min_lat, min_lng, max_lat, max_lng = _bounds()
    if not (min_lat <= lat <= max_lat and min_lng <= lng <= max_lng):
        return False
    key = (math.floor(lat * _CELL_INV), math.floor(lng * _CELL_INV))
    kind = _cells.get(key)
    if kind is None:
        kind = _classify_cell(*key)
        if len(_cells) >= _CELL_CACHE_MAX:
            _cells.clear()
        _cells[key] = kind
    if kind is True or kind is False:
        return kind
    return bool(shapely.contains_xy(kind, lng, lat))
