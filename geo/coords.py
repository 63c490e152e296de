"""Coordinates that carry their system, and conversions between WGS-84, GCJ-02 and BD-09.

Two frames are used inside Huoma. Positions are *measured* in WGS-84, the real one: the
nearest-store index, service areas and every distance take real positions (`to_wgs84`), because
GCJ-02 shifts mainland points and leaves Hong Kong and Macau ones alone, so a GCJ-02 distance across
those borders is wrong by the whole shift (~500 m). Stores are also *stored and shown* in GCJ-02
(`to_gcj02`), what AMap and Tencent maps draw in. WGS-84 -> GCJ-02 is an exact forward formula;
the reverse directions have no closed form and are solved by fixed-point iteration on the forward
formulas, to well under a centimetre.

GCJ-02 only differs from WGS-84 inside mainland China (see `geo.mainland`). BD-09 is Baidu's extra
shift on top of GCJ-02 and is applied everywhere, as Baidu does.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from geo.mainland import in_mainland_china


class CoordSystem(enum.StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"

    @classmethod
    def parse(cls, text: str) -> CoordSystem:
        """Accepts the canonical names and the spellings ops and SDKs commonly use."""
        key = text.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
        system = _ALIASES.get(key)
        if system is None:
            raise CoordError(f"unknown coordinate system {text!r}; use wgs84, gcj02 or bd09")
        return system


_ALIASES: dict[str, CoordSystem] = {
    "wgs84": CoordSystem.WGS84,
    "wgs": CoordSystem.WGS84,
    "gps": CoordSystem.WGS84,
    "gcj02": CoordSystem.GCJ02,
    "gcj": CoordSystem.GCJ02,
    "bd09": CoordSystem.BD09,
    "bd09ll": CoordSystem.BD09,
    "bd": CoordSystem.BD09,
}


class CoordError(ValueError):
    """A coordinate that is not a place on Earth, or names no known system."""


@dataclass(frozen=True, slots=True)
class Coord:
    """A latitude/longitude in degrees, in a named system. Validated on construction."""

    lat: float
    lng: float
    system: CoordSystem

    def __post_init__(self) -> None:
        lat = self.lat
        lng = self.lng
        # Comparisons with NaN are false, so these also reject NaN; the isfinite calls reject
        # infinities explicitly so that the message says what is wrong.
        if not math.isfinite(lat) or not math.isfinite(lng):
            raise CoordError("latitude and longitude must be finite numbers")
        if not -90.0 <= lat <= 90.0:
            raise CoordError(f"latitude {lat!r} is outside -90..90")
        if not -180.0 <= lng <= 180.0:
            raise CoordError(f"longitude {lng!r} is outside -180..180")


# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
_PI = math.pi
_BD_K = _PI * 3000.0 / 180.0


def _shift_lat(x: float, y: float) -> float:
    s = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    s += (20.0 * math.sin(6.0 * x * _PI) + 20.0 * math.sin(2.0 * x * _PI)) * 2.0 / 3.0
    s += (20.0 * math.sin(y * _PI) + 40.0 * math.sin(y / 3.0 * _PI)) * 2.0 / 3.0
    s += (160.0 * math.sin(y / 12.0 * _PI) + 320.0 * math.sin(y * _PI / 30.0)) * 2.0 / 3.0
    return s


def _shift_lng(x: float, y: float) -> float:
    s = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    s += (20.0 * math.sin(6.0 * x * _PI) + 20.0 * math.sin(2.0 * x * _PI)) * 2.0 / 3.0
    s += (20.0 * math.sin(x * _PI) + 40.0 * math.sin(x / 3.0 * _PI)) * 2.0 / 3.0
    s += (150.0 * math.sin(x / 12.0 * _PI) + 300.0 * math.sin(x / 30.0 * _PI)) * 2.0 / 3.0
    return s


def _gcj_offset(lat: float, lng: float) -> tuple[float, float]:
    """The (dlat, dlng) GCJ-02 adds at a mainland WGS-84 point."""
    dlat = _shift_lat(lng - 105.0, lat - 35.0)
    dlng = _shift_lng(lng - 105.0, lat - 35.0)
    rad = lat / 180.0 * _PI
    magic = math.sin(rad)
    magic = 1.0 - _EE * magic * magic
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * _PI)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * math.cos(rad) * _PI)
    return dlat, dlng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lng):
        return lat, lng
    dlat, dlng = _gcj_offset(lat, lng)
    return lat + dlat, lng + dlng


# 1e-10 degrees is about 0.01 mm: far below the 0.01 m the reverse conversions promise.
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 50


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Solves wgs84_to_gcj02(w) == (lat, lng) for w by fixed-point iteration.

    The GCJ-02 shift changes by well under 1% per degree, so each step gains more than two
    decimal digits; 3-4 iterations reach the tolerance.

    Within a few hundred metres of the mainland outline a GCJ-02 point can have two preimages: a
    mainland point shifted across the outline, and the same point unshifted outside it. The
    mainland preimage is preferred, so every mainland WGS-84 point survives a round trip exactly.
    """
    w_lat, w_lng = lat, lng
    for _ in range(_MAX_ITERATIONS):
        d_lat, d_lng = _gcj_offset(w_lat, w_lng)
        e_lat = w_lat + d_lat - lat
        e_lng = w_lng + d_lng - lng
        w_lat -= e_lat
        w_lng -= e_lng
        if abs(e_lat) < _TOLERANCE_DEG and abs(e_lng) < _TOLERANCE_DEG:
            break
    if in_mainland_china(w_lat, w_lng):
        return w_lat, w_lng
    return lat, lng


def gcj02_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * _BD_K)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _BD_K)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat: float, lng: float) -> tuple[float, float]:
    x = lng - 0.0065
    y = lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _BD_K)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_K)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """Baidu's published inverse is approximate (off by up to ~1 m); this refines it to exact."""
    g_lat, g_lng = _bd09_to_gcj02_approx(lat, lng)
    for _ in range(_MAX_ITERATIONS):
        b_lat, b_lng = gcj02_to_bd09(g_lat, g_lng)
        e_lat = b_lat - lat
        e_lng = b_lng - lng
        g_lat -= e_lat
        g_lng -= e_lng
        if abs(e_lat) < _TOLERANCE_DEG and abs(e_lng) < _TOLERANCE_DEG:
            break
    return g_lat, g_lng


def _wrap_lng(lng: float) -> float:
    # Shifts near the 180th meridian may step just past it; the coordinate type rejects that.
    if lng > 180.0:
        return lng - 360.0
    if lng < -180.0:
        return lng + 360.0
    return lng


def _clamp_lat(lat: float) -> float:
    return max(-90.0, min(90.0, lat))


def to_gcj02(coord: Coord) -> Coord:
    """The same place in GCJ-02, the system stores are stored and shown in."""
    system = coord.system
    if system is CoordSystem.GCJ02:
        return coord
    if system is CoordSystem.WGS84:
        lat, lng = wgs84_to_gcj02(coord.lat, coord.lng)
    else:
        lat, lng = bd09_to_gcj02(coord.lat, coord.lng)
    return Coord(_clamp_lat(lat), _wrap_lng(lng), CoordSystem.GCJ02)


def to_wgs84(coord: Coord) -> Coord:
    """The same place in WGS-84, the real position every distance is measured between (a
    browser's fix, already WGS-84, is returned as it is)."""
    return to_system(coord, CoordSystem.WGS84)


def to_system(coord: Coord, system: CoordSystem) -> Coord:
    """The same place in any system."""
    if coord.system is system:
        return coord
    gcj = to_gcj02(coord)
    if system is CoordSystem.GCJ02:
        return gcj
    if system is CoordSystem.WGS84:
        lat, lng = gcj02_to_wgs84(gcj.lat, gcj.lng)
    else:
        lat, lng = gcj02_to_bd09(gcj.lat, gcj.lng)
    return Coord(_clamp_lat(lat), _wrap_lng(lng), system)
