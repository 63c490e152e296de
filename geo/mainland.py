"""Where GCJ-02 applies: a coarse outline of mainland China, leaving out Hong Kong, Macau, Taiwan.

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

Accuracy: the outline follows land borders to within a few tens of kilometres and runs through the
sea elsewhere; along the Shenzhen River and around Macau it is drawn to a few hundred metres. A
point within that distance of the Hong Kong or Macau border may be classified either way.
"""

from __future__ import annotations

import math

import shapely
from shapely.geometry import Polygon
from shapely.prepared import prep

# fmt: off
# (lng, lat) vertices, clockwise from the north-east, through the sea along the coast.
_OUTLINE: tuple[tuple[float, float], ...] = (
    (123.5, 53.55), (125.5, 53.0), (127.6, 49.8), (130.6, 48.9), (132.5, 47.7),
    (134.75, 48.4), (133.9, 46.5), (133.1, 45.1), (131.9, 45.3), (131.0, 44.8),
    (131.25, 43.5), (130.9, 42.6), (130.65, 42.42), (129.85, 42.97), (129.0, 42.2),
    (128.05, 41.99), (126.6, 41.6), (125.3, 40.6), (124.25, 39.85), (124.0, 39.4),
    (123.2, 37.8), (123.0, 36.5), (122.0, 34.5), (122.5, 32.0), (123.3, 31.0),
    (123.0, 29.5), (122.5, 28.8), (121.5, 28.0), (120.9, 27.2), (120.6, 26.6),
    (120.0, 25.9), (119.95, 25.3), (119.3, 24.6), (118.9, 24.3), (118.0, 23.4),
    (117.0, 22.9), (116.0, 22.6), (114.9, 22.4), (114.5, 22.1), (114.0, 21.9),
    (113.5, 21.8), (112.5, 21.4), (111.3, 20.9), (111.3, 19.6), (110.4, 18.0),
    (109.4, 17.9), (108.4, 18.4), (108.4, 19.6), (109.2, 20.5), (108.9, 21.2),
    (108.05, 21.45), (107.9, 21.6), (107.35, 21.6), (106.7, 22.0), (106.7, 22.8),
    (105.8, 22.9), (105.3, 23.35), (104.5, 22.8), (103.95, 22.5), (103.0, 22.6),
    (102.1, 22.45), (101.6, 22.2), (101.2, 21.2), (100.5, 21.4), (99.95, 21.7),
    (99.2, 22.1), (99.4, 22.9), (98.8, 23.2), (97.7, 23.9), (97.5, 24.8),
    (98.7, 25.8), (98.6, 27.5), (97.6, 28.4), (96.0, 28.3), (93.0, 28.0),
    (92.0, 27.8), (89.5, 28.1), (88.8, 27.3), (88.0, 27.9), (86.0, 27.9),
    (84.0, 28.5), (82.0, 30.1), (81.0, 30.2), (79.3, 31.0), (78.7, 32.3),
    (78.3, 33.0), (79.0, 34.3), (77.8, 35.5), (76.0, 35.9), (75.0, 36.9),
    (74.5, 37.2), (74.9, 37.9), (73.5, 39.5), (73.9, 40.2), (75.5, 40.6),
    (76.8, 41.0), (78.3, 41.5), (80.2, 42.1), (80.2, 42.9), (80.8, 43.2),
    (80.4, 44.1), (80.5, 45.0), (82.5, 45.2), (82.3, 46.0), (83.0, 47.2),
    (85.5, 47.1), (87.3, 49.2), (88.2, 48.4), (90.0, 47.9), (91.0, 46.5),
    (90.8, 45.3), (93.0, 44.9), (95.4, 44.3), (96.5, 42.7), (100.0, 42.6),
    (101.8, 42.5), (104.5, 41.8), (105.0, 41.6), (107.0, 42.4), (110.0, 42.6),
    (111.9, 43.7), (113.5, 44.7), (115.6, 45.3), (116.7, 46.4), (119.9, 46.7),
    (119.5, 47.5), (118.2, 48.0), (116.0, 47.8), (115.6, 47.9), (116.7, 49.85),
    (117.9, 49.5), (119.4, 50.3), (120.5, 52.0), (121.5, 53.3),
)

# Hong Kong: the border follows Shenzhen Bay and the Shenzhen River, then runs out into Mirs Bay.
_HONG_KONG: tuple[tuple[float, float], ...] = (
    (113.82, 22.15), (113.82, 22.38), (113.88, 22.43), (114.03, 22.51), (114.08, 22.515),
    (114.11, 22.535), (114.15, 22.545), (114.18, 22.56), (114.22, 22.548), (114.24, 22.56),
    (114.50, 22.56), (114.50, 22.15),
)

# Macau: the peninsula below the Border Gate, Taipa, Cotai and Coloane (Hengqin stays mainland).
_MACAU: tuple[tuple[float, float], ...] = (
    (113.525, 22.2155), (113.555, 22.2155), (113.60, 22.19), (113.60, 22.105),
    (113.55, 22.105), (113.545, 22.14), (113.548, 22.165), (113.525, 22.19),
)

# Kinmen and Lesser Kinmen, east of Xiamen island.
_KINMEN: tuple[tuple[float, float], ...] = (
    (118.21, 24.39), (118.50, 24.39), (118.50, 24.50), (118.40, 24.52), (118.30, 24.50),
    (118.21, 24.46),
)

# The Matsu islands off Fuzhou, each drawn tight so that the Huangqi peninsula stays mainland.
_MATSU: tuple[tuple[tuple[float, float], ...], ...] = (
    ((119.90, 26.13), (119.98, 26.13), (119.98, 26.18), (119.90, 26.18)),
    ((119.97, 26.20), (120.03, 26.20), (120.03, 26.25), (119.97, 26.25)),
    ((120.46, 26.34), (120.53, 26.34), (120.53, 26.39), (120.46, 26.39)),
    ((119.92, 25.94), (119.99, 25.94), (119.99, 25.99), (119.92, 25.99)),
)

# fmt: on

_MAINLAND = Polygon(_OUTLINE, [_HONG_KONG, _MACAU, _KINMEN, *_MATSU])
_PREPARED = prep(_MAINLAND)
_MIN_LNG, _MIN_LAT, _MAX_LNG, _MAX_LAT = _MAINLAND.bounds

# Classification is cached per cell of this many degrees: a cell wholly inside or outside the
# outline answers without any polygon test; only cells that straddle the outline test the point.
_CELL_DEG = 0.05
_CELL_INV = 1.0 / _CELL_DEG
_INSIDE = 1
_OUTSIDE = 0
_BORDER = 2
_cell_cache: dict[tuple[int, int], int] = {}
_CELL_CACHE_MAX = 200_000


def _classify_cell(ci: int, cj: int) -> int:
    lat0 = ci * _CELL_DEG
    lng0 = cj * _CELL_DEG
    cell = shapely.box(lng0, lat0, lng0 + _CELL_DEG, lat0 + _CELL_DEG)
    if _PREPARED.contains(cell):
        return _INSIDE
    if not _PREPARED.intersects(cell):
        return _OUTSIDE
    return _BORDER


def in_mainland_china(lat: float, lng: float) -> bool:
    """True when GCJ-02 applies at this WGS-84 (or GCJ-02) point."""
    if not (_MIN_LAT <= lat <= _MAX_LAT and _MIN_LNG <= lng <= _MAX_LNG):
        return False
    key = (math.floor(lat * _CELL_INV), math.floor(lng * _CELL_INV))
    kind = _cell_cache.get(key)
    if kind is None:
        kind = _classify_cell(*key)
        if len(_cell_cache) >= _CELL_CACHE_MAX:
            _cell_cache.clear()
        _cell_cache[key] = kind
    if kind == _BORDER:
        return bool(shapely.contains_xy(_MAINLAND, lng, lat))
    return kind == _INSIDE
