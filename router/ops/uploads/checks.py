"""Plausibility warnings on a store upload: rows that are valid but probably wrong. Each is a
`RowError` with a stable code, its row, and the likely fix in Chinese and English; an upload with
warnings commits only with the dry run's confirmation token (`confirm.py`).

- `swapped_coordinates`: the swapped pair fits the row's city, the given one does not (a whole
  file of them is said once, as `file_swapped_coordinates`);
- `far_from_city` / `far_from_district`: the point is far from the centre of the division the row
  names (`geo.divisions`; a city that is no Chinese division, one abroad, is not judged);
- `area_far_from_store`: the service area's nearest point is far from its store;
- `wrong_coord_system`: the address's geocode fits the point read in another system better;
- `stacked_points`: many stores on exactly the same point, with the count;
- `template_example`: the template's example row (before it overwrites a real store)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import shapely
from shapely.ops import nearest_points

from geo import divisions
from geo.coords import CoordError, CoordSystem, Shift, to_system
from geo.distance import haversine_m
from geo.providers import Provider
from router.ops.uploads.model import RowError, Table
from router.ops.uploads.rows import StoreRow

# Below this many checkable rows a file is not called swapped as a whole, and at least this share
# of them must be swapped.
FILE_SWAP_MIN_ROWS = 3
FILE_SWAP_SHARE = 0.8

SYSTEM_ZH = {"wgs84": "GPS（WGS-84）坐标", "gcj02": "高德/腾讯（GCJ-02）坐标", "bd09": "百度坐标"}
# What to write in the coord column instead, in ops' words.
SYSTEM_WORD = {"wgs84": "GPS（wgs84）", "gcj02": "高德（gcj02）", "bd09": "百度（bd09）"}
SYSTEM_EN = {"wgs84": "GPS (WGS-84)", "gcj02": "AMap/Tencent (GCJ-02)", "bd09": "Baidu (BD-09)"}


@dataclass(frozen=True, slots=True)
class Limits:
    city_radius_m: float = 150_000.0
    district_radius_m: float = 50_000.0
    area_distance_m: float = 20_000.0
    system_mismatch_m: float = 300.0
    stack_min: int = 3


@dataclass(frozen=True, slots=True)
class Located:
    """An address's geocode (GCJ-02), precise enough to judge a point by."""

    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class Geocode:
    """An address's geocode from a provider: GCJ-02, with the provider's own match level and
    whether that level places a store (a street number or a point of interest)."""

    lat: float
    lng: float
    level: str
    precise: bool
    provider: str

    def located(self) -> Located:
        return Located(self.lat, self.lng)


class GeocodeSource(Protocol):
    """What geocodes an upload's addresses (geocode.Geocoder: a provider's web service)."""

    async def many(
        self, pool: Any, addresses: Iterable[tuple[str, str, str]]
    ) -> dict[str, Geocode]: ...


@dataclass(slots=True)
class Checks:
    """What an upload is checked with: the limits, each kind's template example row (column ->
    value), and the geocodes of the file's addresses (by `address_key`) when geocoding is on."""

    limits: Limits = field(default_factory=Limits)
    examples: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    geocodes: dict[str, Located] = field(default_factory=dict)
    geocoder: GeocodeSource | None = None  # when a provider and its key are configured
    geocode_check_rows: int = 200  # rows with coordinates geocoded to check their system label
    found: list[RowError] = field(default_factory=list)  # warnings found while geocoding


def address_key(city: str, address: str) -> str:
    """The key a geocode is cached under: the address as ops wrote it, with its city."""
    return f"{city.strip()}|{' '.join(address.split())}"


def _km(metres: float) -> str:
    return f"{metres / 1000:,.0f}" if metres >= 10_000 else f"{metres / 1000:,.1f}"


def _gcj(provider: Provider, lat: float, lng: float) -> tuple[float, float] | None:
    try:
        c = to_system(provider.coord(lat, lng), CoordSystem.GCJ02, Shift.MAINLAND)
    except CoordError:
        return None
    return c.lat, c.lng


def _nearest(cands: Sequence[divisions.Division], lat: float, lng: float) -> float:
    return min(d.distance_m(lat, lng) for d in cands)


def _place_checks(row: StoreRow, n: int, limits: Limits, out: list[RowError]) -> bool:
    """Swapped, far from city or district. True when the row was found swapped."""
    cities = divisions.find(row.city)
    if not cities:
        return False  # no Chinese division of that name (a city abroad): nothing to judge by
    given = _nearest(cities, row.lat, row.lng)
    value = f"{row.source_lat},{row.source_lng}"
    if given <= limits.city_radius_m:
        if row.district:
            near = min(cities, key=lambda d: d.distance_m(row.lat, row.lng))
            ds = divisions.children(near, row.district)
            if ds and _nearest(ds, row.lat, row.lng) > limits.district_radius_m:
                far = _nearest(ds, row.lat, row.lng)
                out.append(
                    RowError(
                        n,
                        "district",
                        row.district,
                        f"the point is {_km(far)} km from the centre of {row.district}: check the "
                        "coordinates or the district",
                        "far_from_district",
                        f"坐标离「{row.district}」中心 {_km(far)} 公里，请核对经纬度或区县",
                    )
                )
        return False
    provider = Provider(row.coord_provider) if row.coord_provider else None
    if provider is not None and abs(row.source_lng) <= 90:
        swapped = _gcj(provider, row.source_lng, row.source_lat)
        if swapped is not None and _nearest(cities, *swapped) <= limits.city_radius_m:
            out.append(
                RowError(
                    n,
                    "lat",
                    value,
                    f"latitude and longitude are probably swapped: {row.source_lng},"
                    f"{row.source_lat} is in {row.city}, the point as given is "
                    f"{_km(given)} km away",
                    "swapped_coordinates",
                    f"经纬度可能填反了：互换后（纬度 {row.source_lng}，经度 {row.source_lat}）"
                    f"正在{row.city}，按所填坐标离{row.city} {_km(given)} 公里",
                )
            )
            return True
    out.append(
        RowError(
            n,
            "city",
            row.city,
            f"the point is {_km(given)} km from the centre of {row.city}: check the coordinates "
            "or the city",
            "far_from_city",
            f"坐标离「{row.city}」中心 {_km(given)} 公里，可能不是这家店的坐标，请核对经纬度或城市",
        )
    )
    return False


def _area_check(row: StoreRow, n: int, limits: Limits, out: list[RowError]) -> None:
    if not row.service_area:
        return
    try:
        area = shapely.from_geojson(row.service_area)
    except shapely.errors.GEOSException:
        return
    point = shapely.Point(row.lng, row.lat)
    if area.is_empty or area.covers(point):
        return
    near = nearest_points(area, point)[0]
    far = haversine_m(row.lat, row.lng, near.y, near.x)
    if far > limits.area_distance_m:
        out.append(
            RowError(
                n,
                "service_area",
                (row.source_area or "")[:200],
                f"the service area is {_km(far)} km from its store: check the area's "
                "coordinates (same system as the store's) or the store's",
                "area_far_from_store",
                f"服务范围离门店 {_km(far)} 公里，"
                "请核对服务范围的坐标（与门店同一坐标系）或门店坐标",
            )
        )


def _system_check(
    row: StoreRow, n: int, limits: Limits, geocodes: Mapping[str, Located], out: list[RowError]
) -> None:
    if not row.address:
        return
    found = geocodes.get(address_key(row.city, row.address))
    if found is None:
        return
    readings: dict[str, float] = {}
    provider = Provider(row.coord_provider) if row.coord_provider else Provider.GCJ02
    for system in CoordSystem:
        try:
            c = to_system(
                provider.coord(row.source_lat, row.source_lng, system),
                CoordSystem.GCJ02,
                Shift.MAINLAND,
            )
        except CoordError:
            continue
        readings[system.value] = haversine_m(c.lat, c.lng, found.lat, found.lng)
    labelled = haversine_m(row.lat, row.lng, found.lat, found.lng)
    best = min(readings, key=lambda s: readings[s]) if readings else None
    if (
        best is not None
        and best != row.source_coord
        and labelled > limits.system_mismatch_m
        and readings[best] * 3 <= labelled
    ):
        out.append(
            RowError(
                n,
                "coord",
                row.source_coord,
                f"the coordinates are probably {SYSTEM_EN[best]}: read as {row.source_coord} "
                f"the store is {labelled:,.0f} m from its address, read as {best} "
                f"{readings[best]:,.0f} m; set the coord column to {best}",
                "wrong_coord_system",
                f"坐标可能是{SYSTEM_ZH[best]}：按所标坐标系离地址 {labelled:,.0f} 米，"
                f"按{SYSTEM_ZH[best]}只差 {readings[best]:,.0f} 米，"
                f"请把坐标系改为{SYSTEM_WORD[best]}",
            )
        )


def _stacked(rows: Sequence[StoreRow], numbers: Sequence[int], limits: Limits) -> list[RowError]:
    at: dict[tuple[float, float], list[int]] = {}
    for row, n in zip(rows, numbers, strict=True):
        at.setdefault((round(row.lat, 6), round(row.lng, 6)), []).append(n)
    out: list[RowError] = []
    for (lat, lng), ns in at.items():
        if len(ns) >= limits.stack_min:
            out.extend(
                RowError(
                    n,
                    "lat",
                    f"{lat},{lng}",
                    f"{len(ns)} stores are on exactly this point (rounded or geocoded to a "
                    "centre?): give each store its own coordinates",
                    "stacked_points",
                    f"{len(ns)} 家门店在同一个点上（坐标被取整或只定位到区县中心？），"
                    "请给每家店填自己的坐标",
                )
                for n in ns
            )
    return out


def example_rows(table: Table, kind: str, example: Mapping[str, str]) -> list[tuple[int, str]]:
    """Rows that are the template's example row left in the file: every cell of the example the
    file has (its id and name at least) as the template wrote it (row number, id)."""
    id_col = {"stores": "store_id", "groups": "group_id", "fallbacks": "store_id"}.get(kind, "code")
    if not example.get(id_col):
        return []
    out: list[tuple[int, str]] = []
    for n, values in table.rows:
        keys = [c for c, v in example.items() if v and c in values]
        if (
            id_col in keys
            and len(keys) >= 2
            and all(" ".join(values[c].split()) == " ".join(example[c].split()) for c in keys)
        ):
            out.append((n, values[id_col].strip()))
    return out


def template_warnings(hits: Sequence[tuple[int, str]], existing: set[str]) -> list[RowError]:
    out: list[RowError] = []
    for n, ident in hits:
        if ident in existing:
            zh = f"这是模板里的示例行，会覆盖已有的「{ident}」：请删除这一行"
            en = (
                f"is the template's example row and would overwrite the existing {ident}: delete it"
            )
        else:
            zh = "这是模板里的示例行：请删除这一行，或改成真实数据"
            en = "is the template's example row: delete it or put real data in it"
        out.append(RowError(n, "", ident, en, "template_example", zh))
    return out


def check_stores(
    rows: Sequence[StoreRow], numbers: Sequence[int], checks: Checks
) -> list[RowError]:
    """The warnings of validated store rows (`numbers`: each row's spreadsheet row)."""
    limits = checks.limits
    out: list[RowError] = []
    swapped = 0
    judged = 0
    for row, n in zip(rows, numbers, strict=True):
        if math.isnan(row.lat):
            continue
        if divisions.find(row.city):
            judged += 1
        swapped += _place_checks(row, n, limits, out)
        _area_check(row, n, limits, out)
        _system_check(row, n, limits, checks.geocodes, out)
    if judged >= FILE_SWAP_MIN_ROWS and swapped >= FILE_SWAP_SHARE * judged:
        out = [w for w in out if w.code != "swapped_coordinates"]
        out.insert(0, file_swapped(swapped, judged))
    out.extend(_stacked(rows, numbers, limits))
    return out


def file_swapped(swapped: int, judged: int) -> RowError:
    return RowError(
        0,
        "lat",
        "",
        f"the latitude and longitude columns are probably swapped ({swapped} of {judged} rows "
        "fit their city only swapped): swap the two column headers and upload again",
        "file_swapped_coordinates",
        f"整个文件的经纬度两列可能填反了（{judged} 行中 {swapped} 行互换后才在所填城市）："
        "请互换两列的表头后重新上传",
    )


def collapse_swapped_columns(errors: list[RowError], rows: int) -> list[RowError]:
    """A file whose latitude column holds longitudes (out of ±90) on most rows has its two
    columns swapped: one sentence for the file instead of an error per row."""
    # A row told "probably swapped" (its swapped pair fits its city) counts as one of them.
    codes = ("out_of_range", "swapped_coordinates")
    lat_range = [e for e in errors if e.code in codes and e.column == "lat"]
    if rows < FILE_SWAP_MIN_ROWS or len(lat_range) < FILE_SWAP_SHARE * rows:
        return errors
    rest = [e for e in errors if not (e.code in codes and e.column == "lat")]
    return [
        RowError(
            0,
            "lat",
            "",
            f"the latitude and longitude columns are swapped: the latitude column holds "
            f"longitudes (beyond ±90) on {len(lat_range)} of {rows} rows; swap the two column "
            "headers and upload again",
            "columns_swapped",
            f"经纬度两列填反了：纬度列在 {rows} 行中有 {len(lat_range)} 行是经度（超出 ±90）；"
            "请互换两列的表头后重新上传",
        ),
        *rest,
    ]
