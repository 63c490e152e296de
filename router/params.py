"""Query parameters as the API reads them: one parser per kind, each a clear 400 when wrong.

Pure: no aiohttp. Used by the picker's search (router.scan.search) and the ops API alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from router.errors import BadInput
from router.flags import ACCEPTED, FlagError, is_blank, parse_flag


def int_param(
    query: Mapping[str, str], name: str, default: int, low: int, high: int, *, code: str
) -> int:
    """A whole number from `low` to `high`; absent or empty: `default`. Else BadInput(code)."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise BadInput(f"{name} must be a whole number from {low} to {high}", code=code)
    return value


def flag_param(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A yes/no query parameter (router.flags' words). Absent or empty: the default. Any other
    word is a 400, never a guess: a misspelt ?dry_run= must not write the upload."""
    raw = query.get(name)
    if raw is None or is_blank(raw):
        return default
    try:
        return parse_flag(raw)
    except FlagError:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise BadInput(
            f"{name}={shown!r} is neither true nor false; use one of {ACCEPTED}",
            code="bad_flag",
        ) from None
