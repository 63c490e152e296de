"""Validating an upload's rows: every problem reported with its row, column, value and reason;
coordinates converted to the internal system; values a re-upload does not give are kept (None)."""

from __future__ import annotations

import math
import re
import unicodedata
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import shapely

from geo import divisions
from geo.areas import AreaError, parse_area
from geo.coords import CoordError, CoordSystem, Shift, to_system
from geo.providers import Provider
from router import flags
from router.ops.uploads.headers import ALIASES, COORDINATES, missing_fields
from router.ops.uploads.model import (
    _CODE_RE,
    _CONTROL,
    BRAND,
    CLEAR_WORDS,
    ENTRY_KINDS,
    ENTRY_OPTIONAL,
    ENTRY_REQUIRED,
    FALLBACK_REQUIRED,
    GROUP_OPTIONAL,
    GROUP_REQUIRED,
    PERSONAL_GROUP_CODE,
    STORE_OPTIONAL,
    STORE_REQUIRED,
    WECHAT_SCAN_JOIN_LIMIT,
    RowError,
    Table,
    file_error,
)
from router.ops.uploads.source import required_columns, row_provider
from router.scan.catalogue import city_key


@dataclass(frozen=True, slots=True)
class StoreRow:
    store_id: str
    name: str
    city: str
    address: str | None  # None: keep the stored address ("" clears it)
    lat: float  # GCJ-02, the plain code's rule (mainland only)
    lng: float
    source_lat: float
    source_lng: float
    source_coord: str
    # GeoJSON in GCJ-02; None keeps the stored area, "" removes it.
    service_area: str | None
    active: bool | None  # None: keep the stored flag (a new store is active)
    source_area: str | None = None  # as uploaded, in source_coord; None and "" as service_area
    # Where the store is, as ops group stores: None keeps the stored value, "" clears it.
    province: str | None = None
    district: str | None = None
    region: str | None = None  # an ops-defined grouping such as 华东大区
    coord_provider: str | None = None  # who gave the coordinates (geo.providers.Provider)

    def record(self) -> tuple[Any, ...]:
        return (
            self.store_id,
            self.name,
            self.city,
            self.address,
            self.lat,
            self.lng,
            self.source_lat,
            self.source_lng,
            self.source_coord,
            self.service_area,
            self.active,
            self.source_area,
            self.province,
            self.district,
            self.region,
            self.coord_provider,
            city_key(self.city),
            # None keeps the stored region (and its key), '' clears both.
            None if self.region is None else city_key(self.region) if self.region else "",
        )


@dataclass(frozen=True, slots=True)
class GroupRow:
    row: int  # the spreadsheet row: new groups without a position are placed in file order
    group_id: str
    store_id: str
    name: str
    qr_payload: str
    capacity: int | None
    member_count: int | None
    expires_at: datetime | None
    derived_expires_at: datetime | None
    position: int | None  # None: keep the stored one; a new group goes after the store's last
    display_cap: int | None

    def record(self) -> tuple[Any, ...]:
        return (
            self.row,
            self.group_id,
            self.store_id,
            self.name,
            self.qr_payload,
            self.capacity,
            self.member_count,
            self.expires_at,
            self.derived_expires_at,
            self.position,
            self.display_cap,
        )


@dataclass(frozen=True, slots=True)
class FallbackRow:
    store_id: str | None  # None: brand-wide
    name: str
    qr_payload: str

    @property
    def group_id(self) -> str:
        return f"fallback:{self.store_id or BRAND}"

    def record(self) -> tuple[Any, ...]:
        return (self.group_id, self.store_id, self.name, self.qr_payload)


class _Row:
    """Field readers for one row that record problems instead of stopping at the first."""

    def __init__(self, n: int, values: dict[str, str], errors: list[RowError]) -> None:
        self.n = n
        self.values = values
        self.errors = errors
        self.ok = True

    def fail(self, column: str, message: str, code: str = "invalid", zh: str = "") -> None:
        self.ok = False
        value = self.values.get(column, "")[:200]
        self.errors.append(RowError(self.n, column, value, message, code, zh))

    def text(self, column: str, max_len: int, *, required: bool = True) -> str:
        value = self.values.get(column, "").strip()
        if not value:
            if required:
                self.fail(column, "is required", "required", "必填，不能为空")
            return ""
        if len(value) > max_len:
            self.fail(
                column, f"is longer than {max_len} characters", "too_long", f"超过 {max_len} 个字"
            )
        elif _CONTROL.search(value):
            self.fail(column, "contains control characters", "control_characters", "含有控制字符")
        return value

    def optional_text(self, column: str, max_len: int) -> str | None:
        """An optional cell: None when empty (the stored value is kept), "" when it says to clear
        the stored value (CLEAR_WORDS), else its text."""
        raw = self.values.get(column, "").strip()
        if not raw:
            return None
        if raw.lower() in CLEAR_WORDS:
            return ""
        return self.text(column, max_len, required=False)

    def number(self, column: str) -> float:
        raw = self.values.get(column, "").strip()
        if not raw:
            self.fail(column, "is required", "required", "必填，不能为空")
            return math.nan
        try:
            value = float(raw)
        except ValueError:
            self.fail(column, "is not a number", "not_a_number", "不是数字")
            return math.nan
        if not math.isfinite(value):
            self.fail(column, "is not a finite number", "not_a_number", "不是有限的数字")
            return math.nan
        return value

    def integer(self, column: str, low: int, high: int) -> int | None:
        raw = self.values.get(column, "").strip()
        if not raw:
            return None
        try:
            f = float(raw)  # Excel writes whole numbers as "200.0"
        except ValueError:
            self.fail(column, "is not a whole number", "not_an_integer", "不是整数")
            return None
        if not math.isfinite(f) or f != int(f):
            self.fail(column, "is not a whole number", "not_an_integer", "不是整数")
            return None
        value = int(f)
        if not low <= value <= high:
            self.fail(
                column,
                f"must be between {low} and {high}",
                "out_of_range",
                f"须在 {low} 到 {high} 之间",
            )
            return None
        return value

    def time(
        self, column: str, tz: zoneinfo.ZoneInfo, now: datetime | None = None
    ) -> datetime | None:
        raw = self.values.get(column, "").strip()
        if not raw:
            return None
        try:
            return parse_time(raw, tz, now)
        except ValueError as exc:
            self.fail(
                column, str(exc), "bad_time", "不是日期时间（例如 2026-11-30 18:00 或 ISO 8601）"
            )
            return None


def _check_columns(
    table: Table, required: Sequence[str], optional: Sequence[str], kind: str
) -> list[str]:
    missing = missing_fields(kind, table.columns, required)
    if missing:
        names = ", ".join(f"{c} ({ALIASES[kind][c][1]})" for c in missing)
        raise file_error(
            f"missing column(s): {', '.join(missing)}; required: {', '.join(required)} "
            "(Chinese and English header names are accepted, see the template)",
            kind="missing_columns",
            zh=f"缺少列：{names}；表头可用中文或英文，见模板",
        )
    known = set(required) | set(optional) | ({COORDINATES} if kind == "stores" else set())
    return [c for c in table.columns if c and c not in known]


def _duplicates(row: _Row, column: str, value: str, seen: dict[str, int]) -> None:
    if not value:
        return
    first = seen.get(value)
    if first is not None:
        row.fail(column, f"duplicates row {first}", "duplicate", f"与第{first}行重复")
    else:
        seen[value] = row.n


# How near a row's city its swapped pair must be to be called swapped (HUOMA_UPLOAD_CITY_RADIUS_M
# when the upload's checks give it).
SWAP_CITY_RADIUS_M = 150_000.0


def swapped_into_city(
    city: str, provider: Provider, lat: float, lng: float, radius_m: float = SWAP_CITY_RADIUS_M
) -> bool:
    """Whether (lng, lat), read as latitude and longitude, is a valid point within `radius_m` of
    the city the row names (a city that is no Chinese division is not judged: False)."""
    cities = divisions.find(city)
    if not cities:
        return False
    try:
        c = to_system(provider.coord(lng, lat), CoordSystem.GCJ02, Shift.MAINLAND)
    except CoordError:
        return False
    return min(d.distance_m(c.lat, c.lng) for d in cities) <= radius_m


def validate_stores(
    table: Table, coord: Provider | None = None, *, city_radius_m: float = SWAP_CITY_RADIUS_M
) -> tuple[list[StoreRow], list[RowError], list[str]]:
    """`coord`: the source the upload named for the whole file, or the default ops set (a row's
    own coord cell wins); a file without either and without a coord column is refused, asking."""
    ignored = _check_columns(
        table, required_columns(table, STORE_REQUIRED, coord), STORE_OPTIONAL, "stores"
    )
    errors: list[RowError] = []
    out: list[StoreRow] = []
    seen: dict[str, int] = {}
    for n, values in table.rows:
        r = _Row(n, values, errors)
        store_id = r.text("store_id", 64)
        _duplicates(r, "store_id", store_id, seen)
        name = r.text("name", 100)
        city = r.text("city", 50)
        address = r.optional_text("address", 200)
        province = r.optional_text("province", 50)
        district = r.optional_text("district", 50)
        region = r.optional_text("region", 50)
        lat, lng = _coordinates(r)
        provider = row_provider(values, coord, r.fail)
        system: CoordSystem | None = provider.system if provider is not None else None
        gcj = None
        if provider is not None and math.isfinite(lat) and math.isfinite(lng):
            if lat == 0.0 and lng == 0.0:
                r.fail(
                    "lat",
                    "lat and lng are both 0: the coordinates are probably missing",
                    "zero_coordinates",
                    "经纬度都是 0，可能缺少坐标",
                )
            else:
                try:
                    gcj = to_system(provider.coord(lat, lng), CoordSystem.GCJ02, Shift.MAINLAND)
                except CoordError as exc:
                    column = "lat" if "latitude" in str(exc) else "lng"
                    if column == "lat" and swapped_into_city(
                        city, provider, lat, lng, city_radius_m
                    ):
                        # Out of range as given, but the two numbers swapped are a point in
                        # the row's own city: say so, with the fix.
                        r.fail(
                            column,
                            f"latitude and longitude are probably swapped: latitude {lat} is "
                            f"beyond ±90, while latitude {lng}, longitude {lat} is in {city}; "
                            "swap the two values",
                            "swapped_coordinates",
                            f"经纬度可能填反了：纬度 {lat} 超出 ±90，"
                            f"互换后（纬度 {lng}，经度 {lat}）正在{city}；"
                            "请把这两个数互换后重新上传",
                        )
                    else:
                        r.fail(
                            column,
                            str(exc),
                            "out_of_range",
                            "纬度须在 -90 到 90 之间"
                            if column == "lat"
                            else "经度须在 -180 到 180 之间",
                        )
        area: str | None = None
        provider_shift = provider.shift if provider is not None else Shift.MAINLAND
        raw_area = values.get("service_area", "").strip()
        if raw_area.lower() in CLEAR_WORDS:
            area = raw_area = ""
        elif raw_area and system is not None:
            try:
                area = shapely.to_geojson(parse_area(raw_area, system, shift=provider_shift))
            except AreaError as exc:
                r.fail("service_area", str(exc), "bad_service_area", f"服务范围无效：{exc}")
        active = True  # an empty cell: the store is active
        raw_active = values.get("active", "")
        if not flags.is_blank(raw_active):
            try:
                active = flags.parse_flag(raw_active)
            except flags.FlagError:
                r.fail(
                    "active",
                    f"must be true or false ({flags.ACCEPTED})",
                    "bad_flag",
                    f"须为是或否（{flags.ACCEPTED}）",
                )
        if r.ok and gcj is not None and system is not None and provider is not None:
            out.append(
                StoreRow(
                    store_id,
                    name,
                    city,
                    address,
                    gcj.lat,
                    gcj.lng,
                    lat,
                    lng,
                    system.value,
                    area,
                    # An absent column or an empty cell keeps the stored flag.
                    active if values.get("active", "").strip() else None,
                    raw_area if area is not None else None,
                    province,
                    district,
                    region,
                    provider.value,
                )
            )
    return out, errors, ignored


# One cell of both coordinates: two numbers (AMap and Tencent's "lng,lat", a "lat,lng" from other
# pickers), or labelled ("lng: 121.47, lat: 31.23", "经度121.47 纬度31.23").
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s*[,;，；\s]\s*({_NUMBER})\s*$")
_LABELLED = re.compile(rf"(lng|lon|long|longitude|lat|latitude|经度|纬度)\s*[:=：]?\s*({_NUMBER})")


def _coordinates(r: _Row) -> tuple[float, float]:
    """The row's latitude and longitude: its lat and lng cells, or one cell of both."""
    values = r.values
    if COORDINATES not in values or (
        values.get("lat", "").strip() or values.get("lng", "").strip()
    ):
        return r.number("lat"), r.number("lng")
    raw = unicodedata.normalize("NFKC", values[COORDINATES]).strip()
    if not raw:
        r.fail(COORDINATES, "is required (longitude,latitude)", "required", "必填：经度,纬度")
        return math.nan, math.nan
    labelled = {
        ("lat" if k.lower().startswith("lat") or k == "纬度" else "lng"): float(v)
        for k, v in _LABELLED.findall(raw.lower())
    }
    if len(labelled) == 2:
        return labelled["lat"], labelled["lng"]
    pair = _PAIR.match(raw)
    if pair is None:
        r.fail(
            COORDINATES,
            'is not two numbers (write "longitude,latitude", e.g. 121.473701,31.230416)',
            "bad_coordinates",
            "不是两个数字（请写成“经度,纬度”，例如 121.473701,31.230416）",
        )
        return math.nan, math.nan
    a, b = float(pair.group(1)), float(pair.group(2))
    # A latitude is within ±90, a longitude within ±180: the one beyond 90 is the longitude.
    if abs(a) > 90 >= abs(b) and abs(a) <= 180:
        return b, a
    if abs(b) > 90 >= abs(a) and abs(b) <= 180:
        return a, b
    if abs(a) <= 90 and abs(b) <= 90:
        r.fail(
            COORDINATES,
            "both numbers could be the latitude, so which is the longitude cannot be told: "
            "use separate lat and lng columns, or label them (lng: ..., lat: ...)",
            "ambiguous_coordinates",
            "两个数都不超过 90，无法判断哪个是经度：请分成经度、纬度两列，或注明（经度:…, 纬度:…）",
        )
    else:
        r.fail(
            COORDINATES,
            "neither order is a valid latitude and longitude",
            "out_of_range",
            "两个数都超出经纬度范围",
        )
    return math.nan, math.nan


_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")


# WeChat's validity wording on a group's QR card: "该二维码7天内(12月7日前)有效", or just
# "12月7日前" / "12月7日": no year, the code dies at the start of that day.
_WECHAT_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
WECHAT_LIFETIME = timedelta(days=7)


def wechat_validity(
    text: str, now: datetime, tz: zoneinfo.ZoneInfo, lifetime: timedelta = WECHAT_LIFETIME
) -> datetime | None:
    """The expiry WeChat's validity wording means: the start of that month and day in `tz`, in
    the year that puts it within `lifetime` after `now` (the upload): read on 30 December,
    "1月6日前" is next January. None when the text has no such wording; ValueError for a day
    that does not exist (2月30日)."""
    m = _WECHAT_DAY.search(text)
    if m is None:
        return None
    month, day = int(m.group(1)), int(m.group(2))
    target = now.astimezone(tz) + lifetime
    best: datetime | None = None
    for year in (target.year - 1, target.year, target.year + 1):
        try:
            candidate = datetime(year, month, day, tzinfo=tz)
        except ValueError:
            continue
        if best is None or abs(candidate - target) < abs(best - target):
            best = candidate
    if best is None:
        raise ValueError(f"{month}月{day}日 is not a day of the year")
    return best


def parse_time(raw: str, tz: zoneinfo.ZoneInfo, now: datetime | None = None) -> datetime:
    """ISO 8601 with or without an offset, or Excel's usual 'YYYY-MM-DD HH:MM[:SS]' and
    'YYYY/MM/DD' forms. Times without an offset are in `tz`; a bare date means its midnight
    (WeChat's "valid until 11-30" is read as "expires at the start of 11-30"). With `now` (the
    upload), WeChat's own wording ("12月7日前", "该二维码7天内(12月7日前)有效") is read too."""
    text = raw.strip()
    if now is not None and _WECHAT_DAY.search(text):
        found = wechat_validity(text, now, tz)
        assert found is not None
        return found
    value: datetime | None = None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATETIME_FORMATS:
            try:
                value = datetime.strptime(text, fmt)  # zone applied below
                break
            except ValueError:
                continue
        if value is None:
            for fmt in _DATE_FORMATS:
                try:
                    d = datetime.strptime(text, fmt).date()
                    value = datetime.combine(d, time())
                    break
                except ValueError:
                    continue
    if value is None:
        raise ValueError(
            "is not a date-time (use e.g. 2026-11-30 18:00, ISO 8601, or WeChat's 12月7日前)"
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def validate_groups(
    table: Table,
    tz: zoneinfo.ZoneInfo,
    *,
    wechat_lifetime: timedelta = timedelta(days=7),
    now: datetime | None = None,
) -> tuple[list[GroupRow], list[RowError], list[str]]:
    ignored = _check_columns(table, GROUP_REQUIRED, GROUP_OPTIONAL, "groups")
    # Whole seconds, as exports write times: an export uploaded again changes nothing.
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    errors: list[RowError] = []
    out: list[GroupRow] = []
    seen: dict[str, int] = {}
    for n, values in table.rows:
        r = _Row(n, values, errors)
        group_id = r.text("group_id", 64)
        if group_id.startswith("fallback:"):
            r.fail(
                "group_id",
                "ids starting with 'fallback:' are reserved for fallbacks",
                "reserved_id",
                "以 fallback: 开头的编号留给兜底码使用",
            )
        _duplicates(r, "group_id", group_id, seen)
        store_id = r.text("store_id", 64)
        name = r.text("name", 100)
        payload = r.text("qr_payload", 1024)
        capacity = r.integer("capacity", 1, 100_000)
        member_count = r.integer("member_count", 0, 100_000)
        position = r.integer("position", -1_000_000, 1_000_000)
        display_cap = r.integer("display_cap", 1, 100_000_000)
        expires_at = r.time("expires_at", tz, now)  # WeChat's "12月7日前" too
        made_at = r.time("qr_created_at", tz)
        derived = None
        if PERSONAL_GROUP_CODE.match(payload):
            derived = (made_at or now) + wechat_lifetime
            if capacity is not None and capacity > WECHAT_SCAN_JOIN_LIMIT:
                r.fail(
                    "capacity",
                    over_scan_join_limit_parts()[1],
                    "over_scan_join_limit",
                    over_scan_join_limit_parts()[0],
                )
        if r.ok:
            out.append(
                GroupRow(
                    n,
                    group_id,
                    store_id,
                    name,
                    payload,
                    capacity,
                    member_count,
                    expires_at,
                    derived,
                    position,
                    display_cap,
                )
            )
    return out, errors, ignored


def over_scan_join_limit_parts(stored: int | None = None) -> tuple[str, str]:
    """The scan-join limit's message in Chinese and in English."""
    limit = WECHAT_SCAN_JOIN_LIMIT
    if stored is None:
        return (
            f"个人微信群二维码满 {limit} 人后无法扫码进群，容量不能超过 {limit}",
            f"a personal WeChat group code stops scan-joins at {limit} members: "
            f"capacity must be {limit} or less",
        )
    return (
        f"该群已存的容量 {stored} 超过个人微信群二维码的扫码进群上限 {limit} 人，"
        f"请填写不超过 {limit} 的 capacity",
        f"the group's stored capacity {stored} is more than "
        f"a personal WeChat group code's scan-join limit of {limit} members: "
        f"give a capacity of {limit} or less",
    )


@dataclass(frozen=True, slots=True)
class EntryRow:
    code: str
    kind: str
    store_id: str | None
    label: str | None  # None: keep the stored label ("" clears it)

    def record(self) -> tuple[Any, ...]:
        return (self.code, self.kind, self.store_id, self.label)


def validate_entries(table: Table) -> tuple[list[EntryRow], list[RowError], list[str]]:
    ignored = _check_columns(table, ENTRY_REQUIRED, ENTRY_OPTIONAL, "entries")
    errors: list[RowError] = []
    out: list[EntryRow] = []
    seen: dict[str, int] = {}
    for n, values in table.rows:
        r = _Row(n, values, errors)
        code = values.get("code", "").strip()
        if not _CODE_RE.fullmatch(code):
            r.fail(
                "code",
                "must be 1-64 letters, digits, '-' or '_' (it goes into a URL)",
                "bad_code",
                "须为 1-64 个字母、数字、- 或 _（它会出现在链接里）",
            )
        _duplicates(r, "code", code, seen)
        kind = values.get("kind", "").strip().lower()
        if kind not in ENTRY_KINDS:
            r.fail(
                "kind",
                f"must be one of {', '.join(ENTRY_KINDS)}",
                "bad_kind",
                f"须为 {'、'.join(ENTRY_KINDS)} 之一",
            )
        store_id = values.get("store_id", "").strip() or None
        if kind == "store" and store_id is None:
            r.fail(
                "store_id",
                "is required for a store's own counter code",
                "required",
                "门店自己的收银台码必须填写门店编号",
            )
        elif kind in ("counter", "poster") and store_id is not None:
            r.fail(
                "store_id",
                f"must be empty for a {kind} code (only kind store pins a store)",
                "unexpected_store",
                f"{kind} 类入口码不能填写门店编号（只有 store 类固定门店）",
            )
        label = r.optional_text("label", 100)
        if r.ok:
            out.append(EntryRow(code, kind, store_id, label))
    return out, errors, ignored


def validate_fallbacks(table: Table) -> tuple[list[FallbackRow], list[RowError], list[str]]:
    ignored = _check_columns(table, FALLBACK_REQUIRED, (), "fallbacks")
    errors: list[RowError] = []
    out: list[FallbackRow] = []
    seen: dict[str, int] = {}
    for n, values in table.rows:
        r = _Row(n, values, errors)
        raw_store = values.get("store_id", "").strip()
        if not raw_store:
            r.fail(
                "store_id",
                f"is required (a store id, or {BRAND} for the whole brand)",
                "required",
                f"必填：门店编号，或 {BRAND} 表示整个品牌",
            )
        elif len(raw_store) > 64:
            r.fail("store_id", "is longer than 64 characters", "too_long", "超过 64 个字")
        _duplicates(r, "store_id", raw_store, seen)
        name = r.text("name", 100)
        payload = r.text("qr_payload", 1024)
        if r.ok:
            out.append(FallbackRow(None if raw_store == BRAND else raw_store, name, payload))
    return out, errors, ignored
