"""The keeper's incremental passes: they change exactly what a full pass would, and touch
nothing else."""

from __future__ import annotations

import asyncpg
import pytest

from router.keeper import sweep as keeper
from router.keeper.providers import OpsProvider
from router.keeper.sweep import SweepState
from router.settings import Settings
from router.store import sql
from tests.conftest import group_row, seed, store_row

pytestmark = pytest.mark.db


async def states(pool: asyncpg.Pool) -> dict[str, str]:
    return dict(await pool.fetch("SELECT group_id, state FROM groups ORDER BY group_id"))


async def test_incremental_passes_follow_every_kind_of_change(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    settings = settings.with_(low_water=1)
    await seed(
        pool,
        [store_row(f"S{i}") for i in range(1, 6)],
        [
            g
            for i in range(1, 6)
            for g in (group_row(f"G{i}a", f"S{i}"), group_row(f"G{i}b", f"S{i}"))
        ],
    )
    state = SweepState()
    await keeper.sweep(pool, settings, OpsProvider(), state=state)  # the first pass is full
    assert state.passes == 1
    assert set((await states(pool)).values()) == {"active", "standby"}
    # Age every write, as if the last changes were long ago.
    await pool.execute("UPDATE groups SET updated_at = now() - interval '1 hour'")
    untouched = await pool.fetchval("SELECT updated_at FROM groups WHERE group_id = 'G5a'")

    # A member count (written with updated_at), displays at the cap (workers' leases do not
    # touch updated_at) and an expiry coming within the margin (time passing does not either).
    await pool.execute(sql.SET_MEMBER_COUNT, "G1a", 200)
    await pool.execute(
        "UPDATE groups SET displays_leased = 500, updated_at = updated_at WHERE group_id = 'G2a'"
    )
    await pool.execute(
        "UPDATE groups SET expires_at = now() + interval '10 minutes', updated_at = updated_at "
        "WHERE group_id = 'G3a'"
    )
    await keeper.sweep(pool, settings, OpsProvider(), state=state)
    assert state.passes == 2
    got = await states(pool)
    assert (got["G1a"], got["G1b"]) == ("full", "active")
    assert (got["G2a"], got["G2b"]) == ("full", "active")
    assert (got["G3a"], got["G3b"]) == ("expired", "active")
    assert (got["G4a"], got["G5a"]) == ("active", "active")
    # Stores where nothing happened were not written at all.
    assert await pool.fetchval("SELECT updated_at FROM groups WHERE group_id = 'G5a'") == untouched

    # The same result as a full pass would give.
    before = await states(pool)
    await keeper.sweep(pool, settings, OpsProvider())
    assert await states(pool) == before


async def test_a_store_that_runs_dry_between_passes_is_found(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    settings = settings.with_(low_water=1)
    await seed(
        pool, [store_row("S1"), store_row("S2")], [group_row("G1", "S1"), group_row("G2", "S2")]
    )
    state = SweepState()
    await keeper.sweep(pool, settings, OpsProvider(), state=state)
    assert await pool.fetchval("SELECT count(*) FROM alerts") == 0
    await pool.execute(sql.SET_MEMBER_COUNT, "G2", 200)
    await keeper.sweep(pool, settings, OpsProvider(), state=state)
    kinds = {
        (r["kind"], r["store_id"]) for r in await pool.fetch("SELECT kind, store_id FROM alerts")
    }
    assert kinds == {("low_groups", "S2"), ("on_fallback", "S2")}
