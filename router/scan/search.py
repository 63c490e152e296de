"""The manual store picker: stores by city and free text, from the in-memory catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.errors import BadInput
from router.params import int_param
from router.scan.catalogue import Catalogue, city_key

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_MAX_TEXT = 64


def search_stores(cat: Catalogue, query: Mapping[str, str]) -> dict[str, Any]:
    """Stores in a city and/or matching text in name, address or id; paged, name order."""
    city = (query.get("city") or "").strip()
    text = (query.get("q") or "").strip()
    if len(city) > _MAX_TEXT or len(text) > _MAX_TEXT:
        raise BadInput(f"city and q are at most {_MAX_TEXT} characters", code="bad_query")
    limit = int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, code="bad_query")
    offset = int_param(query, "offset", 0, 0, 1_000_000, code="bad_query")
    if not city and not text:
        raise BadInput("give a city, a search text (q), or both", code="bad_query")
    pool = cat.stores_by_city.get(city_key(city), ()) if city else cat.stores
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
