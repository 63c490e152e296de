"""Per-store service areas: parsing (WKT or GeoJSON), conversion to GCJ-02, point lookup.

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

import shapely
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep
from shapely.strtree import STRtree

from geo.coords import Coord, CoordError, CoordSystem, to_gcj02

# An area is at most this many vertices: enough for a hand-drawn district, small enough that an
# upload cannot make every edge-cell lookup slow.
MAX_AREA_VERTICES = 2_000

Area: TypeAlias = Polygon | MultiPolygon


class AreaError(ValueError):
    """A service area that cannot be used, with a message fit for an ops user."""


def parse_area(text: str, system: CoordSystem) -> Area:
    """Parse WKT or GeoJSON (lng, lat order, in `system`) and return it in GCJ-02."""
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
    coords = shapely.get_coordinates(geom)
    try:
        converted = [to_gcj02(Coord(float(lat), float(lng), system)) for lng, lat in coords]
    except CoordError as exc:
        raise AreaError(f"service area vertex: {exc}") from None
    out = shapely.set_coordinates(geom, [(c.lng, c.lat) for c in converted])
    if not out.is_valid:
        raise AreaError(f"service area is not a valid polygon: {shapely.is_valid_reason(out)}")
    if out.area <= 0.0:
        raise AreaError("service area has no area")
    if not isinstance(out, Polygon | MultiPolygon):  # set_coordinates keeps the type
        raise AreaError("service area changed type during conversion")
    return out


_Entry = tuple[tuple[int, ...], tuple[tuple[int, BaseGeometry], ...]]
_EMPTY: _Entry = ((), ())


class ServiceAreas:
    """Which stores' areas contain a point. Areas must be in GCJ-02 (see `parse_area`)."""

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
        """Owners (store positions) of every area containing the GCJ-02 point."""
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
