"""The WeChat official account's access_token and jsapi_ticket, kept fresh and shared.

Every worker runs `ticket_loop`: it reads the shared row from PostgreSQL (`wechat_tickets`) into
its `TicketCache`, which the page's JS-SDK signature uses. When the ticket is missing or expires
within HUOMA_WECHAT_REFRESH_MARGIN_S, the worker tries to take the refresh's transaction-scoped
lock (sql.CLAIM_WECHAT_REFRESH) without waiting: the one that gets it reads the row again
(another may just have refreshed it), fetches what is due from WeChat (cgi-bin/token, then
cgi-bin/ticket/getticket) and stores it; the others leave it to that one. So there is one
refresh in flight per deployment, whoever the keeper is, and every worker signs with the ticket
PostgreSQL holds.

Written from WeChat's public documentation (获取Access token; JS-SDK 附录1 jsapi_ticket) and tested
against a local fake that follows it field by field; never run against the real service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from router.keys import POOL, SETTINGS, WECHAT_TICKET
from router.runtime.loops import running
from router.settings import Settings
from router.store import sql
from router.store.db import DB_ERRORS

log = logging.getLogger(__name__)

# errcodes meaning the access token is no longer good: fetch a new one, then ask again once.
TOKEN_INVALID = frozenset({40001, 40014, 42001})


class WeChatApiError(Exception):
    """WeChat answered an errcode (or something that is not its documented answer)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket: str
    expires_at: float  # Unix seconds


class TicketCache:
    """This worker's copy of the shared ticket; `current()` is what the page is signed with."""

    __slots__ = ("fallback", "shared")

    def __init__(self, fallback: str = "") -> None:
        self.shared: Ticket | None = None
        self.fallback = fallback  # HUOMA_WECHAT_JSAPI_TICKET, for a deployment without the secret

    def current(self, now: float | None = None) -> str:
        t = self.shared
        if t is not None and t.expires_at > (time.time() if now is None else now):
            return t.ticket
        return self.fallback


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def _get(session: aiohttp.ClientSession, url: str, params: Mapping[str, str]) -> Any:
    async with session.get(url, params=params) as response:
        if response.status != 200:
            raise WeChatApiError(-1, f"HTTP {response.status}")
        try:
            body = await response.json(content_type=None)
        except ValueError:
            raise WeChatApiError(-1, "the answer is not JSON") from None
    if not isinstance(body, dict):
        raise WeChatApiError(-1, "the answer is not a JSON object")
    errcode = body.get("errcode", 0)
    if errcode:
        raise WeChatApiError(int(errcode), str(body.get("errmsg", "")))
    return body


def _expires_in(body: Mapping[str, Any]) -> int:
    value = body.get("expires_in")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise WeChatApiError(-1, f"expires_in is not a positive whole number: {value!r}")
    return value


async def fetch_token(
    session: aiohttp.ClientSession, base: str, appid: str, secret: str
) -> tuple[str, int]:
    """GET cgi-bin/token (grant_type=client_credential): the access token and its lifetime."""
    body = await _get(
        session,
        f"{base}/cgi-bin/token",
        {"grant_type": "client_credential", "appid": appid, "secret": secret},
    )
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise WeChatApiError(-1, "no access_token in the answer")
    return token, _expires_in(body)


async def fetch_ticket(session: aiohttp.ClientSession, base: str, token: str) -> tuple[str, int]:
    """GET cgi-bin/ticket/getticket (type=jsapi): the jsapi_ticket and its lifetime."""
    body = await _get(
        session, f"{base}/cgi-bin/ticket/getticket", {"access_token": token, "type": "jsapi"}
    )
    ticket = body.get("ticket")
    if not isinstance(ticket, str) or not ticket:
        raise WeChatApiError(-1, "no ticket in the answer")
    return ticket, _expires_in(body)


def due(row: Mapping[str, Any] | None, now: float, margin_s: float) -> bool:
    """The ticket must be fetched: none yet, or it expires within the margin."""
    return row is None or row["ticket_expires_at"].timestamp() <= now + margin_s


async def _fetch(
    session: aiohttp.ClientSession,
    settings: Settings,
    row: Mapping[str, Any] | None,
    now: float,
) -> tuple[str, float, str, int]:
    """The token (the stored one while it is good beyond the margin, else a new one) and a new
    ticket; a token WeChat no longer takes is replaced and the ticket asked for once more."""
    appid, base = settings.wechat_appid, settings.wechat_api_base.rstrip("/")
    token: str | None = None
    token_expires = 0.0
    if (
        row is not None
        and row["token_expires_at"].timestamp() > now + settings.wechat_refresh_margin_s
    ):
        token, token_expires = row["access_token"], row["token_expires_at"].timestamp()
    for attempt in range(2):
        if token is None:
            token, lifetime = await fetch_token(session, base, appid, settings.wechat_appsecret)
            token_expires = time.time() + lifetime
        try:
            ticket, ticket_lifetime = await fetch_ticket(session, base, token)
        except WeChatApiError as exc:
            if exc.errcode not in TOKEN_INVALID or attempt:
                raise
            token = None  # revoked or expired early: a new one, then ask again once
        else:
            return token, token_expires, ticket, ticket_lifetime
    raise AssertionError("unreachable")  # pragma: no cover


async def refresh(
    pool: asyncpg.Pool, session: aiohttp.ClientSession, settings: Settings
) -> bool | None:
    """Fetch and store what is due, if this worker gets the refresh's lock. True: refreshed;
    False: not due (after all) or another worker holds the lock; WeChatApiError, TimeoutError or
    aiohttp.ClientError when WeChat failed (the error is stored for the ops to see)."""
    appid = settings.wechat_appid
    margin = settings.wechat_refresh_margin_s
    failure: Exception | None = None
    async with pool.acquire() as conn:
        async with conn.transaction():
            if not await conn.fetchval(sql.CLAIM_WECHAT_REFRESH):
                return False
            row = await conn.fetchrow(sql.GET_WECHAT_TICKET, appid)
            now = time.time()
            if not due(row, now, margin):
                return False
            try:
                token, token_expires, ticket, ticket_lifetime = await _fetch(
                    session, settings, row, now
                )
            except (WeChatApiError, TimeoutError, aiohttp.ClientError) as exc:
                failure = exc
            else:
                await conn.execute(
                    sql.SET_WECHAT_TICKET,
                    appid,
                    token,
                    _utc(token_expires),
                    ticket,
                    _utc(time.time() + ticket_lifetime),
                )
        if failure is not None:
            # Kept for the ops to see (the row, when there is one, keeps its last good ticket).
            await conn.execute(sql.SET_WECHAT_ERROR, appid, str(failure)[:500] or repr(failure))
            raise failure
    log.info("wechat: new jsapi_ticket, valid %d s", ticket_lifetime)
    return True


async def read_shared(pool: asyncpg.Pool, appid: str, cache: TicketCache) -> asyncpg.Record | None:
    row = await pool.fetchrow(sql.GET_WECHAT_TICKET, appid)
    if row is not None:
        cache.shared = Ticket(row["jsapi_ticket"], row["ticket_expires_at"].timestamp())
    return row


async def step(
    pool: asyncpg.Pool, session: aiohttp.ClientSession, settings: Settings, cache: TicketCache
) -> bool | None:
    """One turn of the loop: read the shared ticket; refresh it when due; read it again."""
    row = await read_shared(pool, settings.wechat_appid, cache)
    if not due(row, time.time(), settings.wechat_refresh_margin_s):
        return False
    done = await refresh(pool, session, settings)
    if done:
        await read_shared(pool, settings.wechat_appid, cache)
    return done


async def ticket_loop(app: web.Application, session: aiohttp.ClientSession) -> None:
    settings = app[SETTINGS]
    cache = app[WECHAT_TICKET]
    pool = app[POOL]
    retry = settings.wechat_retry_s
    while True:
        wait = settings.wechat_check_s
        try:
            await step(pool, session, settings, cache)
            retry = settings.wechat_retry_s
        except (WeChatApiError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("wechat: ticket refresh failed (%s); again in %.0f s", exc, retry)
            wait = retry
            retry = min(retry * 2, settings.wechat_retry_s * 10)
        except DB_ERRORS as exc:
            log.warning("wechat: shared ticket unreadable (%s)", exc)
        await asyncio.sleep(wait)


async def wechat_tickets(app: web.Application) -> AsyncIterator[None]:
    """The worker's ticket cache, and its refresh loop when the AppID and AppSecret are set."""
    settings = app[SETTINGS]
    app[WECHAT_TICKET] = TicketCache(settings.wechat_jsapi_ticket)
    if not (settings.wechat_appid and settings.wechat_appsecret):
        yield
        return
    timeout = aiohttp.ClientTimeout(total=settings.wechat_timeout_s)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        running(lambda: ticket_loop(app, session), "wechat-ticket"),
    ):
        yield
