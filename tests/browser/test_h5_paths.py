"""The customer page's paths that used to dead-end, in real headless Chromium at 375x667: a retry
after a refused location, a store with no group (sent on to the nearest one with a group), the
picker's city normalisation, captions true to what is shown, directions to the store. The QR on
each screen is decoded; screenshots land in test-artifacts/h5/."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from geo.coords import gcj02_to_wgs84
from router.ops.uploads import import_file
from router.web.app import create_app
from tests.browser.test_h5 import VIEWPORT, open_page, qr_text, shot, wechat_context
from tests.conftest import group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

S1 = (31.2304, 121.4737)


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Any) -> Any:
    await seed(
        pool,
        [
            store_row("S1", name="人民广场店", city="上海市", lat=S1[0], lng=S1[1]),
            store_row(
                "E1", name="空店", city="上海", lat=31.2330, lng=121.4750, address="空路 1 号"
            ),
            store_row("LONE", name="孤店", city="杭州市", lat=30.30, lng=120.10),
        ],
        [group_row("S1-G1", "S1", qr_payload="https://weixin.qq.com/g/PATH-S1")],
    )
    await import_file(
        pool,
        "fallbacks",
        b"store_id,name,qr_payload\n*,\xe5\x93\x81\xe7\x89\x8c\xe7\xbe\xa4,https://weixin.qq.com/g/PATH-BRAND\n",
        "f.csv",
        timezone="Asia/Shanghai",
        max_bytes=10**6,
        max_rows=10,
    )
    return await aiohttp_server(create_app(settings))


async def test_after_a_refusal_relocate_asks_again_and_finds_the_store(
    chromium: Any, site: Any
) -> None:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=2)
    page = await open_page(chromium, site, "/s/counter-1", context=context)
    await page.locator("#picker").wait_for(state="visible")
    relocate = page.locator("#relocate")
    assert await relocate.inner_text() == "重新定位"
    await shot(page, "20-refused-relocate")
    # The customer changes their mind (WeChat asks again on a new request): allowed this time.
    lat, lng = gcj02_to_wgs84(*S1)
    await context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": 20})
    await context.grant_permissions(["geolocation"])
    await relocate.click()
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#store-name").inner_text() == "人民广场店"
    assert await qr_text(page) == "https://weixin.qq.com/g/PATH-S1"
    await shot(page, "21-relocated")
    await context.close()


async def test_a_network_failure_offers_relocate_as_well_as_retry(chromium: Any, site: Any) -> None:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=2)
    lat, lng = gcj02_to_wgs84(*S1)
    await context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": 20})
    await context.grant_permissions(["geolocation"])
    failures = {"left": 1}

    async def flaky(route: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await context.route("**/api/v1/route*", flaky)
    page = await open_page(chromium, site, "/s/counter-1", context=context)
    await page.locator("#failed").wait_for(state="visible")
    await page.locator("#relocate-failed").click()
    assert await qr_text(page) == "https://weixin.qq.com/g/PATH-S1"
    await context.close()


async def test_a_store_with_no_group_sends_the_customer_on_and_says_why(
    chromium: Any, site: Any
) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=(31.2330, 121.4750))
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#store-name").inner_text() == "人民广场店"
    note = await page.locator("#note").inner_text()
    assert "空店" in note and "满员" in note
    assert await page.locator("#hint").inner_text() == "长按识别二维码，加入门店福利群"
    assert await qr_text(page) == "https://weixin.qq.com/g/PATH-S1"
    # Directions go to the store shown, through AMap's public marker page (a link, not a fetch).
    href = await page.locator("#nav").get_attribute("href")
    assert href.startswith("https://uri.amap.com/marker?position=121.4737,31.2304&name=")
    origin = str(site.make_url("/"))
    assert all(u.startswith(origin) for u in page.requests), page.requests
    await shot(page, "22-sent-on")


async def test_the_brand_fallback_is_captioned_as_the_brand_group(chromium: Any, site: Any) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=(30.30, 120.10))
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#store-name").inner_text() == "孤店"
    hint = await page.locator("#hint").inner_text()
    assert "品牌福利群" in hint and "门店福利群" not in hint
    assert await qr_text(page) == "https://weixin.qq.com/g/PATH-BRAND"
    await shot(page, "23-brand-fallback")


async def test_the_picker_has_one_shanghai_and_finds_its_stores_by_search(
    chromium: Any, site: Any
) -> None:
    page = await open_page(chromium, site, "/s/counter-1", grant=False)
    await page.locator("#picker").wait_for(state="visible")
    options = page.locator("#city option")
    for _ in range(100):
        if await options.count() > 1:
            break
        await page.wait_for_timeout(50)
    names = await options.all_inner_texts()
    assert len([n for n in names if n.startswith("上海")]) == 1, names
    shanghai = next(n for n in names if n.startswith("上海"))
    await page.locator("#city").select_option(shanghai)
    await page.locator("#q").fill("人民广场")
    await page.locator("#stores button", has_text="人民广场店").click()
    assert await qr_text(page) == "https://weixin.qq.com/g/PATH-S1"
    await shot(page, "24-picker-city")


# WeChat's jweixin SDK stand-in (documented interface): config, ready, error, getLocation,
# openLocation, updateAppMessageShareData, updateTimelineShareData; calls recorded on window.
FAKE_WX = """
window.__wx = {};
window.wx = {
  config: function (c) { window.__wx.config = c; },
  ready: function (fn) { setTimeout(fn, 0); },
  error: function () {},
  getLocation: function (o) {
    setTimeout(function () { o.success({latitude: %f, longitude: %f, speed: 0, accuracy: 30}); }, 0);
  },
  openLocation: function (o) { window.__wx.open = o; },
  updateAppMessageShareData: function (o) { window.__wx.share = o; },
  updateTimelineShareData: function (o) { window.__wx.timeline = o; }
};
"""


async def test_inside_wechat_directions_open_wechats_map_and_the_share_card_is_the_brand(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Any
) -> None:
    import socket

    await seed(
        pool,
        [store_row("S1", name="人民广场店", lat=S1[0], lng=S1[1], address="人民大道 100 号")],
        [group_row("S1-G1", "S1", qr_payload="https://weixin.qq.com/g/PATH-WX")],
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(
        settings.with_(
            public_base_url=f"http://127.0.0.1:{port}",
            wechat_appid="wx0123456789abcdef",
            wechat_jsapi_ticket="TICKET-0123456789",
            brand_name="示例咖啡",
            brand_offer="进群领3张8折券",
        )
    )
    server = await aiohttp_server(app, port=port)
    context = await wechat_context(chromium, FAKE_WX % S1)
    page = await context.new_page()
    await page.goto(str(server.make_url("/s/counter-1")))
    await page.locator("#result").wait_for(state="visible")
    assert await qr_text(page) == "https://weixin.qq.com/g/PATH-WX"
    config = await page.evaluate("window.__wx.config")
    assert "openLocation" in config["jsApiList"]
    share = await page.evaluate("window.__wx.share")
    assert (share["title"], share["desc"]) == ("示例咖啡", "进群领3张8折券")
    await page.locator("#nav").click()
    opened = await page.evaluate("window.__wx.open")
    assert (opened["name"], opened["address"]) == ("人民广场店", "人民大道 100 号")
    assert (round(opened["latitude"], 4), round(opened["longitude"], 4)) == S1
    assert page.url.startswith(str(server.make_url("/")))  # stayed on the page: no AMap
    await shot(page, "25-wechat-directions")
    await context.close()
