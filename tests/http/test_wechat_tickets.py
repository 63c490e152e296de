"""The WeChat JS-SDK's access token and jsapi_ticket: fetched from the official account's AppID
and AppSecret by one refresher per deployment, before they expire, shared through PostgreSQL and
used by every worker to sign the page; against a local fake of WeChat's API (tests/fake_wechat.py).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest

from router.keys import WECHAT_TICKET
from router.runtime.wechat import TicketCache, WeChatApiError, refresh, step
from router.web.pages import wx_signature
from tests.fake_wechat import APPID, SECRET, TICKET, TOKEN, FakeWeChat

pytestmark = pytest.mark.db


@pytest.fixture
async def fake(aiohttp_server: Any) -> FakeWeChat:
    wechat = FakeWeChat()
    server = await aiohttp_server(wechat.app())
    wechat.base = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return wechat


@pytest.fixture
def wx_settings(settings: Any, fake: FakeWeChat) -> Any:
    return settings.with_(
        wechat_appid=APPID,
        wechat_appsecret=SECRET,
        wechat_api_base=fake.base,  # type: ignore[attr-defined]
        wechat_check_s=0.05,
        wechat_retry_s=0.05,
    )


@pytest.fixture
async def session() -> Any:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        yield s


async def stored(pool: asyncpg.Pool) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM wechat_tickets WHERE appid = $1", APPID)


async def test_the_first_refresh_fetches_a_token_then_a_ticket_and_shares_them(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, session: Any
) -> None:
    cache = TicketCache()
    assert await step(pool, session, wx_settings, cache) is True
    assert fake.calls == [TOKEN, TICKET]
    row = await stored(pool)
    assert row is not None and row["jsapi_ticket"] == fake.ticket == cache.current()
    assert row["access_token"] == "ACCESS-TOKEN-1" and row["last_error"] == ""
    lifetime = (row["ticket_expires_at"] - datetime.now(UTC)).total_seconds()
    assert 7100 < lifetime <= 7200
    # Not due: nothing asked of WeChat, however often the loop turns.
    for _ in range(3):
        assert await step(pool, session, wx_settings, cache) is False
    assert fake.calls == [TOKEN, TICKET]


async def test_a_ticket_is_fetched_again_before_it_expires_reusing_a_good_token(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, session: Any
) -> None:
    cache = TicketCache()
    await step(pool, session, wx_settings, cache)
    first = cache.current()
    # Inside the margin (600 s by default) but not expired: refreshed now, not when it fails.
    await pool.execute(
        "UPDATE wechat_tickets SET ticket_expires_at = now() + interval '500 seconds'"
    )
    assert await step(pool, session, wx_settings, cache) is True
    assert fake.calls == [TOKEN, TICKET, TICKET]  # the token still had two hours
    assert cache.current() != first and cache.current() == fake.ticket
    # Both inside the margin: a new token as well.
    await pool.execute(
        "UPDATE wechat_tickets SET ticket_expires_at = now() + interval '10 seconds', "
        "token_expires_at = now() + interval '10 seconds'"
    )
    assert await step(pool, session, wx_settings, cache) is True
    assert fake.calls[-2:] == [TOKEN, TICKET]


async def test_a_ticket_that_has_expired_is_never_used_to_sign(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, session: Any
) -> None:
    cache = TicketCache()
    await step(pool, session, wx_settings, cache)
    assert cache.current(now=time.time() + 7300) == ""  # past its expires_in: nothing
    assert TicketCache("FROM-ENV").current() == "FROM-ENV"  # the setting, without the secret


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_a_token_wechat_no_longer_takes_is_replaced_and_the_ticket_asked_once_more(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, session: Any, errcode: int
) -> None:
    cache = TicketCache()
    await step(pool, session, wx_settings, cache)
    await pool.execute("UPDATE wechat_tickets SET ticket_expires_at = now()")
    fake.errors[TICKET].append(errcode)
    assert await step(pool, session, wx_settings, cache) is True
    assert fake.calls == [TOKEN, TICKET, TICKET, TOKEN, TICKET]
    assert cache.current() == fake.ticket


async def test_an_expired_token_is_detected_by_wechat_too(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, session: Any
) -> None:
    cache = TicketCache()
    await step(pool, session, wx_settings, cache)
    await pool.execute("UPDATE wechat_tickets SET ticket_expires_at = now()")
    fake.expire_tokens()  # our clock says two hours, WeChat's says 42001
    assert await step(pool, session, wx_settings, cache) is True
    assert fake.calls[-3:] == [TICKET, TOKEN, TICKET]


@pytest.mark.parametrize(
    ("path", "errcodes"),
    [
        (TOKEN, [-1]),  # system busy
        (TOKEN, [45009]),  # daily quota
        (TOKEN, [40164]),  # this server's address is not whitelisted
        (TICKET, [-1]),
        (TICKET, [45009]),
        (TICKET, [40001, 40001]),  # a new token, and it is refused again: give up this turn
    ],
)
async def test_wechats_errors_are_raised_recorded_and_the_old_ticket_kept(
    pool: asyncpg.Pool,
    fake: FakeWeChat,
    wx_settings: Any,
    session: Any,
    path: str,
    errcodes: list[int],
) -> None:
    cache = TicketCache()
    await step(pool, session, wx_settings, cache)
    old = cache.current()
    await pool.execute(
        "UPDATE wechat_tickets SET ticket_expires_at = now() + interval '300 seconds', "
        "token_expires_at = now()"
    )
    fake.errors[path].extend(errcodes)
    with pytest.raises(WeChatApiError) as caught:
        await step(pool, session, wx_settings, cache)
    assert caught.value.errcode == errcodes[-1]
    row = await stored(pool)
    assert row is not None and str(errcodes[-1]) in row["last_error"]
    assert row["jsapi_ticket"] == old and cache.current() == old  # still valid for 300 s
    # Next turn WeChat answers: the error is cleared.
    assert await step(pool, session, wx_settings, cache) is True
    assert cache.current() == fake.ticket != old
    assert (await stored(pool))["last_error"] == ""


@pytest.mark.parametrize(
    "odd",
    [
        {"access_token": "T"},  # no expires_in
        {"access_token": "T", "expires_in": "7200"},  # a string
        {"access_token": "", "expires_in": 7200},
        {"expires_in": 7200},
        ["not", "an", "object"],
    ],
)
async def test_an_answer_without_the_documented_fields_is_an_error_not_a_ticket(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, session: Any, odd: Any
) -> None:
    fake.answer = odd  # type: ignore[assignment]
    with pytest.raises(WeChatApiError):
        await refresh(pool, session, wx_settings)
    assert await stored(pool) is None


async def test_one_refresh_in_flight_for_the_whole_deployment(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, session: Any
) -> None:
    fake.hold = asyncio.Event()
    caches = [TicketCache() for _ in range(4)]
    turns = [asyncio.create_task(step(pool, session, wx_settings, c)) for c in caches]
    for _ in range(200):  # until the one that took the lock is waiting on WeChat
        if fake.calls:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # (the others have had their chance to ask too)
    fake.hold.set()
    results = await asyncio.gather(*turns)
    assert sorted(results) == [False, False, False, True]
    assert fake.calls == [TOKEN, TICKET]
    # The others read the shared ticket at their next turn, with no call of their own.
    for c in caches:
        await step(pool, session, wx_settings, c)
        assert c.current() == fake.ticket
    assert fake.calls == [TOKEN, TICKET]


async def test_two_workers_sign_with_the_one_shared_ticket(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, make_client: Any
) -> None:
    base = "http://huoma.test"
    workers = [
        await make_client(**{f: getattr(wx_settings, f) for f in WX_FIELDS}) for _ in range(2)
    ]
    for w in workers:
        for _ in range(200):
            if w.app[WECHAT_TICKET].current():
                break
            await asyncio.sleep(0.02)
    assert fake.calls == [TOKEN, TICKET]
    for w in workers:
        response = await w.get("/api/v1/wx-config", params={"url": f"{base}/s/counter-1"})
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["signature"] == wx_signature(
            fake.ticket, body["nonceStr"], body["timestamp"], f"{base}/s/counter-1"
        )
        assert body["share"]["title"] == "门店福利群" and body["share"]["imgUrl"] == ""
        page = await (await w.get("/s/counter-1")).text()
        assert "res.wx.qq.com" in page


WX_FIELDS = (
    "wechat_appid",
    "wechat_appsecret",
    "wechat_api_base",
    "wechat_check_s",
    "wechat_retry_s",
)


async def test_configured_but_no_ticket_yet_is_a_clear_4xx_and_the_page_goes_on(
    pool: asyncpg.Pool, fake: FakeWeChat, wx_settings: Any, make_client: Any
) -> None:
    fake.errors[TOKEN].extend([40164] * 1000)  # this server is not whitelisted
    client = await make_client(**{f: getattr(wx_settings, f) for f in WX_FIELDS})
    for _ in range(100):
        if len(fake.calls) >= 2:
            break
        await asyncio.sleep(0.02)
    response = await client.get("/api/v1/wx-config", params={"url": "http://huoma.test/s/x"})
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "wx_not_ready"
    # ...and the refresher backs off: two failures apart by at least the retry delay, doubling.
    assert fake.calls.count(TOKEN) < 20
