"""A pale theme colour (the trial's #FFE14D) in real headless Chromium: on the customer page at
375x667 the links (到店导航, 不是这家店？) and any button read at 4.5:1 against what is behind them;
the brand screen at 1440x900 warns that the colour was adjusted. Screenshots land in
test-artifacts/brand-contrast/."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from router.settings import Settings
from router.web.app import create_app
from tests.accounts import PASSWORD, make_account
from tests.browser.test_h5 import open_page
from tests.conftest import ARTIFACTS_ROOT, group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "brand-contrast"
PALE = "#ffe14d"
S1 = (31.2304, 121.4737)

# The contrast of an element's text colour against the first opaque background behind it, as
# the browser computes both (WCAG relative luminance).
CONTRAST_JS = """el => {
  const rgb = s => s.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const lum = c => {
    const ch = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
  };
  let bg = null;
  for (let n = el; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length < 4 || c[3] > 0) { bg = c; break; }
  }
  bg = bg || [255, 255, 255];
  const fg = rgb(getComputedStyle(el).color);
  const a = lum(fg), b = lum(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


async def shot(page: Any, name: str, full: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


@pytest.fixture
async def pale(pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings) -> Any:
    await seed(
        pool,
        [store_row("S1", name="人民广场店", lat=S1[0], lng=S1[1], address="人民大道 100 号")],
        [group_row("S1-G1", "S1", qr_payload="https://weixin.qq.com/g/PALE-S1")],
    )
    return await aiohttp_server(create_app(settings.with_(brand_theme_colour=PALE)))


async def test_links_and_buttons_stay_readable_on_a_pale_theme_colour(
    chromium: Any, pale: Any
) -> None:
    page = await open_page(chromium, pale, "/s/counter-1", at=S1)
    await page.locator("#result").wait_for(state="visible")
    await page.locator("#not-this").wait_for(state="visible")
    for selector in ("#nav", "#not-this"):
        ratio = await page.locator(selector).evaluate(CONTRAST_JS)
        assert ratio >= 4.5, (selector, ratio)
    # The header keeps the brand's own colour (its text adapts instead).
    header = await page.locator(".brand").evaluate("el => getComputedStyle(el).backgroundColor")
    assert header == "rgb(255, 225, 77)"
    assert await page.locator(".brand").evaluate(CONTRAST_JS) >= 4.5
    # Every visible button or link of the page's first screen reads too.
    for el in await page.locator("button:visible, a:visible").all():
        assert await el.evaluate(CONTRAST_JS) >= 4.5, await el.inner_text()
    await shot(page, "01-h5-pale-theme")
    await page.context.close()


async def test_the_brand_screen_warns_when_the_colour_was_adjusted(
    chromium: Any, pale: Any, pool: asyncpg.Pool
) -> None:
    await make_account(pool, "brand-admin", "admin")
    context = await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(str(pale.make_url("/admin")))
    await page.fill("#username", "brand-admin")
    await page.fill("#password", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#health-table tbody tr")
    await page.click("nav button[data-view=brand]")
    await page.wait_for_selector("#brand-contrast")
    text = await page.locator("#brand-contrast").inner_text()
    assert PALE in text and "4.5:1" in text and "加深" in text
    await shot(page, "02-brand-screen-warning", full=True)
    # A colour that reads as it is: no warning.
    await page.fill("#br-theme_colour", "#0a7d5a")
    await page.click("#brand-save")

    async def gone() -> bool:
        return bool(await page.locator("#brand-contrast").count() == 0)

    await page.wait_for_function("() => !document.querySelector('#brand-contrast')")
    assert await gone()
    await context.close()
