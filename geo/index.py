"""The in-memory nearest-store index: exact great-circle k-nearest, answered from a cell cache.

Points live on the unit sphere as 3D vectors. The straight-line (chord) distance between two unit
vectors grows monotonically with their great-circle angle, so the Euclidean nearest in 3D *is* the
great-circle nearest: no refinement step, no seam at the 180th meridian, no trouble at the poles.
An `rtree` index in three dimensions answers the cold queries.

Customers scan from a handful of spots per store, so the hot path caches per small lat/lng cell the
few stores that could possibly be among the k nearest for *any* point in that cell, and ranks only
those. The cache can never change an answer: for a cell with centre c and radius r (farthest
corner), if the k-th nearest store to c is at chord distance D, every one of the k nearest stores to
any point q in the cell lies within D + 2r of c (triangle inequality on chords, which are a metric).
A query that falls outside its cell's radius (possible only in degenerate polar cells) bypasses the
cache.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from math import asin, cos, floor, sin, sqrt
from typing import NamedTuple

import numpy as np
from rtree import index as rtree_index

from geo.distance import EARTH_RADIUS_M, chord_to_m, unit_vector

# Side of a cache cell in degrees (about 110 m of latitude). Smaller cells hold fewer candidates
# but are hit less often; at this size a mall with stores 20 m apart still ranks a dozen at most.
DEFAULT_CELL_DEG = 0.001
DEFAULT_CACHE_CELLS = 100_000
# Slack added to cache radii so that rounding can only add candidates, never drop one.
_EPS = 1e-12

_RAD = math.pi / 180.0
# chord_to_m inlined on the hot path: metres = diameter * asin(chord / 2).
_DIAMETER_M = 2.0 * EARTH_RADIUS_M

_Point = tuple[float, float, float, int]
# A cache cell: centre (x, y, z), squared radius, candidates for k = 1, candidates for k_max.
_Entry = tuple[float, float, float, float, tuple[_Point, ...], tuple[_Point, ...]]


class Neighbour(NamedTuple):
    """A store's position in the build sequence and its great-circle distance."""

    position: int
    distance_m: float


class NearestIndex:
    """Exact k-nearest stores by great-circle distance. Build once; query from one thread."""

    __slots__ = (
        "_cache",
        "_cache_max",
        "_cell_deg",
        "_cell_inv",
        "_points",
        "_rtree",
        "_xyz",
        "build_seconds",
        "k_max",
        "size",
    )

    def __init__(
        self,
        points: Sequence[tuple[float, float]],
        *,
        k_max: int = 8,
        cell_deg: float = DEFAULT_CELL_DEG,
        cache_cells: int = DEFAULT_CACHE_CELLS,
    ) -> None:
        """points: (lat, lng) in degrees, all in one coordinate system."""
        if k_max < 1:
            raise ValueError("k_max must be at least 1")
        if not cell_deg > 0.0:
            raise ValueError("cell_deg must be positive")
        started = time.perf_counter()
        self.k_max = k_max
        self.size = len(points)
        self._cell_deg = cell_deg
        self._cell_inv = 1.0 / cell_deg
        self._cache: dict[tuple[int, int], _Entry] = {}
        self._cache_max = max(0, cache_cells)
        if self.size:
            arr = np.radians(np.asarray(points, dtype=np.float64).reshape(-1, 2))
            cos_lat = np.cos(arr[:, 0])
            xyz = np.empty((self.size, 3), dtype=np.float64)
            xyz[:, 0] = cos_lat * np.cos(arr[:, 1])
            xyz[:, 1] = cos_lat * np.sin(arr[:, 1])
            xyz[:, 2] = np.sin(arr[:, 0])
        else:
            xyz = np.empty((0, 3), dtype=np.float64)
        self._xyz = xyz
        self._points: list[_Point] = [(x, y, z, i) for i, (x, y, z) in enumerate(xyz.tolist())]
        props = rtree_index.Property()
        props.dimension = 3
        if self.size:
            ids = np.arange(self.size, dtype=np.int64)
            self._rtree = rtree_index.Index((ids, xyz, xyz), properties=props)
        else:
            self._rtree = rtree_index.Index(properties=props)
        self.build_seconds = time.perf_counter() - started

    # ---- queries -------------------------------------------------------------------------

    def nearest(self, lat: float, lng: float, k: int = 1) -> list[Neighbour]:
        """The k nearest stores in order of distance (ties broken by build position)."""
        if k < 1 or not self.size:
            return []
        if k > self.k_max:
            return self.nearest_uncached(lat, lng, k)
        entry = self._cache.get((floor(lat * self._cell_inv), floor(lng * self._cell_inv)))
        if entry is None:
            entry = self._fill_cell(lat, lng)
        p = lat * _RAD
        lam = lng * _RAD
        c = cos(p)
        qx = c * cos(lam)
        qy = c * sin(lam)
        qz = sin(p)
        dx = qx - entry[0]
        dy = qy - entry[1]
        dz = qz - entry[2]
        if dx * dx + dy * dy + dz * dz > entry[3]:
            return self.nearest_uncached(lat, lng, k)
        if k == 1:
            best = 9.0
            best_i = -1
            for x, y, z, i in entry[4]:
                dx = qx - x
                dy = qy - y
                dz = qz - z
                d2 = dx * dx + dy * dy + dz * dz
                # Candidates are in build order, so strict < keeps the lowest position on ties.
                if d2 < best:
                    best = d2
                    best_i = i
            return [Neighbour(best_i, _DIAMETER_M * asin(min(1.0, sqrt(best) * 0.5)))]
        ranked: list[tuple[float, int]] = []
        append = ranked.append
        for x, y, z, i in entry[5]:
            dx = qx - x
            dy = qy - y
            dz = qz - z
            append((dx * dx + dy * dy + dz * dz, i))
        ranked.sort()
        return [Neighbour(i, _DIAMETER_M * asin(min(1.0, sqrt(d2) * 0.5))) for d2, i in ranked[:k]]

    def nearest_uncached(self, lat: float, lng: float, k: int = 1) -> list[Neighbour]:
        """The same answer as `nearest`, straight from the R-tree (no cache)."""
        if not self.size or k < 1:
            return []
        q = unit_vector(lat, lng)
        ids = list(self._rtree.nearest(q + q, k))
        cand = self._xyz[ids] - np.asarray(q)
        d2 = np.einsum("ij,ij->i", cand, cand)
        ranked = sorted(zip(d2.tolist(), ids, strict=True))[:k]
        return [Neighbour(int(i), chord_to_m(math.sqrt(d))) for d, i in ranked]

    # ---- cache ---------------------------------------------------------------------------

    def _candidates(self, c: tuple[float, float, float], r: float, k: int) -> list[_Point]:
        """Every store that can be among the k nearest of a point within r of c, in build order."""
        ids = list(self._rtree.nearest(c + c, k))
        delta = self._xyz[ids] - np.asarray(c)
        d_k = float(np.sqrt(np.einsum("ij,ij->i", delta, delta)).max())
        reach = d_k + 2.0 * r + _EPS
        box = (c[0] - reach, c[1] - reach, c[2] - reach, c[0] + reach, c[1] + reach, c[2] + reach)
        found = np.sort(np.fromiter(self._rtree.intersection(box), dtype=np.int64))
        delta = self._xyz[found] - np.asarray(c)
        within = found[np.einsum("ij,ij->i", delta, delta) <= reach * reach]
        points = self._points
        return [points[i] for i in within.tolist()]

    def _fill_cell(self, lat: float, lng: float) -> _Entry:
        key = (math.floor(lat * self._cell_inv), math.floor(lng * self._cell_inv))
        cell = self._cell_deg
        lat0 = key[0] * cell
        lng0 = key[1] * cell
        c = unit_vector(lat0 + cell * 0.5, lng0 + cell * 0.5)
        r2 = 0.0
        for clat in (lat0, lat0 + cell):
            for clng in (lng0, lng0 + cell):
                v = unit_vector(clat, clng)
                r2 = max(r2, (v[0] - c[0]) ** 2 + (v[1] - c[1]) ** 2 + (v[2] - c[2]) ** 2)
        r = math.sqrt(r2) * (1.0 + 1e-9) + _EPS
        entry: _Entry = (
            c[0],
            c[1],
            c[2],
            r * r,
            tuple(self._candidates(c, r, 1)),
            tuple(self._candidates(c, r, min(self.k_max, self.size))),
        )
        cache = self._cache
        if self._cache_max:
            if len(cache) >= self._cache_max:
                # Oldest-first eviction: dicts keep insertion order, so this is O(1).
                del cache[next(iter(cache))]
            cache[key] = entry
        return entry

    def cached_cells(self) -> int:
        return len(self._cache)

    def memory_bytes(self) -> int:
        """A lower bound on memory held: coordinate arrays and the point table (not the R-tree)."""
        return int(self._xyz.nbytes) + self.size * 120
