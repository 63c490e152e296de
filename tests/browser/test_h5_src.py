"""The customer page says what its fix carries: `src=gps` with the browser's WGS-84 fix,
`src=wechat` with wx.getLocation's gcj02, whose shift covers Hong Kong as Tencent's map does."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import prcoords
import pytest

from router.web.app import create_app
from tests.browser.test_h5 import FAKE_WX, VIEWPORT, WX, open_page, qr_text, shot
from tests.browser.test_h5 import site as site  # the fixture, shared
from tests.conftest import group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

TIMES_SQUARE = (22.2783, 114.1822)  # Hong Kong, WGS-84


def _route_query(urls: list[str]) -> dict[str, list[str]]:
    asked = [u for u in urls if "/api/v1/route" in u]
    assert asked
    return parse_qs(urlsplit(asked[0]).query)


async def test_the_browser_s_fix_is_sent_as_gps(chromium: Any, site: Any) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=(31.2304, 121.4737))
    await page.locator("#result").wait_for(state="visible")
    query = _route_query(page.requests)
    assert (query["coord"], query["src"]) == (["wgs84"], ["gps"])
    await page.context.close()


async def test_in_hong_kong_wechat_s_gcj02_fix_finds_the_store_it_stands_in(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Any
) -> None:
    await seed(
        pool,
        [
            store_row(
                "hk-1",
                name="时代广场店",
                city="香港",
                address="勿地臣街1号",
                lat=TIMES_SQUARE[0],
                lng=TIMES_SQUARE[1],
                coord="GPS",
            ),
            # ~560 m away, beside where an unshifted reading of WeChat's fix would land.
            store_row(
                "hk-2", name="希慎广场店", city="香港", lat=22.2760, lng=114.1870, coord="GPS"
            ),
        ],
        [
            group_row("g1", "hk-1", qr_payload="https://weixin.qq.com/g/PAGE-HK1"),
            group_row("g2", "hk-2", qr_payload="https://weixin.qq.com/g/PAGE-HK2"),
        ],
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(settings.with_(public_base_url=f"http://127.0.0.1:{port}", **WX))
    server = await aiohttp_server(app, port=port)
    context = await chromium.new_context(
        viewport=VIEWPORT,
        locale="zh-CN",
        device_scale_factor=2,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.50",
    )
    shifted = prcoords.wgs_gcj(TIMES_SQUARE, False)  # what wx.getLocation gcj02 gives there
    await context.route(
        "https://res.wx.qq.com/**",
        lambda r: r.fulfill(
            body=FAKE_WX % (shifted.lat, shifted.lon), content_type="text/javascript"
        ),
    )
    page = await context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    await page.goto(str(server.make_url("/s/counter-1")))
    await page.locator("#result").wait_for(state="visible")
    query = _route_query(asked)
    assert (query["coord"], query["src"]) == (["gcj02"], ["wechat"])
    assert await page.locator("#store-name").inner_text() == "时代广场店"
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-HK1"
    await shot(page, "20-wechat-hong-kong")
    await context.close()
