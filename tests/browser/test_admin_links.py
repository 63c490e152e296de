"""The store links screen of the ops page, in real headless Chromium at 1440x900: an admin chooses a
region's stores, issues their links as a sheet, prints one store's QR code (which opens that
store's page) and revokes its links; an editor limited to a region sees only its regions and
cannot reach another's store nor revoke every link; a viewer has no such screen. Screenshots land
in test-artifacts/admin/links-*.png."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import zxingcpp
from PIL import Image

from router.settings import Settings
from router.web.app import create_app
from tests.accounts import PASSWORD, make_account
from tests.browser.ops_page import seed_two_regions
from tests.conftest import ARTIFACTS_ROOT

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "admin"
VIEWPORT = {"width": 1440, "height": 900}


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings) -> Any:
    await seed_two_regions(pool, settings)
    await make_account(pool, "sh-editor", "editor", ("上海",))
    await make_account(pool, "look", "viewer")
    return await aiohttp_server(create_app(settings))


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"links-{name}.png"), full_page=True)


async def open_links(chromium: Any, site: Any, username: str) -> Any:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", accept_downloads=True)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.problems = problems
    await page.goto(str(site.make_url("/admin")))
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#health-table tbody tr")
    return page


async def page_of(site: Any, link: str) -> int:
    """The status the store page's API answers a link with."""
    token = link.split("#t=", 1)[1]
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            str(site.make_url("/admin/api/link/store")),
            headers={"Authorization": f"StoreLink {token}"},
        ) as response,
    ):
        return response.status


async def test_an_admin_issues_a_regions_links_prints_a_qr_and_revokes(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    page = await open_links(chromium, site, "boss")
    await page.click("nav button[data-view=links]")
    await page.wait_for_selector("#l-regions input[value=北京]", state="attached")
    await page.locator("#l-count", has_text="将为 3 个门店签发链接").wait_for()
    # By region: 上海's two stores.
    await page.check("input[name=l-by][value=regions]")
    await page.check("#l-regions input[value=上海]")
    await page.locator("#l-count", has_text="将为 2 个门店").wait_for()
    listed = await page.locator("#l-stores .links-store").evaluate_all(
        "els => els.map(e => e.getAttribute('data-store'))"
    )
    assert listed == ["SH1", "SH2"]
    assert await page.locator("#l-revoke-all").is_visible()
    await shot(page, "01-admin-region-chosen")
    await page.select_option("#l-format", "csv")
    async with page.expect_download() as download:
        await page.click("#l-issue")
    saved = Path(await (await download.value).path())
    sheet = (await asyncio.to_thread(saved.read_bytes)).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(sheet)))
    # The sheet speaks the page's language (门店编号, ...; expiry in local time).
    assert [r["门店编号"] for r in rows] == ["SH1", "SH2"]
    await page.locator("#flash", has_text="已签发 2 个门店的链接").wait_for()
    assert await page_of(site, rows[0]["链接"]) == 200

    # One store's QR code, for its back office: it opens that store's page.
    await page.locator("#l-stores [data-store=SH1] button").click()
    img = page.locator("#l-qr-img")
    await img.wait_for(state="visible")
    for _ in range(100):  # the page's CSP forbids the eval behind wait_for_function
        if await img.evaluate("el => el.complete && el.naturalWidth > 0"):
            break
        await page.wait_for_timeout(50)
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(await img.screenshot())))
    assert re.match(r"http://huoma\.test/store/#t=", code.text)
    assert await page_of(site, code.text) == 200
    assert "SH1" in await page.locator("#l-qr-caption").inner_text()
    await shot(page, "02-admin-store-qr")

    # Revoking the store's links ends the sheet's link and the QR code's.
    await page.click("#l-revoke")
    await page.locator("#flash", has_text="门店 SH1 的链接已作废").wait_for()
    assert await page_of(site, rows[0]["链接"]) == 401
    assert await page_of(site, code.text) == 401
    assert await page_of(site, rows[1]["链接"]) == 200
    # Every link at once.
    await page.click("#l-revoke-all")
    await page.locator("#flash", has_text="所有门店链接已作废").wait_for()
    assert await page_of(site, rows[1]["链接"]) == 401
    kinds = await pool.fetch("SELECT kind, actor FROM audit_log ORDER BY id")
    assert ("store_link.revoke_all", "boss") in [(r["kind"], r["actor"]) for r in kinds]
    # In English too.
    await page.click("#lang")
    assert await page.locator("nav button[data-view=links]").inner_text() == "Store links"
    assert await page.locator("#l-revoke-all").inner_text() == "Revoke every link"
    assert page.problems == []


async def test_a_regional_editor_reaches_only_its_regions_links(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    page = await open_links(chromium, site, "sh-editor")
    await page.click("nav button[data-view=links]")
    await page.wait_for_selector("#l-regions input[value=上海]", state="attached")
    assert await page.locator("#l-regions input").count() == 1  # not 北京
    await page.locator("#l-count", has_text="将为 2 个门店签发链接").wait_for()
    assert not await page.locator("#l-revoke-all").is_visible()
    # A store of another region is answered as if it did not exist.
    await page.check("input[name=l-by][value=ids]")
    await page.fill("#l-ids", "SH2\nBJ1")
    await page.click("#l-preview")
    await page.locator("#l-error", has_text="没有这些门店").wait_for()
    assert "BJ1" in await page.locator("#l-error").inner_text()
    await page.fill("#l-store", "BJ1")
    await page.click("#l-qr")
    await page.locator("#flash", has_text="没有门店 BJ1").wait_for()
    assert not await page.locator("#l-print").is_visible()
    await shot(page, "03-regional-editor")
    # Its own store is fine.
    await page.fill("#l-ids", "SH2")
    await page.click("#l-preview")
    await page.locator("#l-count", has_text="将为 1 个门店").wait_for()
    assert await page.locator("#l-error").is_hidden()
    assert page.problems == []

    viewer = await open_links(chromium, site, "look")
    assert not await viewer.locator("nav button[data-view=links]").is_visible()
