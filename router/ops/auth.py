"""Who is asking the ops API: the principal behind a request, resolved once by the ops
sub-application's middleware, and what each operation may need of it.

Today a principal is a bearer token of HUOMA_ADMIN_TOKENS, with full access; accounts with roles
and store links are resolved here too, without touching a handler.
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web

from router.errors import HuomaError, Unauthorized
from router.keys import ADMIN_FAILURES, SETTINGS, STORE_LINK_LIMITS
from router.ops.links import TOKEN_SCHEME, StoreLink, signer
from router.scan.limits import client_address, client_key, parse_networks, refuse

log = logging.getLogger("huoma.admin")


class Access(StrEnum):
    """What an operation needs of its principal."""

    READ = "read"  # health, alerts, funnel, exports, lists
    CHANGE = "change"  # uploads, groups, entry codes, WeCom join ways
    STORE = "store"  # a store link's page: its own store only (router.ops.store_links)


@dataclass(frozen=True, slots=True)
class Principal:
    actor: str  # for logs and changes: "token#N" (the token's position, never the token)
    access: frozenset[Access]
    store: StoreLink | None = None  # a store link: the one store it reaches

    def allows(self, need: Access) -> bool:
        return need in self.access


FULL_ACCESS = frozenset({Access.READ, Access.CHANGE})
STORE_ACCESS = frozenset({Access.STORE})


def resolve_principal(request: web.Request) -> Principal:
    """The request's principal, or an error (401; 403 while no token is configured).
    An address that keeps failing is refused for a while, whatever it sends (no guessing)."""
    settings = request.config_dict[SETTINGS]
    tokens = settings.admin_tokens
    if not tokens:
        raise HuomaError(
            "the admin API is closed: no HUOMA_ADMIN_TOKENS configured",
            code="admin_closed",
            status=403,
        )
    failures = request.config_dict[ADMIN_FAILURES]
    trusted = parse_networks(settings.trusted_proxies)
    forwarded = request.headers.get("X-Forwarded-For")
    client = client_address(request.remote, forwarded, trusted)
    key = client_key(request.remote, forwarded, trusted, settings.client_ipv6_prefix)
    refuse(failures.waiting(key), "failed logins from this address")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == TOKEN_SCHEME:
        return _store_link(request, given.strip(), key)
    actor = None
    if scheme.lower() == "bearer" and given:
        for i, token in enumerate(tokens, start=1):
            # Compare against every token, always: timing reveals neither a match nor which one.
            if hmac.compare_digest(given.strip().encode(), token.encode()):
                actor = f"token#{i}"
    if actor is None:
        failures.take(key)
        log.warning(
            "admin: rejected %s from %s for %s %s",
            "token" if given else "request without a token",
            client,
            request.method,
            request.path,
        )
        if scheme.lower() != "bearer" or not given:
            raise Unauthorized("send Authorization: Bearer <token>", code="unauthorized")
        raise Unauthorized("the token is not valid", code="unauthorized")
    log.info("admin: %s %s %s from %s", actor, request.method, request.path, request.remote)
    return Principal(actor, FULL_ACCESS)


def _store_link(request: web.Request, given: str, key: str) -> Principal:
    """A store link's principal: its one store, its own rate limit. A forged or expired link
    counts as a failed login of the address."""
    config = request.config_dict
    link = signer(config[SETTINGS]).verify(given, time.time())
    if link is None:
        config[ADMIN_FAILURES].take(key)
        raise Unauthorized(
            "链接无效或已过期，请向总部索取新链接 / the link is not valid or has expired",
            code="unauthorized",
        )
    refuse(config[STORE_LINK_LIMITS].take(link.mac), "requests with this store link")
    return Principal(f"link:{link.store_id}:{link.mac[:8]}", STORE_ACCESS, link)
