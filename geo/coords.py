"""Coordinates that carry their system, and conversions between WGS-84, GCJ-02 and BD-09.

Two frames are used inside Huoma. Positions are *measured* in WGS-84, the real one: the
nearest-store index, service areas and every distance take real positions (`to_wgs84`), because
GCJ-02 shifts mainland points and leaves Hong Kong and Macau ones alone, so a GCJ-02 distance across
those borders is wrong by the whole shift (~500 m). Stores are also *stored and shown* in GCJ-02
(`to_gcj02`), what AMap and Tencent maps draw in. WGS-84 -> GCJ-02 is an exact forward formula;
the reverse directions have no closed form and are solved by fixed-point iteration on the forward
formulas, to well under a centimetre.

Where the shift applies is a fact of the coordinate's provider, carried as its `Shift`: the plain
codes keep Huoma's first rule (GCJ-02 only inside mainland China, see `geo.mainland`; BD-09,
Baidu's extra shift on top of GCJ-02, everywhere), while AMap, Tencent and WeChat also shift Hong
Kong and Macau, and Baidu shifts those and Taiwan and leaves the rest of the world in WGS-84
(`geo.providers` has the sources). The arithmetic is the same formula whatever the rule; only the
region test (`geo.regions`) changes.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from geo.mainland import in_mainland_china
from geo.regions import Region, region_of


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


class Shift(enum.StrEnum):
    """Where a coordinate's GCJ-02 (and BD-09) shift was applied: a fact of its provider."""

    # The plain codes (wgs84, gcj02, bd09): GCJ-02 inside the mainland only, BD-09 everywhere.
    MAINLAND = "mainland"
    # AMap, Tencent, WeChat: GCJ-02 in the mainland, Hong Kong and Macau; WGS-84 elsewhere.
    MAINLAND_HK_MACAU = "mainland_hk_macau"
    # Baidu: GCJ-02 and BD-09 in the mainland, Hong Kong, Macau and Taiwan; WGS-84 elsewhere.
    MAINLAND_HK_MACAU_TAIWAN = "mainland_hk_macau_taiwan"

    def covers(self, lat: float, lng: float) -> bool:
        """True when this rule shifts the WGS-84 point (lat, lng)."""
        if self is Shift.MAINLAND:
            return in_mainland_china(lat, lng)
        return region_of(lat, lng) in _SHIFTED[self]


_SHIFTED: dict[Shift, frozenset[Region]] = {
    Shift.MAINLAND: frozenset({Region.MAINLAND}),
    Shift.MAINLAND_HK_MACAU: frozenset({Region.MAINLAND, Region.HONG_KONG, Region.MACAU}),
    Shift.MAINLAND_HK_MACAU_TAIWAN: frozenset(
        {Region.MAINLAND, Region.HONG_KONG, Region.MACAU, Region.TAIWAN}
    ),
}


class CoordError(ValueError):
    """A coordinate that is not a place on Earth, or names no known system."""


@dataclass(frozen=True, slots=True)
class Coord:
    """A latitude/longitude in degrees, in a named system, shifted where `shift` says (its
    provider's rule; the plain codes' by default). Validated on construction."""

    lat: float
    lng: float
    system: CoordSystem
    shift: Shift = Shift.MAINLAND

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

    def pair(self) -> tuple[float, float]:
        return self.lat, self.lng


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


def wgs84_to_gcj02(lat: float, lng: float, shift: Shift = Shift.MAINLAND) -> tuple[float, float]:
    if not shift.covers(lat, lng):
        return lat, lng
    dlat, dlng = _gcj_offset(lat, lng)
    return lat + dlat, lng + dlng


# 1e-10 degrees is about 0.01 mm: far below the 0.01 m the reverse conversions promise.
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 50


def gcj02_to_wgs84(lat: float, lng: float, shift: Shift = Shift.MAINLAND) -> tuple[float, float]:
    """Solves wgs84_to_gcj02(w) == (lat, lng) for w by fixed-point iteration.

    The GCJ-02 shift changes by well under 1% per degree, so each step gains more than two
    decimal digits; 3-4 iterations reach the tolerance.

    Within a few hundred metres of the mainland outline a GCJ-02 point can have two preimages: a
    mainland point shifted across the outline, and the same point unshifted outside it. The
    mainland preimage is preferred, so every mainland WGS-84 point survives a round trip exactly.
    Under a rule that also shifts Hong Kong and Macau (`shift`) there is no such fold at those
    borders: both sides are shifted.
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
    if shift.covers(w_lat, w_lng):
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
    """The same place in GCJ-02, under the coordinate's own rule (`to_system(c, GCJ02,
    Shift.MAINLAND)` is the GCJ-02 stores are stored in)."""
    return to_system(coord, CoordSystem.GCJ02)


def to_wgs84(coord: Coord) -> Coord:
    """The same place in WGS-84, the real position every distance is measured between (a
    browser's fix, already WGS-84, is returned as it is)."""
    return to_system(coord, CoordSystem.WGS84)


def _mainland_gcj02(coord: Coord) -> tuple[float, float]:
    """Under the plain codes' rule: BD-09 is Baidu's shift everywhere, GCJ-02 the mainland's."""
    system = coord.system
    if system is CoordSystem.GCJ02:
        return coord.lat, coord.lng
    if system is CoordSystem.WGS84:
        return wgs84_to_gcj02(coord.lat, coord.lng)
    return bd09_to_gcj02(coord.lat, coord.lng)


def _real(coord: Coord) -> tuple[float, float]:
    """The WGS-84 position of a coordinate shifted under a provider's rule (not Shift.MAINLAND):
    outside the regions it shifts, a provider gives WGS-84 whatever its system."""
    shift = coord.shift
    lat, lng = coord.lat, coord.lng
    if coord.system is CoordSystem.WGS84:
        return lat, lng
    if coord.system is CoordSystem.BD09:
        g_lat, g_lng = bd09_to_gcj02(lat, lng)
        w_lat, w_lng = gcj02_to_wgs84(g_lat, g_lng, shift)
        if (w_lat, w_lng) != (g_lat, g_lng):  # solved inside a region the provider shifts
            return w_lat, w_lng
        return lat, lng  # outside every region the provider shifts: WGS-84 as it is
    return gcj02_to_wgs84(lat, lng, shift)


def _shifted(lat: float, lng: float, system: CoordSystem, shift: Shift) -> tuple[float, float]:
    """A WGS-84 position in `system` under a provider's rule (not Shift.MAINLAND)."""
    if system is CoordSystem.WGS84 or not shift.covers(lat, lng):
        return lat, lng
    g_lat, g_lng = wgs84_to_gcj02(lat, lng, shift)
    if system is CoordSystem.GCJ02:
        return g_lat, g_lng
    return gcj02_to_bd09(g_lat, g_lng)


def to_system(coord: Coord, system: CoordSystem, shift: Shift | None = None) -> Coord:
    """The same place in any system, under `shift`'s rule (by default the coordinate's own)."""
    target = coord.shift if shift is None else shift
    if coord.system is system and coord.shift is target:
        return coord
    if coord.shift is Shift.MAINLAND and target is Shift.MAINLAND:
        # The plain codes' rule, as Huoma always converted: through GCJ-02.
        g_lat, g_lng = _mainland_gcj02(coord)
        if system is CoordSystem.GCJ02:
            lat, lng = g_lat, g_lng
        elif system is CoordSystem.WGS84:
            lat, lng = gcj02_to_wgs84(g_lat, g_lng)
        else:
            lat, lng = gcj02_to_bd09(g_lat, g_lng)
    else:
        if coord.shift is Shift.MAINLAND:
            w_lat, w_lng = to_system(coord, CoordSystem.WGS84).pair()
        else:
            w_lat, w_lng = _real(coord)
        if target is Shift.MAINLAND:
            lat, lng = to_system(
                Coord(_clamp_lat(w_lat), _wrap_lng(w_lng), CoordSystem.WGS84), system
            ).pair()
        else:
            lat, lng = _shifted(w_lat, w_lng, system, target)
    return Coord(_clamp_lat(lat), _wrap_lng(lng), system, target)
