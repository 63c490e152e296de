"""The manual store picker: stores by city and free text, from the in-memory catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.errors import BadInput
from router.params import int_param
from router.scan.catalogue import PLACES, Catalogue, Store, city_key

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_MAX_TEXT = 64


def place_filters(query: Mapping[str, str]) -> dict[str, str]:
    """?province=, ?district=, ?region= as given (exact names); empty ones are no filter."""
    filters = {k: (query.get(k) or "").strip() for k in PLACES}
    for k, v in filters.items():
        if len(v) > _MAX_TEXT:
            raise BadInput(f"{k} is at most {_MAX_TEXT} characters", code="bad_query")
    return {k: v for k, v in filters.items() if v}


def in_places(store: Store, filters: Mapping[str, str]) -> bool:
    return all(getattr(store, k) == v for k, v in filters.items())


def search_stores(cat: Catalogue, query: Mapping[str, str]) -> dict[str, Any]:
    """Stores in a city, province, district or region and/or matching text in name, address or
    id; paged, name order."""
    city = (query.get("city") or "").strip()
    text = (query.get("q") or "").strip()
    if len(city) > _MAX_TEXT or len(text) > _MAX_TEXT:
        raise BadInput(f"city and q are at most {_MAX_TEXT} characters", code="bad_query")
    places = place_filters(query)
    limit = int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, code="bad_query")
    offset = int_param(query, "offset", 0, 0, 1_000_000, code="bad_query")
    if not city and not text and not places:
        raise BadInput(
            "give a city, province, district or region, a search text (q), or both",
            code="bad_query",
        )
    pool: Any = cat.stores_by_city.get(city_key(city), ()) if city else cat.stores
    if places:
        pool = [s for s in pool if in_places(s, places)]
    if text:
        needle = text.casefold()
        matches = [s for s in pool if needle in s.search_key]
    else:
        matches = list(pool)
    matches.sort(key=lambda s: (s.name, s.store_id))
    page = matches[offset : offset + limit]
    return {
        "stores": [s.public for s in page],
        "total": len(matches),
        "limit": limit,
        "offset": offset,
    }


def city_counts(cat: Catalogue, query: Mapping[str, str]) -> list[dict[str, Any]]:
    """The picker's cities with their store counts, most stores first; ?province=, ?district=
    and ?region= narrow them to the stores there."""
    places = place_filters(query)
    if not places:
        return [{"name": c, "stores": n} for c, n in cat.cities]
    counts: dict[str, int] = {}
    for s in cat.stores:
        if in_places(s, places):
            counts[s.city] = counts.get(s.city, 0) + 1
    ranked = sorted(counts.items(), key=lambda cv: (-cv[1], cv[0]))
    return [{"name": c, "stores": n} for c, n in ranked]
