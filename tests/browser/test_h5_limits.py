"""The customer page when the service says "not so fast", and when location stays refused, in
real headless Chromium at 375x667 against the real server: a customer comparing stores by hand
keeps the QR they have and is told honestly they switch too fast (its own error code, not the
scan limit's spinner); 重新定位 with location still refused says so and how to allow it, then
offers the picker. Screenshots land in test-artifacts/h5/limits-*.png."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from router.web.app import create_app
from tests.browser.test_h5 import S1, S2, VIEWPORT, open_page, qr_text
from tests.conftest import ARTIFACTS_ROOT, group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "h5"


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Any) -> Any:
    await seed(
        pool,
        [
            store_row("S1", name="人民广场店", lat=S1[0], lng=S1[1], address="人民大道 100 号"),
            store_row("S2", name="来福士店", lat=S2[0], lng=S2[1], address="西藏中路 268 号"),
        ],
        [
            group_row("S1-G1", "S1", qr_payload="https://weixin.qq.com/g/PAGE-S1"),
            group_row("S2-G1", "S2", qr_payload="https://weixin.qq.com/g/PAGE-S2"),
        ],
    )
    # Two picks at once, then one a minute: the third pick within the minute is refused.
    return await aiohttp_server(
        create_app(settings.with_(rate_picks_visitor_burst=2, rate_picks_per_visitor=1))
    )


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"limits-{name}.png"))


async def pick_other(page: Any, name: str) -> None:
    """不是这家店？ then the store named, from the nearby list or the picker's search."""
    await page.locator("#not-this").click()
    shown = page.locator("#choose:not([hidden]), #picker:not([hidden])")
    await shown.wait_for(state="visible")
    if await shown.get_attribute("id") == "choose":
        await page.locator("#choices button", has_text=name).click()
    else:
        await page.locator("#q").fill(name[:3])
        await page.locator("#stores button", has_text=name).click()


async def test_switching_stores_too_fast_keeps_the_qr_and_says_so(chromium: Any, site: Any) -> None:
    page = await open_page(chromium, site, "/s/counter-1", at=S1)
    await page.locator("#result").wait_for(state="visible")
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S1"
    answers: list[tuple[int, str]] = []

    async def seen(response: Any) -> None:
        if "/api/v1/route" in response.url and "store=" in response.url:
            body = await response.json()
            answers.append((response.status, body.get("error", {}).get("code", "")))

    page.on("response", seen)
    for name, payload in (("来福士店", "PAGE-S2"), ("人民广场店", "PAGE-S1")):
        await pick_other(page, name)
        await page.locator("#store-name", has_text=name).wait_for(state="visible")
        assert await qr_text(page) == f"https://weixin.qq.com/g/{payload}"
    await pick_other(page, "来福士店")
    note = page.locator("#limited")
    await note.wait_for(state="visible")
    assert "您切换门店太频繁" in await note.inner_text()
    assert answers[-1] == (429, "picks_limited")
    # The QR the customer had is still on screen and still scans; no spinner, no auto-retry.
    assert await page.locator("#result").is_visible()
    assert await page.locator("#busy").is_hidden()
    assert await page.locator("#store-name").inner_text() == "人民广场店"
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S1"
    await shot(page, "01-switching-too-fast")
    assert len(answers) == 3


async def test_relocating_while_location_is_still_refused_says_how_to_allow_it(
    chromium: Any, site: Any
) -> None:
    page = await open_page(chromium, site, "/s/counter-1", grant=False)
    await page.locator("#picker").wait_for(state="visible")
    note = page.locator("#picker-note")
    assert "没有获取到您的位置" in await note.inner_text()
    await page.locator("#relocate").click()
    await note.filter(has_text="仍然没有获取到您的位置").wait_for(state="visible")
    text = await note.inner_text()
    assert "右上角 ··· → 设置 → 位置" in text and "手机的“设置”" in text
    # Then the picker is offered, and asking once more still answers.
    assert await page.locator("#city").is_visible() and await page.locator("#q").is_visible()
    assert await page.locator("#relocate").is_visible()
    await shot(page, "02-still-refused")
    await page.locator("#q").fill("来福士")
    await page.locator("#stores button", has_text="来福士店").click()
    await page.locator("#result").wait_for(state="visible")
    assert await qr_text(page) == "https://weixin.qq.com/g/PAGE-S2"


async def test_in_english_too(chromium: Any, site: Any) -> None:
    page = await open_page(chromium, site, "/s/counter-1", grant=False, locale="en-US")
    await page.locator("#picker").wait_for(state="visible")
    await page.locator("#relocate").click()
    note = page.locator("#picker-note")
    await note.filter(has_text="still could not get your location").wait_for(state="visible")
    assert "Settings → Location" in await note.inner_text()
    assert VIEWPORT == {"width": 375, "height": 667}
