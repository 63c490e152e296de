"""The customer page made from the brand, in real headless Chromium at 375x667: with a brand
(logo, colour, offer, captions, footer), without one (the defaults), with an entry code's campaign
copy. The QR on each screen is decoded; screenshots land in test-artifacts/h5/."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from PIL import Image, ImageDraw

from router.web.app import create_app
from tests.browser.test_h5 import open_page, qr_text, shot
from tests.conftest import group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

S1 = (31.2304, 121.4737)
RED = "#c8102e"


def logo_file(folder: Path) -> Path:
    image = Image.new("RGB", (900, 300), "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 280, 280), fill=RED)
    draw.rectangle((320, 100, 880, 200), fill="#1a1a1a")
    path = folder / "logo.jpg"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    path.write_bytes(out.getvalue())
    return path


async def seeded(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [store_row("S1", name="人民广场店", lat=S1[0], lng=S1[1], address="人民大道 100 号")],
        [group_row("S1-G1", "S1", qr_payload="https://weixin.qq.com/g/BRAND-S1")],
    )
    await pool.execute(
        "INSERT INTO entries (code, kind, store_id, campaign) "
        "VALUES ('poster-618', 'poster', NULL, '618 海报专享：进群再领一张免单券')"
    )


BRANDED = {
    "brand_name": "示例咖啡",
    "brand_theme_colour": RED,
    "brand_offer": "进群领3张8折券",
    "brand_caption_group": "长按识别，进群领3张8折券",
    "brand_footer": "示例咖啡 · 客服热线 400-000-0000",
}


@pytest.fixture
async def branded(pool: asyncpg.Pool, aiohttp_server: Any, settings: Any, tmp_path: Path) -> Any:
    await seeded(pool)
    app = create_app(settings.with_(brand_logo_path=str(logo_file(tmp_path)), **BRANDED))
    return await aiohttp_server(app)


@pytest.fixture
async def plain(pool: asyncpg.Pool, aiohttp_server: Any, settings: Any) -> Any:
    await seeded(pool)
    return await aiohttp_server(create_app(settings))


async def colour_of(page: Any, selector: str, prop: str) -> str:
    value: str = await page.locator(selector).evaluate(
        f"el => getComputedStyle(el).getPropertyValue('{prop}')"
    )
    return value


async def test_the_page_wears_the_brand(chromium: Any, branded: Any) -> None:
    page = await open_page(chromium, branded, "/s/counter-1", at=S1)
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator(".brand-name").inner_text() == "示例咖啡"
    assert await page.locator(".offer").inner_text() == "进群领3张8折券"
    assert await page.title() == "示例咖啡"
    assert await page.locator("#hint").inner_text() == "长按识别，进群领3张8折券"
    assert "400-000-0000" in await page.locator("footer").inner_text()
    assert await colour_of(page, ".brand", "background-color") == "rgb(200, 16, 46)"
    logo = page.locator(".brand img")
    for _ in range(100):
        if await logo.evaluate("el => el.complete && el.naturalWidth > 0"):
            break
        await page.wait_for_timeout(50)
    assert await logo.evaluate("el => el.naturalWidth") == 192
    assert await qr_text(page) == "https://weixin.qq.com/g/BRAND-S1"
    origin = str(branded.make_url("/"))
    assert all(u.startswith(origin) for u in page.requests), page.requests
    await shot(page, "30-branded")


async def test_without_a_brand_the_page_has_sensible_defaults(chromium: Any, plain: Any) -> None:
    page = await open_page(chromium, plain, "/s/counter-1", at=S1)
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator(".brand-name").inner_text() == "门店福利群"
    assert not await page.locator(".offer").is_visible()
    assert not await page.locator("footer").is_visible()
    assert await page.locator(".brand img").count() == 0
    assert await page.locator("#hint").inner_text() == "长按识别二维码，加入门店福利群"
    assert await qr_text(page) == "https://weixin.qq.com/g/BRAND-S1"
    # No request beyond today's before the QR: the page, its script and style, the answer, the
    # image (the brand's look is inside the one stylesheet).
    kinds = sorted(u.split("?")[0].rsplit("/", 1)[-1] for u in page.requests)
    assert len(page.requests) == 5, kinds
    await shot(page, "31-no-brand")


async def test_the_location_purpose_is_said_before_asking(chromium: Any, plain: Any) -> None:
    context = await chromium.new_context(viewport={"width": 375, "height": 667}, locale="zh-CN")
    await context.add_init_script("navigator.geolocation.getCurrentPosition = function () {};")
    page = await context.new_page()
    await page.goto(str(plain.make_url("/s/counter-1")))
    await page.locator("#busy").wait_for(state="visible")
    assert "不保存您的位置" in await page.locator(".purpose").inner_text()
    await shot(page, "32-purpose")
    await context.close()


async def test_an_entry_codes_campaign_copy_is_shown_above_the_store(
    chromium: Any, branded: Any
) -> None:
    page = await open_page(chromium, branded, "/s/poster-618", at=S1)
    await page.locator("#result").wait_for(state="visible")
    assert await page.locator("#campaign").inner_text() == "618 海报专享：进群再领一张免单券"
    assert await qr_text(page) == "https://weixin.qq.com/g/BRAND-S1"
    await shot(page, "33-campaign")
    other = await open_page(chromium, branded, "/s/counter-1", at=S1)
    await other.locator("#result").wait_for(state="visible")
    assert not await other.locator("#campaign").is_visible()
