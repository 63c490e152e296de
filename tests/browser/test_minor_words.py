"""Small things the trial found (item 9): the store link's page does not offer "此群已满" for a
group already full, and an empty health search says nothing was found. Real headless Chromium:
the phone page at 375x667, the ops page at 1440x900; screenshots in test-artifacts/minor-words/."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import asyncpg
import pytest

from router.web.app import create_app
from tests.browser.ops_page import sign_in_with_token
from tests.conftest import ARTIFACTS_ROOT, AUTH, group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "minor-words"


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_a_full_group_is_not_offered_as_full_again(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Any
) -> None:
    await seed(
        pool,
        [store_row("S1", name="人民广场店")],
        [
            group_row("G1", "S1", name="人民广场 1 群", member_count=12),
            group_row("G2", "S1", name="人民广场 2 群", position=1, member_count=200),
        ],
    )
    site = await aiohttp_server(create_app(settings))
    async with aiohttp.ClientSession() as http:
        issued = await http.post(
            str(site.make_url("/admin/api/store-links")), json={"store_ids": ["S1"]}, headers=AUTH
        )
        assert issued.status == 200
        sheet = (await issued.read()).decode("utf-8-sig")
    fragment = re.search(r"/store/(#t=[^\r\n,]+)", sheet)
    assert fragment is not None
    phone = await chromium.new_context(viewport={"width": 375, "height": 667}, locale="zh-CN")
    staff = await phone.new_page()
    await staff.goto(str(site.make_url("/store/")) + fragment[1])
    g1 = staff.locator("li.group[data-group=G1]")
    g2 = staff.locator("li.group[data-group=G2]")
    await g1.wait_for(state="visible")
    # G2 has its capacity of members already: no "此群已满" for it; G1 has one.
    assert "已满" in await g2.locator(".facts").inner_text()
    assert await g2.locator("button.full").count() == 0
    assert await g1.locator("button.full").count() == 1
    # Marked full from the page: the button goes.
    await g1.locator("button.full").click()
    await staff.locator("#status", has_text="已标记为满").wait_for()
    await staff.wait_for_function(
        "() => !document.querySelector('li.group[data-group=G1] button.full')"
    )
    assert "已满" in await g1.locator(".facts").inner_text()
    await shot(staff, "01-store-page-full-groups")
    await phone.close()


async def test_an_empty_health_search_says_nothing_was_found(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Any
) -> None:
    await seed(pool, [store_row("S1", name="人民广场店")], [group_row("G1")])
    site = await aiohttp_server(create_app(settings))
    context = await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(str(site.make_url("/admin")))
    await sign_in_with_token(page)
    await page.wait_for_selector("#health-table tbody tr.store")
    assert await page.locator("#health-empty").count() == 0
    await page.fill("#h-q", "880103")
    await page.press("#h-q", "Enter")
    await page.wait_for_selector("#health-empty")
    assert await page.locator("#health-table tbody tr.store").count() == 0
    assert "没有找到" in await page.locator("#health-empty").inner_text()
    await shot(page, "02-health-none-found")
    await context.close()
