"""The customer page in real headless Chromium: every rung of the ladder, what the customer sees,
and that the QR code on screen decodes to the group's payload. Screenshots (375x667) land in
test-artifacts/h5/."""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import zxingcpp
from PIL import Image

from geo.coords import gcj02_to_wgs84
from router.ops.uploads import import_file
from router.web.app import create_app
from tests.conftest import ARTIFACTS_ROOT, expired_qr_path, group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "h5"
VIEWPORT = {"width": 375, "height": 667}

# GCJ-02 store positions; the phone reports WGS-84.
S1 = (31.2304, 121.4737)
S2 = (31.2322, 121.4760)


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Any) -> Any:
    await seed(
        pool,
        [
            store_row("S1", name="人民广场店", lat=S1[0], lng=S1[1], address="人民大道 100 号"),
            store_row("S2", name="来福士店", lat=S2[0], lng=S2[1], address="西藏中路 268 号"),
            store_row(
                "S3",
                name="国贸店",
                city="北京",
                lat=39.9087,
                lng=116.4605,
                address="建国门外大街 1 号",
            ),
            store_row("S4", name="满员店", lat=31.30, lng=121.50, address="四平路 1 号"),
        ],
        [
            group_row("S1-G1", "S1", qr_payload="https://weixin.qq.com/g/PAGE-S1"),
            group_row("S2-G1", "S2", qr_payload="https://weixin.qq.com/g/PAGE-S2"),
            group_row("S3-G1", "S3", qr_payload="https://weixin.qq.com/g/PAGE-S3"),
            group_row("S4-G1", "S4", member_count=200, capacity=200),
        ],
    )
    data = "store_id,name,qr_payload\nS4,店长微信,https://u.wechat.com/PAGE-STAFF\n*,品牌福利群,https://weixin.qq.com/g/PAGE-BRAND\n"
    await import_file(
        pool,
        "fallbacks",
        data.encode(),
        "f.csv",
        timezone="Asia/Shanghai",
        max_bytes=10**6,
        max_rows=10,
    )
    await pool.execute(
        "INSERT INTO entries (code, kind, store_id) VALUES ('s3-counter', 'store', 'S3')"
    )
    return await aiohttp_server(create_app(settings))


async def open_page(
    chromium: Any,
    site: Any,
    path: str,
    *,
    at: tuple[float, float] | None = None,
    accuracy: float = 20.0,
    locale: str = "zh-CN",
    grant: bool = True,
    context: Any = None,
) -> Any:
    if context is None:
        options: dict[str, Any] = {"viewport": VIEWPORT, "locale": locale, "device_scale_factor": 2}
        if at is not None:
            lat, lng = gcj02_to_wgs84(*at)
            options["geolocation"] = {"latitude": lat, "longitude": lng, "accuracy": accuracy}
        context = await chromium.new_context(**options)
        if grant:
            await context.grant_permissions(["geolocation"])
    page = await context.new_page()
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    await page.goto(str(site.make_url(path)))
    return page


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def qr_text(page: Any, selector: str = "#qr") -> str:
    img = page.locator(selector)
    await img.wait_for(state="visible")
    # Poll from here: the page's CSP (rightly) forbids the eval behind wait_for_function.
    for _ in range(100):
        if await img.evaluate("el => el.complete && el.naturalWidth > 0"):
            break
        await page.wait_for_timeout(50)
    box = await img.bounding_box()
    assert box["width"] >= 160 and box["height"] >= 160
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], (
        "QR must be on screen without scrolling"
    )
    png = await img.screenshot()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "last-qr.png").write_bytes(png)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found, "no QR code readable in the image on screen"
    text: str = found[0].text
    return text


async def test_located_customer_sees_the_nearest_store_and_a_scannable_qr(
    chromium: Any, site: Any
) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=(31.2305, 121.4738))
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#store-name").inner_text() == "人民广场店"
    assert "就在附近" in await page.locator("#store-meta").inner_text()  # 15 m away
    assert "长按识别二维码" in await page.locator("#hint").inner_text()
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S1"
    origin = str(site.make_url("/"))
    assert all(u.startswith(origin) for u in page.requests), page.requests  # no third parties
    await shot(page, "01-located-zh")


async def test_english_when_the_browser_prefers_it(chromium: Any, site: Any) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=S2, locale="en-US")
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#store-name").inner_text() == "来福士店"
    assert "Press and hold" in await page.locator("#hint").inner_text()
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S2"
    await shot(page, "02-located-en")


async def test_not_this_store_offers_the_nearby_alternatives(chromium: Any, site: Any) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=S1)
    await page.locator("#result").wait_for(state="visible")
    await page.locator("#not-this").click()
    await page.locator("#choose").wait_for(state="visible")
    await shot(page, "03-alternatives")
    await page.locator("#choices button", has_text="来福士店").click()
    await page.locator("#result").wait_for(state="visible")
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S2"


async def test_a_coarse_fix_asks_which_store_instead_of_guessing(chromium: Any, site: Any) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=S1, accuracy=2000.0)
    await page.locator("#choose").wait_for(state="visible")
    assert await page.locator("#choose-note").is_visible()
    await shot(page, "04-coarse-choice")
    await page.locator("#choices button", has_text="来福士店").click()
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S2"


async def test_location_refused_goes_to_the_picker_then_the_chosen_store(
    chromium: Any, site: Any
) -> None:
    page = await open_page(chromium, site, "/s/counter-1", grant=False)
    await page.locator("#picker").wait_for(state="visible")
    assert "没有获取到您的位置" in await page.locator("#picker-note").inner_text()
    assert await page.locator("#brand-qr").is_visible()  # the brand's group is always an option
    await page.locator("#city").select_option("北京")
    await page.locator("#stores button", has_text="国贸店").click()
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S3"
    await shot(page, "05-refused-picked")


async def test_location_refused_at_a_pinned_counter_shows_that_store(
    chromium: Any, site: Any
) -> None:
    page = await open_page(chromium, site, "/s/s3-counter", grant=False)
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#store-name").inner_text() == "国贸店"
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S3"
    await shot(page, "06-pinned")


async def test_a_busy_network_is_told_to_wait_and_the_page_asks_again_by_itself(
    chromium: Any, site: Any
) -> None:
    refused: list[str] = []

    async def once_too_many(route: Any) -> None:
        if not refused:
            refused.append(route.request.url)
            await route.fulfill(
                status=429,
                headers={"Retry-After": "2", "Content-Type": "application/json"},
                body='{"error": {"code": "rate_limited", "message": "too many scans"}}',
            )
        else:
            await route.continue_()

    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=2)
    page = await context.new_page()
    await page.route("**/api/v1/route*", once_too_many)
    await page.goto(str(site.make_url("/s/s3-counter")))  # pinned: no location needed
    await page.locator("#busy-text", has_text="2 秒后自动重试").wait_for(state="visible")
    await shot(page, "10-too-many")
    await page.locator("#result").wait_for(state="visible", timeout=10_000)
    assert len(refused) == 1
    assert await page.locator("#store-name").inner_text() == "国贸店"
    await context.close()


async def test_a_location_that_never_comes_times_out_to_the_remembered_store(
    chromium: Any, site: Any
) -> None:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=2)
    await context.grant_permissions(["geolocation"])
    first = await open_page(chromium, site, "/s/counter-1", context=context)
    await first.locator("#picker").wait_for(state="visible")  # denied-like: nothing granted yet
    await first.locator("#q").fill("来福士")
    await first.locator("#stores button", has_text="来福士店").click()
    await first.locator("#result").wait_for(state="visible")
    await first.close()
    # Next visit: the phone never answers (a WeChat web view can do that); the page gives up on
    # its own and falls back to the store of the last visit.
    await context.add_init_script("navigator.geolocation.getCurrentPosition = function () {};")
    page = await context.new_page()
    await page.clock.install()
    await page.goto(str(site.make_url("/s/counter-1")))
    await page.locator("#busy").wait_for(state="visible")
    await page.clock.fast_forward("00:11")
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#store-name").inner_text() == "来福士店"
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S2"
    await shot(page, "07-timeout-remembered")


async def test_far_from_every_store_says_so_and_offers_the_picker_and_brand_group(
    chromium: Any, site: Any
) -> None:
    page = await open_page(chromium, site, "/s/", at=(45.75, 126.63))  # Harbin
    await page.locator("#picker").wait_for(state="visible")
    assert "附近没有找到门店" in await page.locator("#picker-note").inner_text()
    assert await qr_text(page, "#brand-qr") == "https://weixin.qq.com/g/PAGE-BRAND"
    await shot(page, "08-no-store-nearby")


async def test_a_store_with_full_groups_shows_its_fallback_kindly(chromium: Any, site: Any) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=(31.30, 121.50))
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#note").is_visible()
    assert "客服" in await page.locator("#hint").inner_text()
    assert await qr_text(page) == "https://u.wechat.com/PAGE-STAFF"
    await shot(page, "09-fallback")


async def test_a_network_error_offers_a_retry_that_works(chromium: Any, site: Any) -> None:
    context = await chromium.new_context(
        viewport=VIEWPORT,
        locale="zh-CN",
        device_scale_factor=2,
        geolocation={
            "latitude": gcj02_to_wgs84(*S1)[0],
            "longitude": gcj02_to_wgs84(*S1)[1],
            "accuracy": 20,
        },
    )
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
    await shot(page, "10-network-error")
    await page.locator("#retry").click()
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S1"


async def test_the_page_is_small_and_sent_with_security_headers(site: Any) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(str(site.make_url("/s/any-code"))) as r:
            html = await r.read()
            assert r.status == 200
            csp = r.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src 'self'" in csp
            assert r.headers["X-Frame-Options"] == "DENY"
        total = len(html)
        for asset in ("app.js", "style.css"):
            version = html.split(f"/static/h5/{asset}?v=".encode())[1].split(b'"')[0].decode()
            async with session.get(str(site.make_url(f"/static/h5/{asset}?v={version}"))) as r:
                assert r.status == 200
                assert "immutable" in r.headers["Cache-Control"]
                total += len(await r.read())
        async with session.get(str(site.make_url("/static/h5/../../README.md"))) as r:
            assert r.status == 404
    assert total < 30_000, total  # uncompressed bytes of page, script and style


def test_the_jssdk_signature_matches_wechats_documented_samples() -> None:
    from router.web.pages import wx_signature

    ticket = (
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    )
    assert (
        wx_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )
    assert (
        wx_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com")
        == "f4d90daf4b3bca3078ab155816175ba34c443a7b"
    )


WX = {"wechat_appid": "wx0123456789abcdef", "wechat_jsapi_ticket": "TICKET-0123456789"}


async def test_the_jssdk_config_signs_only_our_own_pages(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    from router.web.pages import wx_signature

    off = await make_client()
    response = await off.get("/api/v1/wx-config?url=http://huoma.test/s/x")
    assert (response.status, (await response.json())["error"]["code"]) == (404, "wx_not_configured")
    page = await (await off.get("/s/x")).text()
    assert "res.wx.qq.com" not in page
    on = await make_client(**WX)
    response = await on.get(
        "/api/v1/wx-config", params={"url": "http://huoma.test/s/counter-1?a=1#frag"}
    )
    body = await response.json()
    assert body["appId"] == WX["wechat_appid"]
    assert body["signature"] == wx_signature(
        WX["wechat_jsapi_ticket"],
        body["nonceStr"],
        body["timestamp"],
        "http://huoma.test/s/counter-1?a=1",
    )
    for bad in ["", "https://evil.example/s/x", "http://huoma.test/admin"]:
        response = await on.get("/api/v1/wx-config", params={"url": bad})
        assert (response.status, (await response.json())["error"]["code"]) == (400, "bad_url")
    response = await on.get("/s/counter-1")
    assert "https://res.wx.qq.com/open/js/jweixin-1.6.0.js" in await response.text()
    assert "script-src 'self' https://res.wx.qq.com" in response.headers["Content-Security-Policy"]


# A stand-in for WeChat's jweixin SDK, following its documented interface: wx.config(...),
# wx.ready(fn), wx.error(fn), wx.getLocation({type, success, fail, cancel}) answering
# {latitude, longitude, speed, accuracy} in the requested system.
async def wechat_context(chromium: Any, sdk: str) -> Any:
    """A phone browser context that says it is WeChat (its user agent), at 375x667, with `sdk`
    served as WeChat's JS-SDK: the real one lives on WeChat's servers, out of reach here."""
    context = await chromium.new_context(
        viewport=VIEWPORT,
        locale="zh-CN",
        device_scale_factor=2,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.50",
    )
    await context.route(
        "https://res.wx.qq.com/**",
        lambda r: r.fulfill(body=sdk, content_type="text/javascript"),
    )
    return context


FAKE_WX = """
window.wx = {
  config: function (c) { window.__wxConfig = c; },
  ready: function (fn) { setTimeout(fn, 0); },
  error: function () {},
  getLocation: function (o) {
    window.__wxAsked = o.type;
    setTimeout(function () { o.success({latitude: %f, longitude: %f, speed: 0, accuracy: 30}); }, 0);
  }
};
"""


async def test_inside_wechat_the_page_asks_wechat_for_a_gcj02_location(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Any
) -> None:
    await seed(
        pool,
        [
            store_row("S1", lat=S1[0], lng=S1[1]),
            store_row("S2", name="来福士店", lat=S2[0], lng=S2[1]),
        ],
        [
            group_row("S1-G1", "S1"),
            group_row("S2-G1", "S2", qr_payload="https://weixin.qq.com/g/PAGE-WX"),
        ],
    )
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The page only gets its own public URL signed: make this server that URL.
    app = create_app(settings.with_(public_base_url=f"http://127.0.0.1:{port}", **WX))
    server = await aiohttp_server(app, port=port)
    context = await wechat_context(chromium, FAKE_WX % S2)
    page = await context.new_page()
    await page.goto(str(server.make_url("/s/counter-1")))
    await page.locator("#result").wait_for(state="visible")
    assert await page.evaluate("window.__wxAsked") == "gcj02"
    assert await page.locator("#store-name").inner_text() == "来福士店"
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-WX"
    await shot(page, "11-wechat")


async def test_an_expired_qr_link_is_replaced_by_asking_again(chromium: Any, site: Any) -> None:
    """A link that no longer works (the page slept past its expiry) makes the page ask again
    once, and the fresh link shows the same store's code."""
    asked: list[str] = []

    async def first_answer_expired(route: Any) -> None:
        asked.append(route.request.url)
        response = await route.fetch()
        body = await response.json()
        if len(asked) == 1:
            body["group"]["qr_url"] = expired_qr_path(body["group"]["qr_url"])
            body["group"]["qr_expires_at"] = int(time.time()) - 5
        await route.fulfill(response=response, json=body)

    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=2)
    page = await context.new_page()
    gone: list[int] = []
    page.on("response", lambda r: gone.append(r.status) if "/qr/" in r.url else None)
    await page.route("**/api/v1/route*", first_answer_expired)
    await page.goto(str(site.make_url("/s/s3-counter")))
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S3"
    assert len(asked) == 2 and gone[0] == 410 and gone[-1] == 200
    # The second request only renews the link: it says so, with the sticky token that holds it.
    assert "renew=" not in asked[0]
    assert "&stk=" in asked[1] and asked[1].endswith("&renew=1")
    await context.close()


async def test_the_page_renews_its_qr_link_before_it_expires(chromium: Any, site: Any) -> None:
    """Left open (a customer comes back to the tab), the page fetches a new link shortly before
    the one on screen stops working; the customer keeps their group."""
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=2)
    page = await context.new_page()
    await page.clock.install()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/route" in r.url else None)
    await page.goto(str(site.make_url("/s/s3-counter")))
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S3"
    first = await page.locator("#qr").get_attribute("src")
    await page.clock.fast_forward("05:00")
    assert len(asked) == 1  # not yet: the link works for ten minutes
    await page.clock.fast_forward("06:00")  # past expiry - 30 s, whichever minute it was
    await page.locator("#result").wait_for(state="visible")
    for _ in range(100):
        if len(asked) == 2 and await page.locator("#qr").get_attribute("src") != first:
            break
        await page.wait_for_timeout(50)
    assert len(asked) == 2
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S3"
    # The renewal says it is one and carries the sticky token: the server records it as a
    # renewal, no scan (tests/http/test_funnel.py has the server's side).
    first_query = parse_qs(urlsplit(asked[0]).query)
    renewal = parse_qs(urlsplit(asked[1]).query)
    assert "renew" not in first_query and "stk" not in first_query
    assert renewal["renew"] == ["1"] and renewal["stk"] and renewal["vid"]
    await context.close()
