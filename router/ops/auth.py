"""Who is asking the ops API: the principal behind a request, resolved once by the ops
sub-application's middleware, and the role each operation needs of it.

A principal is one of:
- a signed-in account (a session cookie; every change also sends the session's CSRF token),
- a named API token from the database (automation), with its role and regions,
- a bearer token of HUOMA_ADMIN_TOKENS: an admin of every region,
- a store link (`Authorization: StoreLink <token>`): one store's own page, nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

import argon2
import asyncpg
from aiohttp import web

from router.errors import HuomaError, NotFound, Unauthorized
from router.keys import ADMIN_FAILURES, POOL, SETTINGS, STORE_LINK_LIMITS
from router.ops.links import TOKEN_SCHEME, StoreLink, signer
from router.scan.catalogue import place_keys
from router.scan.limits import client_address, client_key, parse_networks, refuse
from router.store import sql

log = logging.getLogger("huoma.admin")

SESSION_COOKIE = "hm_session"
WHO_AM_I_ROUTE = "admin_who_am_i"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Role(StrEnum):
    """What an operation needs of its principal; each role may do what the ones below it may."""

    VIEWER = "viewer"  # health, alerts, funnel, exports, lists
    EDITOR = "editor"  # uploads, groups, entry codes, WeCom join ways, store links
    ADMIN = "admin"  # accounts, tokens, settings: everything
    # Not above or below the others: a store link's own page, which only a store link reaches
    # (an admin's token reaches every store through the ops API, not through a link's page).
    STORE_LINK = "store_link"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.STORE_LINK: -1}
# Each role as ops know it (the ops page's words: 只读, 编辑, 管理员); refusals name roles so.
ROLE_ZH = {
    Role.VIEWER: "只读",
    Role.EDITOR: "编辑",
    Role.ADMIN: "管理员",
    Role.STORE_LINK: "门店链接",
}
# The roles accounts and tokens may have.
ROLES = (Role.VIEWER.value, Role.EDITOR.value, Role.ADMIN.value)


class Kind(StrEnum):
    """How a principal proved who it is."""

    ACCOUNT = "account"  # a session cookie
    TOKEN = "token"  # noqa: S105 (a kind)  a named API token
    ENV_TOKEN = "env_token"  # noqa: S105 (a kind)  HUOMA_ADMIN_TOKENS
    STORE_LINK = "store_link"  # a signed store link, scoped to its one store


@dataclass(frozen=True, slots=True)
class Principal:
    # For logs and changes: the username, "token:NAME", or "token#N" (an env token's position,
    # never the token).
    actor: str
    kind: Kind
    role: Role
    # The regions it may see and change; empty: every region.
    regions: frozenset[str] = frozenset()
    # Limited to some stores (a store link: its one store); None: no such limit.
    store_ids: frozenset[str] | None = None
    # A session's CSRF token (accounts only) and the hash of its cookie.
    csrf_token: str | None = None
    session: bytes | None = None
    store: StoreLink | None = None  # a store link: the link itself

    def allows(self, need: Role) -> bool:
        if Role.STORE_LINK in (need, self.role):
            return need is self.role
        return self.role.rank >= need.rank

    @property
    def limited(self) -> bool:
        return bool(self.regions) or self.store_ids is not None

    def region_list(self) -> list[str] | None:
        """The regions' keys as a SQL parameter (compared with a store's place keys, so 成都
        reaches stores written 成都市): None when every region is allowed."""
        return place_keys(self.regions) if self.regions else None

    def describe(self) -> dict[str, object]:
        return {
            "actor": self.actor,
            "kind": self.kind.value,
            "role": self.role.value,
            "regions": sorted(self.regions),
        }


# ---- passwords ----------------------------------------------------------------------------------

# argon2id with the library's defaults (RFC 9106's second recommendation, 64 MiB, t=3).
_HASHER = argon2.PasswordHasher()
MIN_PASSWORD = 10
MAX_PASSWORD = 256


@functools.cache
def dummy_hash() -> str:
    """Verified when the account does not exist, so a wrong name takes as long as a wrong
    password (made on first use: hashing costs as much as a sign-in)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


def check_password(password: object) -> str:
    """A new password, or a 400 saying what is wrong with it."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise HuomaError(
            f"密码需 {MIN_PASSWORD}–{MAX_PASSWORD} 个字符 / the password must be "
            f"{MIN_PASSWORD} to {MAX_PASSWORD} characters",
            code="bad_password",
            status=400,
        )
    return password


def digest(token: str) -> bytes:
    """What the database keeps of a session cookie or an API token."""
    return hashlib.sha256(token.encode()).digest()


# ---- resolving a request's principal ------------------------------------------------------------


def address_key(request: web.Request) -> tuple[str, str]:
    """The client address (for logs) and the key per-address limits count it by."""
    settings = request.config_dict[SETTINGS]
    trusted = parse_networks(settings.trusted_proxies)
    forwarded = request.headers.get("X-Forwarded-For")
    return (
        client_address(request.remote, forwarded, trusted),
        client_key(request.remote, forwarded, trusted, settings.client_ipv6_prefix),
    )


def _unauthorized(
    request: web.Request, key: str, client: str, why: str, message: str, count: bool = True
) -> None:
    if count:
        request.config_dict[ADMIN_FAILURES].take(key)
    log.warning("admin: rejected %s from %s for %s %s", why, client, request.method, request.path)
    raise Unauthorized(message, code="unauthorized")


async def resolve_principal(request: web.Request) -> Principal:
    """The request's principal, or an error (401). An address that keeps failing is refused for a
    while, whatever it sends (no guessing)."""
    settings = request.config_dict[SETTINGS]
    client, key = address_key(request)
    refuse(request.config_dict[ADMIN_FAILURES].waiting(key), "failed logins from this address")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if header and scheme.lower() == TOKEN_SCHEME:
        return _store_link(request, given, key)
    if header:
        if scheme.lower() != "bearer" or not given:
            _unauthorized(
                request, key, client, "a malformed header", "send Authorization: Bearer <token>"
            )
        principal = await _bearer(request, settings.admin_tokens, given)
        if principal is None:
            _unauthorized(request, key, client, "token", "the token is not valid")
    else:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if not cookie:
            _unauthorized(
                request,
                key,
                client,
                "request without a token",
                "请先登录 / sign in first, or send Authorization: Bearer <token>",
                # The ops page asks who it is on every load, signed in or not: that guesses
                # nothing, so it spends nothing of the address's failures.
                count=request.match_info.route.name != WHO_AM_I_ROUTE,
            )
        principal = await _session(request, cookie)
        if principal is None:
            _unauthorized(
                request, key, client, "session", "登录已过期，请重新登录 / the session has ended"
            )
    assert principal is not None
    log.info("admin: %s %s %s from %s", principal.actor, request.method, request.path, client)
    return principal


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
    return Principal(
        f"link:{link.store_id}:{link.mac[:8]}",
        Kind.STORE_LINK,
        Role.STORE_LINK,
        store_ids=frozenset({link.store_id}),
        store=link,
    )


async def _bearer(
    request: web.Request, env_tokens: tuple[str, ...], given: str
) -> Principal | None:
    actor = None
    for i, token in enumerate(env_tokens, start=1):
        # Compare against every token, always: timing reveals neither a match nor which one.
        if hmac.compare_digest(given.encode(), token.encode()):
            actor = f"token#{i}"
    if actor is not None:
        return Principal(actor, Kind.ENV_TOKEN, Role.ADMIN)
    # Named tokens are looked up by their hash: nothing to compare in time.
    row = await request.config_dict[POOL].fetchrow(sql.API_KEY_BY_DIGEST, digest(given))
    if row is None:
        return None
    return Principal(
        f"token:{row['name']}", Kind.TOKEN, Role(row["role"]), frozenset(row["regions"])
    )


async def _session(request: web.Request, cookie: str) -> Principal | None:
    settings = request.config_dict[SETTINGS]
    hashed = digest(cookie)
    row = await request.config_dict[POOL].fetchrow(
        sql.TOUCH_SESSION, hashed, settings.session_idle_s, settings.session_max_s
    )
    if row is None:
        return None
    return Principal(
        row["username"],
        Kind.ACCOUNT,
        Role(row["role"]),
        frozenset(row["regions"]),
        csrf_token=row["csrf_token"],
        session=hashed,
    )


def check_csrf(request: web.Request, principal: Principal) -> None:
    """A change made with a session cookie must carry the session's CSRF token (a page of
    another site can make the browser send the cookie, never read the token)."""
    if principal.kind is not Kind.ACCOUNT or request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    expected = principal.csrf_token or ""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HuomaError(
            f"缺少或错误的 {CSRF_HEADER}，请刷新页面 / every change needs the session's "
            f"{CSRF_HEADER} header (reload the page)",
            code="csrf_refused",
            status=403,
        )


# ---- regions ----------------------------------------------------------------------------------


def store_not_found(store_id: str) -> NotFound:
    return NotFound(f"no store {store_id!r}", code="store_not_found")


async def check_scope(request: web.Request, principal: Principal) -> None:
    """A principal limited to regions reaches only their stores, their groups and entry codes:
    anything else is answered as if it did not exist (404), so existence does not leak."""
    if not principal.limited:
        return
    pool = request.config_dict[POOL]
    info = request.match_info
    regions = principal.region_list()
    if "store_id" in info:
        store_id = info["store_id"]
        if not await within(pool, principal, store_id, regions):
            raise store_not_found(store_id)
    if "group_id" in info:
        group_id = info["group_id"]
        store_id = await pool.fetchval(sql.GROUP_STORE, group_id)
        if store_id is None or not await within(pool, principal, store_id, regions):
            raise NotFound(f"no group {group_id!r}", code="group_not_found")
    if "code" in info:
        code = info["code"]
        store_id = await pool.fetchval(sql.ENTRY_STORE, code)
        if store_id is None or not await within(pool, principal, store_id, regions):
            raise NotFound(f"no entry code {code!r}", code="entry_not_found")


async def within(
    pool: asyncpg.Pool, principal: Principal, store_id: str, regions: list[str] | None
) -> bool:
    if principal.store_ids is not None and store_id not in principal.store_ids:
        return False
    return bool(await pool.fetchval(sql.STORE_WITHIN, store_id, regions))


def cookie_is_secure(request: web.Request) -> bool:
    """Session cookies are Secure, but on plain HTTP from the machine itself (a developer's
    `huoma demo` on http://127.0.0.1), where a browser would not send a Secure cookie back."""
    if request.secure or "X-Forwarded-For" in request.headers:
        return True  # TLS here, or a proxy in front (which ops run with TLS)
    try:
        return not ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return True


def new_secret() -> str:
    return secrets.token_urlsafe(32)
