"""Group QR images: each rendered (or, for a WeCom join way, fetched) once per group version,
kept in a bounded cache in each worker and in PostgreSQL's qr_images for all of them."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

import aiohttp
import asyncpg

from router.errors import HuomaError
from router.scan.catalogue import Group
from router.scan.qr import image_type, render_png
from router.store import sql
from router.store.db import DB_ERRORS, connection

log = logging.getLogger(__name__)

# A fetched code image: its size limit and how long its fetch may take.
MAX_FETCHED_BYTES = 1_000_000
FETCH_TIMEOUT_S = 5.0


class QrUnavailable(HuomaError):
    status = 503
    code = "qr_unavailable"


class QrImages:
    """PNG bytes per (group, version), least recently used evicted past `max_images`.

    A miss looks in PostgreSQL's qr_images first (another worker, or this one before a restart,
    may have rendered it), and only then renders in a worker thread and stores the result there;
    concurrent misses for the same image share one lookup and render. The database is a cache
    here: when it does not answer, the image is rendered all the same.
    """

    def __init__(
        self, max_images: int, pool: asyncpg.Pool | None = None, lookup_timeout_s: float = 0.1
    ) -> None:
        self._max = max_images
        self._images: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._pending: dict[tuple[int, int], asyncio.Future[bytes]] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self.pool = pool
        self.lookup_timeout_s = lookup_timeout_s
        self.renders = 0
        self.shared_hits = 0
        self._session: aiohttp.ClientSession | None = None

    def __len__(self) -> int:
        return len(self._images)

    async def drain(self, within_s: float = 2.0) -> None:
        """Let background writes finish (before the pool closes), within a bound; close the
        session that fetched WeCom's code images."""
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=within_s)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _fetch(self, url: str) -> bytes:
        """An image of a code drawn elsewhere (a WeCom join way's): PNG or JPEG, bounded."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
            )
        try:
            async with self._session.get(url) as response:
                data = await response.content.read(MAX_FETCHED_BYTES + 1)
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("QR image could not be fetched (%s)", type(exc).__name__)
            raise QrUnavailable("the group's QR image cannot be fetched now; try again") from None
        if status != 200 or len(data) > MAX_FETCHED_BYTES or image_type(data) is None:
            log.warning("QR image fetch answered %d with %d byte(s) of no image", status, len(data))
            raise QrUnavailable("the group's QR image cannot be fetched now; try again")
        return data

    def cached(self, group: Group) -> bytes | None:
        key = (group.pk, group.qr_version)
        png = self._images.get(key)
        if png is not None:
            self._images.move_to_end(key)
        return png

    async def _shared(self, key: tuple[int, int]) -> bytes | None:
        if self.pool is None:
            return None
        timeout = self.lookup_timeout_s
        try:
            # A busy database must not slow the image down: past the timeout, rendering is
            # the faster way.
            async with connection(self.pool, acquire_s=timeout) as conn:
                png: bytes | None = await conn.fetchval(sql.GET_QR_IMAGE, *key, timeout=timeout)
        except DB_ERRORS as exc:
            log.debug("QR image store did not answer in time (%s); rendering", exc)
            return None
        return png

    async def _share(self, key: tuple[int, int], png: bytes) -> None:
        if self.pool is None:
            return
        try:
            await self.pool.execute(sql.PUT_QR_IMAGE, key[0], key[1], png)
        except DB_ERRORS as exc:
            log.warning("QR image not stored (%r); it will be rendered again elsewhere", exc)

    async def _load(self, group: Group, key: tuple[int, int]) -> bytes:
        png = await self._shared(key)
        if png is not None:
            self.shared_hits += 1
            return png
        if group.image_url:
            png = await self._fetch(group.qr_payload)
        else:
            loop = asyncio.get_running_loop()
            png = await loop.run_in_executor(None, render_png, group.qr_payload)
        self.renders += 1
        # Stored in the background: the customer's image does not wait for the write.
        task = asyncio.create_task(self._share(key, png))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return png

    async def get(self, group: Group) -> bytes:
        png = self.cached(group)
        if png is not None:
            return png
        key = (group.pk, group.qr_version)
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()
        self._pending[key] = fut
        try:
            png = await self._load(group, key)
            self._images[key] = png
            while len(self._images) > self._max:
                self._images.popitem(last=False)
            fut.set_result(png)
            return png
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except Exception as exc:
            fut.set_exception(exc)
            # Mark retrieved so an unawaited failure does not log "exception never retrieved".
            fut.exception()
            raise
        finally:
            del self._pending[key]
