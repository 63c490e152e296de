"""Group QR codes: drawing them with `qrcode`, and the signed, expiring links to their images.

Pure: the image cache shared through PostgreSQL is `router.store.qr_images`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import struct
import zlib

import orjson
import qrcode
from qrcode.constants import ERROR_CORRECT_M, ERROR_CORRECT_Q
from qrcode.image.svg import SvgPathFillImage

from router.errors import HuomaError, NotFound
from router.scan.catalogue import Catalogue, Group

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


def image_type(data: bytes) -> str | None:
    """The content type of a PNG or JPEG image, from its first bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None
