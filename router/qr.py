"""Group QR images: rendered once per group version with `qrcode`, kept in a bounded cache in
each worker and in PostgreSQL for all of them."""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import struct
import zlib
from collections import OrderedDict

import asyncpg
import qrcode
from qrcode.constants import ERROR_CORRECT_M, ERROR_CORRECT_Q
from qrcode.image.svg import SvgPathFillImage

from router import sql
from router.catalogue import Catalogue, Group, qr_signature
from router.errors import NotFound

log = logging.getLogger(__name__)

# 8 px modules and the standard 4-module quiet zone: a 33-module code is 328 px, sharp at the
# 160-240 CSS px the page shows on 2-3x screens, and WeChat's long-press scanner reads it reliably.
BOX_SIZE = 8
BORDER = 4


# Printed entry codes live on counters and posters for years: error correction Q survives
# scratches and glare, and 20 px modules print sharp at 8 cm and more.
PRINT_BOX_SIZE = 20


def _code(payload: str, correction: int, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=correction, box_size=box_size, border=BORDER)
    code.add_data(payload)
    code.make(fit=True)
    return code


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(code: qrcode.QRCode, box_size: int) -> bytes:
    """The code's modules as a 1-bit greyscale PNG, written directly: a QR code is a grid of
    squares, and drawing it through PIL was half of a busy worker's CPU (profiled under load)."""
    matrix = code.get_matrix()  # quiet zone included
    side = len(matrix) * box_size
    lines = []
    for modules in matrix:
        bits = "".join(("0" if dark else "1") * box_size for dark in modules)
        bits += "1" * (-len(bits) % 8)
        # Filter type 0, then the packed row (1 = white); every module row is box_size pixel rows.
        lines.append((b"\x00" + int(bits, 2).to_bytes(len(bits) // 8, "big")) * box_size)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(lines), 9)),
            _chunk(b"IEND", b""),
        )
    )


def render_png(payload: str) -> bytes:
    """The QR code of `payload` as a PNG (black on white, error correction M)."""
    return _png(_code(payload, ERROR_CORRECT_M, BOX_SIZE), BOX_SIZE)


def render_print_png(payload: str) -> bytes:
    """A printable QR code (error correction Q, large modules) as a PNG."""
    return _png(_code(payload, ERROR_CORRECT_Q, PRINT_BOX_SIZE), PRINT_BOX_SIZE)


def render_print_svg(payload: str) -> bytes:
    """A printable QR code as an SVG: one path on a white background (the quiet zone included),
    scalable to any print size."""
    buf = io.BytesIO()
    _code(payload, ERROR_CORRECT_Q, PRINT_BOX_SIZE).make_image(image_factory=SvgPathFillImage).save(
        buf
    )
    return buf.getvalue()


def verified_group(cat: Catalogue, secret: bytes, pk: int, version: str, sig: str) -> Group:
    """The group a signed image URL names, or NotFound (the same answer for every failure, so
    the endpoint cannot be used to probe which groups exist)."""
    group = cat.groups_by_pk.get(pk)
    expected = qr_signature(secret, pk, group.qr_version if group is not None else 0)
    if (
        group is None
        or version != str(group.qr_version)
        or not hmac.compare_digest(sig.encode(), expected.encode())
    ):
        raise NotFound("no such QR image", code="qr_not_found")
    return group


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

    def __len__(self) -> int:
        return len(self._images)

    async def drain(self, within_s: float = 2.0) -> None:
        """Let background writes finish (before the pool closes), within a bound."""
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=within_s)

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
            async with self.pool.acquire(timeout=timeout) as conn:
                png: bytes | None = await conn.fetchval(sql.GET_QR_IMAGE, *key, timeout=timeout)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.debug("QR image store did not answer in time (%s); rendering", exc)
            return None
        return png

    async def _share(self, key: tuple[int, int], png: bytes) -> None:
        if self.pool is None:
            return
        try:
            await self.pool.execute(sql.PUT_QR_IMAGE, key[0], key[1], png)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("QR image not stored (%s); it will be rendered again elsewhere", exc)

    async def _load(self, group: Group, key: tuple[int, int]) -> bytes:
        png = await self._shared(key)
        if png is not None:
            self.shared_hits += 1
            return png
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
