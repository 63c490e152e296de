"""The load test's books (loadtest/books.py) catch what they are there to catch."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import pytest

from router.settings import Settings
from tests.conftest import group_row, seed, store_row

pytestmark = pytest.mark.db


def books() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "loadtest" / "books.py"
    spec = importlib.util.spec_from_file_location("books", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def scans(pool: asyncpg.Pool, group: str, visitors: list[str]) -> None:
    await pool.executemany(
        "INSERT INTO scan_events (event_id, at, store_id, group_id, visitor, outcome) "
        "VALUES ($1, $2, 'S1', $3, $4, 'ok')",
        [(uuid.uuid4(), datetime.now(UTC), group, v) for v in visitors],
    )


async def test_balanced_books_pass_and_each_breach_is_named(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    audit: Any = books().audit
    await seed(pool, [store_row("S1")], [group_row("G1", display_cap=3)])
    # Three visitors, one of them twice (a sticky repeat spends no display): within the cap.
    await scans(pool, "G1", ["a", "b", "c", "a"])
    status = {"route": {"200": 4}, "qr": {"200": 4}}
    assert await audit(settings.database_url, status, 500) == []

    problems = await audit(settings.database_url, {"route": {"200": 3}, "qr": {"503": 1}}, 500)
    assert any("status 503" in p for p in problems)
    assert any("3 answered route requests but 4 scan events" in p for p in problems)

    await scans(pool, "G1", ["d"])
    problems = await audit(settings.database_url, {"route": {"200": 5}}, 500)
    assert problems == ["group G1: shown to 4 visitors, leased 0, cap 3"]
