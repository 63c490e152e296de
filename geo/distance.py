"""Great-circle distances on a spherical Earth, and the 3D unit-vector form used by the index."""

from __future__ import annotations

import math

# IUGG mean Earth radius. Store-to-customer distances are a few kilometres at most, where the
# spherical model is within 0.5% of the ellipsoid: good enough to rank and to display.
EARTH_RADIUS_M = 6_371_008.8

_RAD = math.pi / 180.0


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    p1 = lat1 * _RAD
    p2 = lat2 * _RAD
    dp = p2 - p1
    dl = (lng2 - lng1) * _RAD
    h = math.sin(dp * 0.5) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl * 0.5) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def unit_vector(lat: float, lng: float) -> tuple[float, float, float]:
    """The point on the unit sphere for a latitude/longitude in degrees."""
    p = lat * _RAD
    lam = lng * _RAD
    c = math.cos(p)
    return (c * math.cos(lam), c * math.sin(lam), math.sin(p))


def chord_to_m(chord: float) -> float:
    """Great-circle metres for a chord length between two points on the unit sphere.

    The chord is monotonic in the great-circle angle, so ordering by chord is ordering by
    great-circle distance; this turns the chord back into the metres customers read.
    """
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, chord * 0.5))
