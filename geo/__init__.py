"""Pure geometry for Huoma: coordinate systems, distances, nearest-store index, service areas.

Nothing in this package performs I/O or knows about HTTP or the database.
"""

from geo.coords import Coord, CoordError, CoordSystem, to_gcj02, to_system, to_wgs84
from geo.distance import EARTH_RADIUS_M, haversine_m

__all__ = [
    "EARTH_RADIUS_M",
    "Coord",
    "CoordError",
    "CoordSystem",
    "haversine_m",
    "to_gcj02",
    "to_system",
    "to_wgs84",
]
