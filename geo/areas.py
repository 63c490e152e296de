"""Per-store service areas: parsing (WKT or GeoJSON), conversion between systems, point lookup.

Areas are stored in GCJ-02 (next to the stores' GCJ-02 positions) and looked up in WGS-84, the
frame of real positions that the nearest-store index uses too: a customer's real position is then
inside an area or not the same way whichever side of the Hong Kong or Macau border either is on.

A scan inside a store's service area goes to that store, however far its counter is. Lookups
are cached per small lat/lng cell: a cell that touches no area (the usual case) costs one dict
lookup; a cell wholly inside areas answers without a polygon test; only cells on an area's edge
test the point.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep
from shapely.strtree import STRtree

from geo.coords import Coord, CoordError, CoordSystem, Shift, to_system

# An area is at most this many vertices: enough for a hand-drawn district, small enough that an
# upload cannot make every edge-cell lookup slow.
MAX_AREA_VERTICES = 2_000

Area: TypeAlias = Polygon | MultiPolygon


class AreaError(ValueError):
    """A service area that cannot be used, with a message fit for an ops user."""


def parse_area(
    text: str,
    system: CoordSystem,
    into: CoordSystem = CoordSystem.GCJ02,
    *,
    shift: Shift = Shift.MAINLAND,
) -> Area:
    """Parse WKT or GeoJSON (lng, lat order, in `system` shifted under `shift`'s rule, its
    provider's) and return it in `into` (under the plain codes' rule)."""
    text = text.strip()
    try:
        if text.startswith("{"):
            data = json.loads(text)
            if isinstance(data, dict) and data.get("type") == "Feature":
                data = data.get("geometry")
            if not isinstance(data, dict):
                raise AreaError("GeoJSON service area must be a Polygon or MultiPolygon object")
            geom: BaseGeometry = shape(data)
        else:
            geom = wkt.loads(text)
    except AreaError:
        raise
    except (ShapelyError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise AreaError(f"not valid WKT or GeoJSON: {exc}") from None
    if not isinstance(geom, Polygon | MultiPolygon):
        raise AreaError(f"service area must be a Polygon or MultiPolygon, not {geom.geom_type}")
    if geom.is_empty:
        raise AreaError("service area is empty")
    count = shapely.get_num_coordinates(geom)
    if count > MAX_AREA_VERTICES:
        raise AreaError(f"service area has {count} vertices; the limit is {MAX_AREA_VERTICES}")
    return convert_area(geom, system, into, shift=shift)


def convert_area(
    geom: Area, system: CoordSystem, into: CoordSystem, *, shift: Shift = Shift.MAINLAND
) -> Area:
    """The area with every vertex converted from `system` (under `shift`'s rule) to `into` (under
    the plain codes'), checked to be still usable."""

    def vertices(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        converted = [
            to_system(Coord(float(lat), float(lng), system, shift), into, Shift.MAINLAND)
            for lng, lat in coords
        ]
        return np.array([(c.lng, c.lat) for c in converted], dtype=np.float64).reshape(-1, 2)

    if not geom.is_valid:  # judged as drawn, in the system it was given in
        raise AreaError(f"service area is not a valid polygon: {shapely.is_valid_reason(geom)}")
    try:
        # A new geometry (`geom` is left as it was); every vertex checked, even in one system.
        out = shapely.transform(geom, vertices)
    except CoordError as exc:
        raise AreaError(f"service area vertex: {exc}") from None
    if not out.is_valid:
        # Valid as drawn, but GCJ-02 folds at the Hong Kong and Macau borders (mainland points
        # shift ~500 m, the others do not), so an area across one can cross itself once
        # converted: repaired to the polygons it covers, not refused.
        out = _polygonal(shapely.make_valid(out))
    if out.area <= 0.0:
        raise AreaError("service area has no area")
    if not isinstance(out, Polygon | MultiPolygon):  # transform keeps the type
        raise AreaError("service area changed type during conversion")
    return out


_Entry = tuple[tuple[int, ...], tuple[tuple[int, BaseGeometry], ...]]
_EMPTY: _Entry = ((), ())


class ServiceAreas:
    """Which stores' areas contain a point. Areas and points must be in one system: WGS-84 in the
    catalogue (`parse_area(..., into=CoordSystem.WGS84)`)."""

    __slots__ = ("_cache", "_cache_max", "_cell_deg", "_cell_inv", "_geoms", "_owners", "_tree")

    def __init__(
        self,
        areas: Sequence[tuple[int, Area]],
        *,
        cell_deg: float = 0.001,
        cache_cells: int = 100_000,
    ) -> None:
        self._owners = [owner for owner, _ in areas]
        self._geoms = [geom for _, geom in areas]
        self._tree = STRtree(self._geoms) if self._geoms else None
        self._cell_deg = cell_deg
        self._cell_inv = 1.0 / cell_deg
        self._cache: dict[tuple[int, int], _Entry] = {}
        self._cache_max = cache_cells

    def __len__(self) -> int:
        return len(self._geoms)

    def containing(self, lat: float, lng: float) -> tuple[int, ...]:
        """Owners (store positions) of every area containing the point (in the areas' system)."""
        if self._tree is None:
            return ()
        key = (math.floor(lat * self._cell_inv), math.floor(lng * self._cell_inv))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._fill_cell(key)
        full, partial = entry
        if not partial:
            return full
        hits = [owner for owner, geom in partial if shapely.contains_xy(geom, lng, lat)]
        return full + tuple(hits) if hits else full

    def _fill_cell(self, key: tuple[int, int]) -> _Entry:
        assert self._tree is not None
        lat0 = key[0] * self._cell_deg
        lng0 = key[1] * self._cell_deg
        cell = shapely.box(lng0, lat0, lng0 + self._cell_deg, lat0 + self._cell_deg)
        full: list[int] = []
        partial: list[tuple[int, BaseGeometry]] = []
        for i in sorted(self._tree.query(cell, predicate="intersects").tolist()):
            geom = self._geoms[i]
            if prep(geom).contains(cell):
                full.append(self._owners[i])
            else:
                shapely.prepare(geom)
                partial.append((self._owners[i], geom))
        entry: _Entry = (tuple(full), tuple(partial)) if (full or partial) else _EMPTY
        if self._cache_max:
            if len(self._cache) >= self._cache_max:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = entry
        return entry


def _polygonal(geom: BaseGeometry) -> Area:
    """The polygons of a geometry (`make_valid` may add lines or points along a fold)."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", ()) if isinstance(g, Polygon | MultiPolygon)]
    merged = shapely.union_all(parts) if parts else Polygon()
    return merged if isinstance(merged, Polygon | MultiPolygon) else Polygon()
