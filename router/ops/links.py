"""Store link tokens: what a link is, and its signature (router.ops.store_links serves them)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import orjson

from router.settings import Settings

LINK_PAGE = "/store/"
TOKEN_SCHEME = "storelink"  # noqa: S105  (Authorization: StoreLink <token>)
MAX_TOKEN = 400


@dataclass(frozen=True, slots=True)
class StoreLink:
    store_id: str
    generation: int
    global_generation: int
    expires: int  # Unix seconds
    mac: str  # identifies the link (rate limits, logs) without being it


class StoreLinkSigner:
    """Signs and checks store link tokens (the house's way: see router.scan.live.StickySigner)."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"store-link:" + secret).digest()

    def _mac(self, body: bytes) -> str:
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode()

    def sign(self, store_id: str, generation: int, global_generation: int, expires: int) -> str:
        body = orjson.dumps([store_id, generation, global_generation, expires])
        data = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{data}.{self._mac(body)}"

    def verify(self, token: str, now: float) -> StoreLink | None:
        """The link, when the token is genuine and not expired; revocation is checked against
        the database by the handler."""
        if not token or len(token) > MAX_TOKEN or "." not in token:
            return None
        data, _, mac = token.rpartition(".")
        try:
            body = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except ValueError:
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        try:
            store_id, gen, glob, expires = orjson.loads(body)
            link = StoreLink(str(store_id), int(gen), int(glob), int(expires), mac)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return None
        return link if link.expires > now else None


def signer(settings: Settings) -> StoreLinkSigner:
    assert settings.secret is not None  # create_app makes sure
    return StoreLinkSigner(settings.secret.encode())


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}{LINK_PAGE}#t={token}"
