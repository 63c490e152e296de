"""Signing in and out, who am I, and the admins' accounts and named API tokens."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg
from aiohttp import web

from router.errors import BadInput, HuomaError, NotFound
from router.keys import POOL, PRINCIPAL, SETTINGS
from router.ops import trail
from router.ops.auth import (
    ROLES,
    SESSION_COOKIE,
    Role,
    address_key,
    check_password,
    cookie_is_secure,
    digest,
    dummy_hash,
    hash_password,
    needs_rehash,
    new_secret,
    verify_password,
)
from router.ops.handlers import iso, json_body, json_response, log
from router.scan.limits import RateLimited
from router.store import sql
from router.store.db import Operation

# What each request asks of the database, for its 503 and its log line.
SIGN_IN = Operation("登录", "sign-in")
SIGN_OUT = Operation("退出登录", "sign-out")
WHO_AM_I = Operation("当前身份查询", "who-am-I")
ACCOUNTS = Operation("账号列表查询", "account list")
CREATE_ACCOUNT = Operation("账号创建", "account creation")
UPDATE_ACCOUNT = Operation("账号修改", "account change")
TOKENS = Operation("令牌列表查询", "API token list")
CREATE_TOKEN = Operation("令牌创建", "API token creation")
DELETE_TOKEN = Operation("令牌删除", "API token removal")

NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MAX_REGIONS = 200


def check_name(value: object, what: str = "username") -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value.strip()):
        raise BadInput(
            f"{what} 只能是 1–64 个字母、数字或 . _ @ - / {what} must be 1 to 64 letters, "
            "digits or . _ @ -",
            code=f"bad_{what}",
        )
    return value.strip()


def check_role(value: object) -> str:
    if value not in ROLES:
        raise BadInput(f"role 只能是 / role must be one of {', '.join(ROLES)}", code="bad_role")
    assert isinstance(value, str)
    return value


def check_regions(value: object) -> list[str]:
    """A list of region names (a store's region, or its city when it has none); [] is all."""
    if (
        not isinstance(value, list)
        or len(value) > MAX_REGIONS
        or not all(isinstance(r, str) and 0 < len(r.strip()) <= 100 for r in value)
    ):
        raise BadInput(
            "regions 是地区名列表（空列表为全部地区）/ regions must be a list of region names "
            "([] for every region)",
            code="bad_regions",
        )
    return sorted({r.strip() for r in value})


def _account(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "username": row["username"],
        "role": row["role"],
        "regions": list(row["regions"]),
        "disabled": row["disabled"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "last_signin_at": iso(row["last_signin_at"]),
    }


def _token(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "name": row["name"],
        "role": row["role"],
        "regions": list(row["regions"]),
        "created_by": row["created_by"],
        "created_at": iso(row["created_at"]),
        "last_used_at": iso(row["last_used_at"]),
    }


# ---- the session --------------------------------------------------------------------------------


async def sign_in(request: web.Request) -> web.Response:
    """POST /admin/api/session {username, password}: a session cookie and its CSRF token.
    Failures make the next attempt from the same address, or for the same account, wait longer
    each time (doubling up to HUOMA_SIGNIN_DELAY_MAX_S); nobody is locked out."""
    settings = request.config_dict[SETTINGS]
    pool = request.config_dict[POOL]
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadInput("请填写用户名和密码 / send username and password", code="bad_signin")
    username = username.strip()[:64]
    client, key = address_key(request)
    keys = [f"ip:{key}", f"user:{username.lower()}"]
    wait = await pool.fetchval(sql.SIGNIN_WAIT, keys)
    if wait is not None:
        _too_soon(wait)
    row = await pool.fetchrow(sql.ACCOUNT_BY_NAME, username)
    # Hashing is CPU work of tens of milliseconds: off the event loop. An unknown name costs the
    # same as a wrong password.
    ok = await asyncio.to_thread(
        verify_password, row["password_hash"] if row is not None else dummy_hash(), password
    )
    if row is None or not ok or row["disabled"]:
        waits = await pool.fetch(
            sql.SIGNIN_FAILED,
            keys,
            settings.signin_delay_s,
            settings.signin_delay_max_s,
            settings.signin_forget_s,
        )
        log.warning("admin: failed sign-in as %r from %s", username, client)
        raise SignInFailed(max(r["wait_s"] for r in waits))
    if needs_rehash(row["password_hash"]):
        await pool.execute(sql.REHASH_ACCOUNT, row["id"], hash_password(password))
    token, csrf = new_secret(), new_secret()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            sql.DELETE_STALE_SESSIONS, settings.session_idle_s, settings.session_max_s
        )
        await conn.execute(sql.CREATE_SESSION, digest(token), row["id"], csrf, client)
        await conn.execute(sql.ACCOUNT_SIGNED_IN, row["id"])
        await conn.execute(sql.SIGNIN_SUCCEEDED, keys[1])
        await conn.execute(sql.FORGET_SIGNIN_FAILURES, settings.signin_forget_s)
    log.info("admin: %s signed in from %s", username, client)
    response = json_response(
        {
            "actor": row["username"],
            "kind": "account",
            "role": row["role"],
            "regions": list(row["regions"]),
            "csrf_token": csrf,
        }
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/admin",
        max_age=settings.session_max_s,
        secure=cookie_is_secure(request),
        httponly=True,
        samesite="Strict",
    )
    return response


class SignInFailed(HuomaError):
    """A wrong username or password (which of the two is not said), and how long to wait."""

    status = 401
    code = "signin_failed"

    def __init__(self, wait_s: float) -> None:
        super().__init__("用户名或密码错误 / wrong username or password")
        self.wait_s = wait_s

    def details(self) -> dict[str, object]:
        return {"retry_after_s": round(self.wait_s, 3)}


def _too_soon(wait: float) -> None:
    raise RateLimited(
        f"登录失败次数过多，请 {max(1, round(wait))} 秒后再试 / too many failed sign-ins; "
        f"try again in {wait:.0f} s",
        max(1, int(wait + 0.999)),
    )


async def who_am_i(request: web.Request) -> web.Response:
    """GET /admin/api/session: the principal, with the session's CSRF token."""
    principal = request[PRINCIPAL]
    body = principal.describe()
    # The page shows times in the brand's time zone (HUOMA_TIMEZONE), not the browser's.
    body["timezone"] = request.config_dict[SETTINGS].timezone
    if principal.csrf_token is not None:
        body["csrf_token"] = principal.csrf_token
    return json_response(body)


async def sign_out(request: web.Request) -> web.Response:
    """DELETE /admin/api/session: end this session (a token has none: nothing to end)."""
    principal = request[PRINCIPAL]
    if principal.session is not None:
        await request.config_dict[POOL].execute(sql.DELETE_SESSION, principal.session)
        log.info("admin: %s signed out", principal.actor)
    response = json_response({"signed_out": principal.session is not None})
    response.del_cookie(SESSION_COOKIE, path="/admin")
    return response


# ---- accounts (admins) -------------------------------------------------------------------------


async def list_accounts(request: web.Request) -> web.Response:
    """GET /admin/api/accounts: every account, with how many sessions it has open."""
    rows = await request.config_dict[POOL].fetch(sql.LIST_ACCOUNTS)
    return json_response(
        {"accounts": [{**_account(r), "sessions": r["sessions"]} for r in rows], "roles": ROLES}
    )


async def create_account(request: web.Request) -> web.Response:
    """POST /admin/api/accounts {username, password, role, regions?}."""
    body = await json_body(request)
    username = check_name(body.get("username"))
    password = check_password(body.get("password"))
    role = check_role(body.get("role"))
    regions = check_regions(body.get("regions", []))
    hashed = await asyncio.to_thread(hash_password, password)
    actor = request[PRINCIPAL].actor
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.CREATE_ACCOUNT, username, hashed, role, regions)
        if row is None:
            raise HuomaError(
                f"账号 {username!r} 已存在 / account {username!r} already exists",
                code="account_exists",
                status=409,
            )
        await trail.account_created(conn, actor, row)
    log.info("admin: %s created account %s (%s)", request[PRINCIPAL].actor, username, role)
    return json_response(_account(row), status=201)


async def update_account(request: web.Request) -> web.Response:
    """PATCH /admin/api/accounts/{username} {role?, regions?, disabled?, password?}: change an
    account; disabling it or resetting its password ends its sessions (but the one an admin resets
    its own password from)."""
    username = request.match_info["username"]
    body = await json_body(request)
    role = check_role(body["role"]) if body.get("role") is not None else None
    regions = check_regions(body["regions"]) if body.get("regions") is not None else None
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise BadInput("disabled must be true or false", code="bad_disabled")
    hashed = None
    if body.get("password") is not None:
        hashed = await asyncio.to_thread(hash_password, check_password(body["password"]))
    principal = request[PRINCIPAL]
    if principal.actor == username and (disabled or (role is not None and role != Role.ADMIN)):
        raise BadInput(
            "不能停用自己或降低自己的角色 / you cannot disable or demote yourself",
            code="self_lockout",
        )
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        before = await conn.fetchrow(sql.ACCOUNT_FOR_AUDIT, username)
        row = await conn.fetchrow(sql.UPDATE_ACCOUNT, username, role, regions, disabled, hashed)
        if before is None or row is None:
            raise NotFound(f"no account {username!r}", code="account_not_found")
        ended = 0
        if disabled or hashed is not None:
            # An admin resetting its own password stays signed in here, and only here.
            keep = principal.session if principal.actor == username else None
            status = await conn.execute(sql.DELETE_ACCOUNT_SESSIONS, row["id"], keep)
            ended = int(status.split()[-1])
        await trail.account_changed(
            conn,
            principal.actor,
            before,
            row,
            password_reset=hashed is not None,
            sessions_ended=ended,
        )
    changed = [k for k in ("role", "regions", "disabled", "password") if body.get(k) is not None]
    log.info("admin: %s changed account %s: %s", principal.actor, username, ", ".join(changed))
    return json_response(_account(row))


# ---- named API tokens (admins) ------------------------------------------------------------------


async def list_tokens(request: web.Request) -> web.Response:
    """GET /admin/api/tokens: the named tokens (never the tokens themselves)."""
    rows = await request.config_dict[POOL].fetch(sql.LIST_API_KEYS)
    return json_response({"tokens": [_token(r) for r in rows]})


async def create_token(request: web.Request) -> web.Response:
    """POST /admin/api/tokens {name, role, regions?}: a new token, shown this once."""
    body = await json_body(request)
    name = check_name(body.get("name"), "name")
    role = check_role(body.get("role"))
    regions = check_regions(body.get("regions", []))
    token = "hm_" + new_secret()
    actor = request[PRINCIPAL].actor
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.CREATE_API_KEY, name, digest(token), role, regions, actor)
        if row is None:
            raise HuomaError(
                f"令牌 {name!r} 已存在 / token {name!r} already exists",
                code="token_exists",
                status=409,
            )
        await trail.token_created(conn, actor, row)
    log.info("admin: %s created API token %s (%s)", actor, name, role)
    return json_response({**_token(row), "token": token}, status=201)


async def delete_token(request: web.Request) -> web.Response:
    """DELETE /admin/api/tokens/{name}: the token stops working at once."""
    name = request.match_info["name"]
    actor = request[PRINCIPAL].actor
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        before = await conn.fetchrow(sql.API_KEY_FOR_AUDIT, name)
        if before is None or await conn.fetchval(sql.DELETE_API_KEY, name) is None:
            raise NotFound(f"no token {name!r}", code="token_not_found")
        await trail.token_deleted(conn, actor, name, before)
    log.info("admin: %s deleted API token %s", actor, name)
    return json_response({"name": name, "deleted": True})
