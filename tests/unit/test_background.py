"""Background loops survive what nobody foresaw, and a silent database counts as unavailable."""

from __future__ import annotations

import asyncio
import logging

import pytest

from router.runtime.loops import running
from router.store import db
from router.store.db import DbHealth


async def test_a_background_loop_that_fails_unexpectedly_is_started_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("router.runtime.loops.RESTART_DELAY_S", 0.01)
    runs: list[int] = []
    done = asyncio.Event()

    async def loop() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("an asyncpg state nobody expected")
        done.set()
        await asyncio.sleep(3600)

    with caplog.at_level(logging.ERROR):
        async with running(loop, "test-loop"):
            await asyncio.wait_for(done.wait(), 5)
    assert len(runs) == 3
    assert caplog.text.count("background task test-loop failed; restarting it") == 2


def test_a_database_that_goes_silent_counts_as_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(db.time, "time", lambda: now[0])
    health = DbHealth()
    assert health.available(now[0])
    now[0] += db.DB_SILENCE_S + 1  # a frozen server: no error, no answer either
    assert health.unavailable_since(now[0]) == 1000.0
    health.ok()
    assert health.available(now[0])
    health.failed(TimeoutError())
    assert not health.available(now[0]) and health.last_error == "TimeoutError: "
