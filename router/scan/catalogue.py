"""The immutable in-memory catalogue: stores, groups, entries, the nearest index and service areas.

A catalogue is built from database rows off the event loop and swapped in as one reference
(`CatalogueRef.current`); requests never see a half-built one and never wait for a rebuild.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from shapely.geometry import MultiPolygon, Polygon, shape

from geo.areas import Area, AreaError, ServiceAreas, convert_area, parse_area
from geo.coords import Coord, CoordError, CoordSystem, to_wgs84
from geo.index import NearestIndex
from geo.providers import Provider

log = logging.getLogger(__name__)


# Administrative suffixes a city is written with or without (上海市 = 上海, 延边朝鲜族自治州 =
# 延边, 香港特别行政区 = 香港), longest first; then the nationality names an autonomous
# prefecture's full name carries (恩施土家族苗族 -> 恩施); 州 alone is its short form (延边州).
# A name is never cut below two characters: 沙市 and 杭州 are names, not suffixed ones.
_CITY_SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "盟",
    "市",
    "州",
)
_NATIONALITIES = re.compile(r"^(.{2,}?)(?:[^族]{1,4}族)+$")


def city_key(name: str) -> str:
    """One key for every spelling of a city: width and spaces normalised, the administrative
    suffix and nationality names dropped, Latin letters case-folded. '上海', '上海市' and
    ' 上海市 ' are one city; a name that is nothing but a suffix stays as it is."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()
    for suffix in _CITY_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            text = text[: -len(suffix)]
            break
    m = _NATIONALITIES.match(text)
    return m.group(1) if m else text


def place_keys(names: Iterable[str]) -> list[str]:
    """The keys (`city_key`) of cities or regions asked for, as a SQL parameter compared with a
    store's stored `city_key` / `region_key`: every spelling of a place finds the same stores."""
    return sorted({city_key(n) for n in names})


def csv_field(text: str) -> bytes:
    """A CSV field for the event journal: always quoted, quotes doubled."""
    return b'"' + text.replace('"', '""').encode() + b'"'


class GroupKind(StrEnum):
    """A pool member customers join, or what a store shows when its pool has nothing usable."""

    GROUP = "group"
    FALLBACK = "fallback"


class GroupSource(StrEnum):
    """Who made a group."""

    UPLOAD = "upload"  # ops uploaded its code
    SIMULATED = "simulated"  # the simulated provider generated it (demos, load tests)
    WECOM = "wecom"  # a WeCom join way: qr_payload is the URL of WeCom's image of the code


@dataclass(frozen=True, slots=True)
class Group:
    pk: int
    group_id: str
    store_id: str | None  # None: the brand-wide fallback
    name: str
    qr_payload: str
    qr_version: int
    capacity: int
    member_count: int | None
    expires_at: float | None  # Unix seconds
    position: int
    kind: GroupKind
    display_cap: int  # its own, or the default
    # `{"id":…,"name":…,"qr_url":` serialized once: answers splice these bytes in, followed by
    # the signed, expiring image link of the moment (router.scan.qr.QrLinks).
    json_head: bytes = field(hash=False, compare=False, repr=False)
    csv_id: bytes = field(default=b"", hash=False, compare=False, repr=False)
    source: GroupSource = field(default=GroupSource.UPLOAD, compare=False)

    @property
    def image_url(self) -> bool:
        """Its QR image is fetched from qr_payload rather than drawn from it."""
        return self.source is GroupSource.WECOM

    def expired(self, now: float, margin_s: float) -> bool:
        """True once the code expires within the margin: a customer needs time to join."""
        return self.expires_at is not None and self.expires_at <= now + margin_s


# The place fields a store may have beside its city, each a filter of the picker.
PLACES = ("province", "district", "region")


@dataclass(frozen=True, slots=True)
class Store:
    store_id: str
    name: str
    city: str
    address: str
    lat: float  # GCJ-02, as stored and shown
    lng: float
    # The real position (WGS-84): what the index, the service areas and every distance use.
    wgs_lat: float
    wgs_lng: float
    groups: tuple[Group, ...]  # the pool, in order (GroupKind.GROUP only)
    fallback: Group | None  # the store's own fallback, else the brand's
    # The public description, and the same serialized once: responses splice these bytes in
    # (re-encoding CJK names and addresses on every scan cost more than all of routing).
    public: dict[str, Any] = field(hash=False, compare=False)
    json: bytes = field(hash=False, compare=False, repr=False)
    csv_id: bytes = field(hash=False, compare=False, repr=False)
    search_key: str = field(hash=False, compare=False)
    # Where the store is, as ops group stores (None: not given); the picker filters by them.
    province: str | None = None
    district: str | None = None
    region: str | None = None  # an ops-defined grouping such as 华东大区
    # The service area as stored (GeoJSON text, and as uploaded): a per-store patch compares it to
    # know whether the areas must be rebuilt (then only a full build is right).
    area_source: tuple[str | None, str | None] = field(
        default=(None, None), hash=False, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    kind: str
    store_id: str | None
    label: str
    campaign: str = ""  # the page shows it above the store; "" for none
    campaign_json: bytes = field(default=b"null", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Catalogue:
    stores: tuple[Store, ...]
    by_id: Mapping[str, Store]
    position: Mapping[str, int]
    groups_by_pk: Mapping[int, Group]
    entries: Mapping[str, Entry]
    brand_fallback: Group | None
    cities: tuple[tuple[str, int], ...]
    stores_by_city: Mapping[str, tuple[Store, ...]]  # by `city_key`: every spelling is one city
    index: NearestIndex
    areas: ServiceAreas
    built_at: float
    build_seconds: float

    @property
    def group_count(self) -> int:
        return len(self.groups_by_pk)


class CatalogueRef:
    """The one mutable cell: the current catalogue, replaced whole on reload."""

    __slots__ = ("current",)

    def __init__(self, current: Catalogue) -> None:
        self.current = current

    def swap(self, new: Catalogue) -> None:
        self.current = new


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def make_group(r: Mapping[str, Any], default_display_cap: int) -> Group:
    """A group from its database row, with the head of its JSON fragment."""
    return Group(
        pk=int(r["id"]),
        group_id=r["group_id"],
        store_id=r["store_id"],
        name=r["name"],
        qr_payload=r["qr_payload"],
        qr_version=int(r["qr_version"]),
        capacity=int(r["capacity"]),
        member_count=r["member_count"],
        expires_at=_epoch(r["expires_at"]),
        position=int(r["position"]),
        kind=GroupKind(r["kind"]),
        display_cap=r["display_cap"] or default_display_cap,
        json_head=orjson.dumps({"id": r["group_id"], "name": r["name"]})[:-1] + b',"qr_url":',
        csv_id=csv_field(r["group_id"]),
        source=GroupSource(r.get("source") or GroupSource.UPLOAD),
    )


def add_groups(
    cat: Catalogue,
    group_rows: Iterable[Mapping[str, Any]],
    *,
    default_display_cap: int = 500,
) -> tuple[Catalogue, list[Store]] | None:
    """The catalogue with new groups added to their stores, sharing everything else (stores'
    positions, the index, the areas) with `cat`; and the stores that changed. None when the rows
    are not just new groups of known stores: then only a full build is right."""
    started = time.perf_counter()
    new: dict[str, list[Group]] = {}
    for r in group_rows:
        g = make_group(r, default_display_cap)
        store_id = g.store_id
        if g.pk in cat.groups_by_pk or g.kind is not GroupKind.GROUP or store_id not in cat.by_id:
            return None
        assert store_id is not None  # a known store
        new.setdefault(store_id, []).append(g)
    if not new:
        return None
    stores = list(cat.stores)
    by_id = dict(cat.by_id)
    groups_by_pk = dict(cat.groups_by_pk)
    changed: list[Store] = []
    for store_id, added in new.items():
        old = cat.by_id[store_id]
        pool = sorted((*old.groups, *added), key=lambda g: (g.position, g.pk))
        store = replace(old, groups=tuple(pool))
        stores[cat.position[store_id]] = store
        by_id[store_id] = store
        changed.append(store)
        for g in added:
            groups_by_pk[g.pk] = g
    cities = {city_key(s.city) for s in changed}
    by_city = dict(cat.stores_by_city)
    for city in cities:
        by_city[city] = tuple(by_id[s.store_id] for s in cat.stores_by_city[city])
    patched = replace(
        cat,
        stores=tuple(stores),
        by_id=by_id,
        groups_by_pk=groups_by_pk,
        stores_by_city=by_city,
        built_at=time.time(),
        build_seconds=time.perf_counter() - started,
    )
    return patched, changed


def _source(r: Mapping[str, Any]) -> Provider | None:
    """Who gave the row's coordinates as uploaded: its provider, or (for rows uploaded before
    providers were kept) the plain code of its system; None when the row does not say."""
    for key in ("coord_provider", "source_coord"):
        raw = r.get(key)
        if raw:
            try:
                return Provider.parse(raw)
            except CoordError:
                continue
    return None


def make_store(
    r: Mapping[str, Any],
    source: Provider | None,
    groups: Iterable[Group],
    fallback: Group | None,
) -> Store:
    """A store from its database row, with its pool and fallback, serialized once."""
    sid = r["store_id"]
    lat = float(r["lat"])
    lng = float(r["lng"])
    real = _real_position(r, source, lat, lng)
    public = {
        "id": sid,
        "name": r["name"],
        "city": r["city"],
        "address": r["address"],
        **_public_position(r, source, lat, lng),
    }
    # Only the places a store has: a brand that never gave them answers as before.
    places = {k: r.get(k) for k in PLACES}
    public.update({k: v for k, v in places.items() if v})
    return Store(
        store_id=sid,
        name=r["name"],
        city=r["city"],
        address=r["address"],
        lat=lat,
        lng=lng,
        wgs_lat=real.lat,
        wgs_lng=real.lng,
        groups=tuple(groups),
        fallback=fallback,
        public=public,
        json=orjson.dumps(public),
        csv_id=csv_field(sid),
        search_key=f"{r['name']}\n{r['address']}\n{sid}".casefold(),
        province=places["province"] or None,
        district=places["district"] or None,
        region=places["region"] or None,
        area_source=(r["service_area"] or None, r.get("source_area") or None),
    )


def patch_stores(
    cat: Catalogue,
    store_ids: Iterable[str],
    store_rows: Iterable[Mapping[str, Any]],
    group_rows: Iterable[Mapping[str, Any]],
    *,
    default_display_cap: int = 500,
) -> tuple[Catalogue, list[Store]] | None:
    """The catalogue with these stores rebuilt from their rows (the store, all its unretired
    groups and its own fallback), sharing every other store, the index and the areas with `cat`;
    and the stores that changed. None when a patch cannot be exactly right (a store added,
    deactivated or moved, its city or service area changed, a group moved between a patched and an
    unpatched store): then only a full build is.

    `store_rows` are the stores' rows whether active or not (an `active` column); `group_rows`
    every unretired group of those stores."""
    started = time.perf_counter()
    wanted = set(store_ids)
    if not wanted:
        return None
    rows = {r["store_id"]: r for r in store_rows}
    pools: dict[str, list[Group]] = {sid: [] for sid in wanted}
    own_fallback: dict[str, Group] = {}
    fresh: dict[int, Group] = {}
    for r in group_rows:
        g = make_group(r, default_display_cap)
        if g.store_id not in wanted:
            return None
        assert g.store_id is not None
        before = cat.groups_by_pk.get(g.pk)
        if before is not None and before.store_id != g.store_id:
            return None  # it left a store this patch does not rebuild
        if g.kind is GroupKind.FALLBACK:
            own_fallback[g.store_id] = g
        else:
            pools[g.store_id].append(g)
        fresh[g.pk] = g
    stores = list(cat.stores)
    by_id = dict(cat.by_id)
    groups_by_pk = dict(cat.groups_by_pk)
    changed: list[Store] = []
    for sid in sorted(wanted):
        old = cat.by_id.get(sid)
        row = rows.get(sid)
        if row is None or not row.get("active", True):
            if old is None:
                continue  # unknown here and not served: nothing to patch
            return None  # a store taken out of service: the index changes
        if old is None:
            return None  # a new store: the index changes
        store = make_store(
            row,
            _source(row),
            sorted(pools[sid], key=lambda g: (g.position, g.pk)),
            own_fallback.get(sid, cat.brand_fallback),
        )
        if (
            (store.wgs_lat, store.wgs_lng) != (old.wgs_lat, old.wgs_lng)
            or store.city != old.city
            or store.area_source != old.area_source
        ):
            return None
        for g in old.groups:
            groups_by_pk.pop(g.pk, None)
        if old.fallback is not None and old.fallback.store_id == sid:
            groups_by_pk.pop(old.fallback.pk, None)
        stores[cat.position[sid]] = store
        by_id[sid] = store
        changed.append(store)
    for g in fresh.values():
        groups_by_pk[g.pk] = g
    by_city = dict(cat.stores_by_city)
    for city in {s.city for s in changed}:
        by_city[city] = tuple(by_id[s.store_id] for s in cat.stores_by_city[city])
    patched = replace(
        cat,
        stores=tuple(stores),
        by_id=by_id,
        groups_by_pk=groups_by_pk,
        stores_by_city=by_city,
        built_at=time.time(),
        build_seconds=time.perf_counter() - started,
    )
    return patched, changed


def _real_position(r: Mapping[str, Any], source: Provider | None, lat: float, lng: float) -> Coord:
    """The store's real (WGS-84) position, from the coordinates as uploaded when the row has them.

    Not from the stored GCJ-02 alone: near the Hong Kong and Macau borders one GCJ-02 point can be
    two real places (a mainland point shifted across, and an unshifted one), and the upload's own
    source tells which it was, and whether its provider shifted Hong Kong and Macau too (AMap
    does, a plain gcj02 does not: geo/providers.py). A WGS-84 upload is taken as it is.
    """
    try:
        if source is not None and r.get("source_lat") is not None:
            return to_wgs84(source.coord(float(r["source_lat"]), float(r["source_lng"])))
        return to_wgs84(Coord(lat, lng, CoordSystem.GCJ02))
    except CoordError:  # the table's checks make this unreachable; keep the stored position
        return Coord(lat, lng, CoordSystem.WGS84)


def _public_position(
    r: Mapping[str, Any], source: Provider | None, lat: float, lng: float
) -> dict[str, Any]:
    """The store's position in answers: as it was uploaded (its system and provider), or the
    stored GCJ-02 for a row that does not say."""
    if source is not None and r.get("source_lat") is not None:
        return {
            "lat": round(float(r["source_lat"]), 7),
            "lng": round(float(r["source_lng"]), 7),
            "coord": source.system.value,
            "provider": source.value,
        }
    return {"lat": round(lat, 7), "lng": round(lng, 7), "coord": "gcj02", "provider": "gcj02"}


def _real_area(r: Mapping[str, Any], source: Provider | None) -> Area | None:
    """The store's service area in WGS-84: from the area as uploaded (in the row's system, under
    its provider's rule) when it is stored, else from the stored GCJ-02 geometry."""
    source_area = r.get("source_area")
    if source is not None and source_area:
        try:
            return parse_area(
                source_area, source.system, into=CoordSystem.WGS84, shift=source.shift
            )
        except AreaError as exc:
            log.warning("store %s: uploaded service area unusable (%s)", r["store_id"], exc)
    geom = shape(json.loads(r["service_area"]))
    if not isinstance(geom, Polygon | MultiPolygon):
        return None
    try:
        return convert_area(geom, CoordSystem.GCJ02, CoordSystem.WGS84)
    except AreaError as exc:
        log.warning("store %s: service area unusable (%s)", r["store_id"], exc)
        return None


def _city_name(stores: Sequence[Store]) -> str:
    """The spelling of a city most of its stores use; on a tie the longer (the full name)."""
    counts: dict[str, int] = {}
    for s in stores:
        name = s.city.strip()
        counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda n: (counts[n], len(n), n))


def build_catalogue(
    store_rows: Sequence[Mapping[str, Any]],
    group_rows: Iterable[Mapping[str, Any]],
    entry_rows: Iterable[Mapping[str, Any]],
    *,
    k_max: int,
    cache_cells: int,
    default_display_cap: int = 500,
) -> Catalogue:
    """Build a catalogue from database rows. CPU-bound and pure: run it in a thread."""
    started = time.perf_counter()
    groups_by_store: dict[str, list[Group]] = {}
    fallbacks: dict[str | None, Group] = {}
    groups_by_pk: dict[int, Group] = {}
    for r in group_rows:
        g = make_group(r, default_display_cap)
        pk = g.pk
        if g.kind is GroupKind.FALLBACK:
            fallbacks[g.store_id] = g
        elif g.store_id is not None:  # always, for GroupKind.GROUP (a table constraint)
            groups_by_store.setdefault(g.store_id, []).append(g)
        groups_by_pk[pk] = g
    brand_fallback = fallbacks.get(None)

    stores: list[Store] = []
    areas: list[tuple[int, Area]] = []
    for i, r in enumerate(store_rows):
        sid = r["store_id"]
        source = _source(r)
        stores.append(
            make_store(r, source, groups_by_store.get(sid, ()), fallbacks.get(sid, brand_fallback))
        )
        if r["service_area"]:
            area = _real_area(r, source)
            if area is not None:
                areas.append((i, area))

    # The picker's cities: one per `city_key`, named by the spelling most of its stores use.
    by_city: dict[str, list[Store]] = {}
    for s in stores:
        by_city.setdefault(city_key(s.city), []).append(s)
    cities = tuple(
        sorted(((_city_name(v), len(v)) for v in by_city.values()), key=lambda cv: (-cv[1], cv[0]))
    )
    entries = {
        r["code"]: Entry(
            r["code"],
            r["kind"],
            r["store_id"],
            r["label"],
            r.get("campaign") or "",
            orjson.dumps(r.get("campaign") or None),
        )
        for r in entry_rows
    }
    # Real positions: the index's distances, and its per-cell cache, are in the frame the scan's
    # point is converted to (WGS-84), on both sides of every border.
    index = NearestIndex(
        [(s.wgs_lat, s.wgs_lng) for s in stores], k_max=k_max, cache_cells=cache_cells
    )
    cat = Catalogue(
        stores=tuple(stores),
        by_id={s.store_id: s for s in stores},
        position={s.store_id: i for i, s in enumerate(stores)},
        groups_by_pk=groups_by_pk,
        entries=entries,
        brand_fallback=brand_fallback,
        cities=cities,
        stores_by_city={c: tuple(v) for c, v in by_city.items()},
        index=index,
        areas=ServiceAreas(areas, cache_cells=cache_cells),
        built_at=time.time(),
        build_seconds=time.perf_counter() - started,
    )
    log.info(
        "catalogue built: %d stores, %d groups, %d areas, %d entries in %.3fs",
        len(stores),
        len(groups_by_pk),
        len(areas),
        len(entries),
        cat.build_seconds,
    )
    return cat
