"""The ops page offers each principal only the screens its role may use, from the who-am-I
answer, in real headless Chromium at 1440x900: an admin of every region sees every screen; a
regional editor neither settings, audit, brand nor accounts (and a #hash does not reach them),
but store links and its city's stores however the city is spelled; a viewer no store links
either. Screenshots land in test-artifacts/admin/roles-*.png."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from router.keeper import sweep as keeper
from router.keeper.providers import OpsProvider
from router.settings import Settings
from router.web.app import create_app
from tests.accounts import PASSWORD, make_account
from tests.conftest import ARTIFACTS_ROOT, group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "admin"
VIEWPORT = {"width": 1440, "height": 900}
CHENGDU = {"city": "成都", "lat": 30.66, "lng": 104.06}
EVERY = ["health", "uploads", "alerts", "entries", "funnel"]
ADMIN_ONLY = ["settings", "audit", "accounts", "brand"]


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings) -> Any:
    await seed(
        pool,
        [
            store_row("CD1", name="春熙路店", **CHENGDU),
            store_row("CD2", name="宽窄巷子店", **CHENGDU),
            store_row("880103", name="太古里店", **{**CHENGDU, "city": "成都市"}),
            store_row("SH1", name="人民广场店", city="上海"),
        ],
        [group_row("G1", "CD1"), group_row("G2", "CD2"), group_row("G3", "880103")],
    )
    await keeper.sweep(pool, settings, OpsProvider())
    await make_account(pool, "boss", "admin")
    await make_account(pool, "chengdu-ops", "editor", ("成都",))
    await make_account(pool, "looker", "viewer")
    return await aiohttp_server(create_app(settings))


async def open_signed_in(chromium: Any, site: Any, username: str, hash_: str = "") -> Any:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    await page.goto(str(site.make_url("/admin" + hash_)))
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#health-table tbody tr")
    return page


async def offered(page: Any) -> list[str]:
    return [
        await b.get_attribute("data-view")
        for b in await page.locator("#nav button").all()
        if await b.is_visible()
    ]


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"roles-{name}.png"))


async def test_each_role_is_offered_only_the_screens_it_may_use(chromium: Any, site: Any) -> None:
    admin = await open_signed_in(chromium, site, "boss")
    assert sorted(await offered(admin)) == sorted([*EVERY, *ADMIN_ONLY, "links"])
    await shot(admin, "01-admin")

    editor = await open_signed_in(chromium, site, "chengdu-ops", "#settings")
    assert sorted(await offered(editor)) == sorted([*EVERY, "links"])
    # Asked for by its #hash, a screen the role may not use is not shown: the health list is.
    assert await editor.locator("#v-settings").is_hidden()
    assert await editor.locator("#v-health").is_visible()
    # Its city's stores, however the city is spelled (the trial's 880103 written 成都市).
    rows = editor.locator("#health-table tbody tr[data-store]")
    assert sorted([await r.get_attribute("data-store") for r in await rows.all()]) == [
        "880103",
        "CD1",
        "CD2",
    ]
    await shot(editor, "02-regional-editor")
    await editor.evaluate("location.hash = '#audit'")
    await editor.click("nav button[data-view=links]")
    await editor.wait_for_selector("#v-links:not([hidden])")
    assert await editor.locator("#v-audit").is_hidden()

    viewer = await open_signed_in(chromium, site, "looker")
    assert sorted(await offered(viewer)) == sorted(EVERY)
    await shot(viewer, "03-viewer")
    for page in (admin, editor, viewer):
        assert page.problems == []


async def test_the_health_city_filter_finds_every_spelling_of_the_city(
    chromium: Any, site: Any
) -> None:
    admin = await open_signed_in(chromium, site, "boss")
    await admin.fill("#h-city", "成都市")
    await admin.click("#v-health button[type=submit]")
    await admin.wait_for_selector("#health-table tbody tr[data-store=SH1]", state="detached")
    rows = admin.locator("#health-table tbody tr[data-store]")
    assert sorted([await r.get_attribute("data-store") for r in await rows.all()]) == [
        "880103",
        "CD1",
        "CD2",
    ]
    await shot(admin, "04-city-filter")
