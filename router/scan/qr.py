"""Group QR images: rendered once per group version with `qrcode`, kept in a bounded cache in
each worker and in PostgreSQL for all of them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import logging
import struct
import zlib
from collections import OrderedDict

import aiohttp
import asyncpg
import orjson
import qrcode
from qrcode.constants import ERROR_CORRECT_M, ERROR_CORRECT_Q
from qrcode.image.svg import SvgPathFillImage

from router.errors import HuomaError, NotFound
from router.scan.catalogue import Catalogue, Group
from router.store import sql
from router.store.db import DB_ERRORS, connection

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


# Links are issued on a grid: every link handed out within the same minute expires at the same
# moment, so each group's answer fragment is signed once a minute, not once a scan.
LINK_STEP_S = 60


def qr_signature(secret: bytes, group_pk: int, qr_version: int, expires: int) -> str:
    """HMAC-SHA256 over the group's key, QR version and the link's expiry, truncated to 128 bits,
    base64url."""
    message = b"qr:%d:%d:%d" % (group_pk, qr_version, expires)
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode("ascii")


class QrLinks:
    """Signed, expiring links to group QR images: the only way to a group's image.

    A link names the group, its QR version and the Unix second it stops working, signed with the
    deployment secret (the same in every worker). A link lives between `ttl_s` and
    `ttl_s + LINK_STEP_S` seconds: long enough for a customer to long-press the code, short enough
    that a harvested link cannot be posted elsewhere for long. A new QR version ends every link to
    the old one at once.
    """

    __slots__ = ("_expires", "_fragments", "base_url", "secret", "ttl_s")

    def __init__(self, secret: bytes, base_url: str, ttl_s: int) -> None:
        self.secret = secret
        self.base_url = base_url
        self.ttl_s = ttl_s
        self._expires = 0
        # group pk -> (the group it was made for, its answer fragment), for links of `_expires`.
        self._fragments: dict[int, tuple[Group, bytes]] = {}

    def expiry(self, now: float) -> int:
        """The expiry of a link handed out at `now`."""
        return (int(now) + self.ttl_s) // LINK_STEP_S * LINK_STEP_S + LINK_STEP_S

    def url(self, group: Group, expires: int) -> str:
        sig = qr_signature(self.secret, group.pk, group.qr_version, expires)
        return f"{self.base_url}/qr/{group.pk}.png?v={group.qr_version}&e={expires}&s={sig}"

    def fragment(self, group: Group | None, now: float) -> bytes:
        """The group's JSON object for an answer at `now`: id, name, a fresh link and when it
        stops working."""
        if group is None:
            return b"null"
        expires = self.expiry(now)
        if expires != self._expires:
            self._fragments.clear()  # every cached link is a minute short now
            self._expires = expires
        hit = self._fragments.get(group.pk)
        if hit is not None and hit[0] is group:
            return hit[1]
        body = b'%s%s,"qr_expires_at":%d}' % (
            group.json_head,
            orjson.dumps(self.url(group, expires)),
            expires,
        )
        self._fragments[group.pk] = (group, body)
        return body

    def verify(
        self, cat: Catalogue, pk: int, version: str, expires: str, sig: str, now: float
    ) -> tuple[Group, int]:
        """The group a link names and the link's expiry; NotFound for any link this deployment
        did not sign for the group's current version (the same answer for every such failure, so
        the endpoint cannot be used to probe which groups exist), Gone for a genuine link that
        has expired."""
        group = cat.groups_by_pk.get(pk)
        exp = int(expires) if expires.isdigit() and len(expires) <= 12 else -1
        expected = qr_signature(self.secret, pk, group.qr_version if group is not None else 0, exp)
        if (
            group is None
            or version != str(group.qr_version)
            or not hmac.compare_digest(sig.encode(), expected.encode())
        ):
            raise NotFound("no such QR image", code="qr_not_found")
        if exp < now:
            raise HuomaError(
                "this QR image link has expired; scan the store's code again",
                code="qr_link_expired",
                status=410,
            )
        return group, exp


# A fetched code image: its size limit and how long its fetch may take.
MAX_FETCHED_BYTES = 1_000_000
FETCH_TIMEOUT_S = 5.0


class QrUnavailable(HuomaError):
    status = 503
    code = "qr_unavailable"


def image_type(data: bytes) -> str | None:
    """The content type of a PNG or JPEG image, from its first bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


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
