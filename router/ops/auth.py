"""Who is asking the ops API: the principal behind a request, resolved once by the ops
sub-application's middleware, and what each operation may need of it.

Today a principal is a bearer token of HUOMA_ADMIN_TOKENS, with full access; accounts with roles
and store links are resolved here too, without touching a handler.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web

from router.errors import HuomaError, Unauthorized
from router.keys import ADMIN_FAILURES, SETTINGS
from router.scan.limits import client_address, client_key, parse_networks, refuse

log = logging.getLogger("huoma.admin")


class Access(StrEnum):
    """What an operation needs of its principal."""

    READ = "read"  # health, alerts, funnel, exports, lists
    CHANGE = "change"  # uploads, groups, entry codes, WeCom join ways


@dataclass(frozen=True, slots=True)
class Principal:
    actor: str  # for logs and changes: "token#N" (the token's position, never the token)
    access: frozenset[Access]

    def allows(self, need: Access) -> bool:
        return need in self.access


FULL_ACCESS = frozenset(Access)


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
