"""Background loops of a worker: restarted when they fail, cancelled and awaited on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from router.store.db import DB_ERRORS

log = logging.getLogger(__name__)

# A background loop that fails unexpectedly is started again after this long, seconds.
RESTART_DELAY_S = 1.0
# A listener that lost PostgreSQL tries again after 0.5 s, doubling up to this, seconds.
LISTEN_RETRY_MAX_S = 10.0

T = TypeVar("T")


async def _forever(loop: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
    """Run a background loop; should it ever end with an error nobody foresaw, log it and start
    it again: a worker without its event flusher or lease refill fails slowly and silently."""
    while True:
        try:
            await loop()
            return
        except Exception:
            log.exception("background task %s failed; restarting it", name)
        await asyncio.sleep(RESTART_DELAY_S)


@contextlib.asynccontextmanager
async def running(loop: Callable[[], Coroutine[Any, Any, None]], name: str) -> AsyncIterator[None]:
    """A background loop for the duration of a block (restarted if it fails), cancelled and
    awaited on the way out."""
    task = asyncio.create_task(_forever(loop, name), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def reconnect(subscribe: Callable[[], Awaitable[T]], what: str) -> T:
    """`subscribe()` again until PostgreSQL answers (a listener that lost its connection), waiting
    0.5 s, then twice as long each time, up to LISTEN_RETRY_MAX_S; each failure is logged."""
    retry = 0.5
    while True:
        try:
            return await subscribe()
        except DB_ERRORS as exc:
            log.warning("%s cannot connect (%r); retrying in %.1fs", what, exc, retry)
            await asyncio.sleep(retry)
            retry = min(retry * 2, LISTEN_RETRY_MAX_S)
