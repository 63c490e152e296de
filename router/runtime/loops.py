"""Background loops of a worker: restarted when they fail, cancelled and awaited on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

# A background loop that fails unexpectedly is started again after this long, seconds.
RESTART_DELAY_S = 1.0


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
