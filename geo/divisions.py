"""China's administrative divisions (provinces, cities, districts and counties) with a centre
point each, from `data/divisions.csv` (derived from the PyPI package cpca; see data/README.md):
to tell how far a store is from the city or district it names. Centres are GCJ-02."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from geo.distance import haversine_m

_DATA = Path(__file__).with_name("data") / "divisions.csv"
# Longest first: a name loses at most one of these to give the short name ops write (上海, 喀什).
_SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "新区",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
)


@dataclass(frozen=True, slots=True)
class Division:
    adcode: str
    level: str  # province, city or district
    parent: str
    name: str
    lat: float  # GCJ-02 centre
    lng: float

    def distance_m(self, lat: float, lng: float) -> float:
        return haversine_m(self.lat, self.lng, lat, lng)


def short_name(name: str) -> str:
    name = name.strip()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


@functools.cache
def _table() -> tuple[dict[str, Division], dict[str, list[Division]]]:
    by_code: dict[str, Division] = {}
    by_name: dict[str, list[Division]] = {}
    with _DATA.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            d = Division(
                r["adcode"], r["level"], r["parent"], r["name"], float(r["lat"]), float(r["lng"])
            )
            by_code[d.adcode] = d
            for key in {d.name, short_name(d.name)}:
                by_name.setdefault(key, []).append(d)
    return by_code, by_name


def find(name: str, levels: tuple[str, ...] = ("city", "district")) -> list[Division]:
    """The divisions of those levels a name written by ops can mean (上海, 上海市, 喀什, 昆山):
    several when the short name is shared; none when it is no Chinese division (a city abroad)."""
    _, by_name = _table()
    name = name.strip()
    found = by_name.get(name) or by_name.get(short_name(name)) or []
    return [d for d in found if d.level in levels]


def children(parent: Division, name: str) -> list[Division]:
    """The districts of `parent` a name can mean (浦东, 浦东新区)."""
    return [d for d in find(name, ("district",)) if d.parent == parent.adcode]


def by_code(adcode: str) -> Division | None:
    return _table()[0].get(adcode)
