"""The ops page's brand screen in real headless Chromium at 1440x900: an admin sets the name,
theme colour, offer line and a logo (a bad colour refused in words, the preview following what is
typed); then the customer page at 375x667 wears them, and its QR is decoded from the screenshot.
In the entry codes screen: an entry code's campaign copy, its print sheet downloaded, and the
all-stores print job started, followed and downloaded. Screenshots land in
test-artifacts/admin-brand/ (the admin page) and test-artifacts/h5/ (the customer page)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from router.settings import Settings
from router.web.app import create_app
from tests.accounts import PASSWORD, make_account
from tests.browser.test_h5 import open_page, qr_text
from tests.browser.test_h5 import shot as phone_shot
from tests.conftest import ARTIFACTS_ROOT, group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "admin-brand"
VIEWPORT = {"width": 1440, "height": 900}
S1 = (31.2304, 121.4737)
GREEN = "#0a7d5a"


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def logo_file(folder: Path) -> Path:
    image = Image.new("RGB", (1200, 400), "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.ellipse((30, 30, 370, 370), fill=GREEN)
    draw.rectangle((430, 150, 1170, 250), fill="#1a1a1a")
    path = folder / "logo.png"
    image.save(path, "PNG")
    return path


def watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    return problems


async def signed_in(chromium: Any, site: Any, pool: asyncpg.Pool) -> tuple[Any, Any, list[str]]:
    """An admin account signed in on the ops page."""
    await make_account(pool, "brand-admin", "admin")
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", accept_downloads=True)
    page = await context.new_page()
    problems = watch(page)
    await page.goto(str(site.make_url("/admin")))
    await page.fill("#username", "brand-admin")
    await page.fill("#password", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#health-table tbody tr")
    return context, page, problems


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings) -> Any:
    await seed(
        pool,
        [store_row("S1", name="人民广场店", lat=S1[0], lng=S1[1], address="人民大道 100 号")],
        [group_row("S1-G1", "S1", qr_payload="https://weixin.qq.com/g/BRAND-S1")],
    )
    await pool.execute(
        "INSERT INTO entries (code, kind, store_id) VALUES ('poster-618', 'poster', NULL)"
    )
    return await aiohttp_server(create_app(settings.with_(print_poll_s=0.2)))


async def test_an_admin_brands_the_customer_page_from_the_brand_screen(
    chromium: Any, site: Any, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    context, page, problems = await signed_in(chromium, site, pool)
    await page.click("nav button[data-view=brand]")
    await page.wait_for_selector("#brand-form #br-name")
    assert await page.locator("#brand-form .badge.off").count() == 9  # all from the environment
    assert await page.locator("#v-settings").is_hidden()
    await shot(page, "01-brand-defaults")

    await page.fill("#br-name", "示例咖啡")
    await page.fill("#br-offer", "进群领3张8折券")
    # A bad colour is refused in words; nothing is stored.
    await page.fill("#br-theme_colour", "green")
    await page.click("#brand-save")
    await page.locator("#brand-error:not([hidden])").wait_for()
    assert "主题色须为 #rrggbb" in (await page.text_content("#brand-error") or "")
    assert await pool.fetchval("SELECT count(*) FROM ops_settings") == 0
    await shot(page, "02-brand-refused")

    # The preview follows what is typed: the header in the colour, the name and the offer.
    await page.fill("#br-theme_colour", GREEN)
    preview = page.locator("#br-preview .pv-brand")
    assert await preview.evaluate("el => getComputedStyle(el).backgroundColor") == (
        "rgb(10, 125, 90)"
    )
    assert await page.text_content("#pv-name") == "示例咖啡"
    assert await page.text_content("#pv-offer") == "进群领3张8折券"
    await page.click("#brand-save")
    await page.locator("#brand-form .badge:not(.off)").first.wait_for()
    assert await page.locator("#brand-form .badge:not(.off)").count() == 3

    # The logo: chosen, previewed, uploaded, stored re-encoded small.
    await page.set_input_files("#br-logo-file", str(logo_file(tmp_path)))
    await page.click("#br-logo-upload")
    await page.wait_for_selector("#br-logo-img")
    img = page.locator("#pv-logo")
    for _ in range(100):
        if await img.evaluate("el => el.complete && el.naturalWidth > 0"):
            break
        await page.wait_for_timeout(50)
    assert await img.evaluate("el => el.naturalWidth") == 192
    assert await pool.fetchval("SELECT count(*) FROM brand_logos") == 1
    await shot(page, "03-brand-saved")
    # English is available.
    await page.click("#lang")
    await page.click("nav button[data-view=brand]")
    await page.wait_for_selector("#brand-form #br-name")
    assert "set by ops" in (await page.text_content("#brand-form") or "")
    await shot(page, "04-brand-en")
    assert problems == []
    await context.close()

    # The customer page wears it; its QR is read from the screenshot of the phone's screen.
    phone = await open_page(chromium, site, "/s/counter-1", at=S1)
    await phone.locator("#result").wait_for(state="visible")
    assert await phone.locator(".brand-name").inner_text() == "示例咖啡"
    assert await phone.locator(".offer").inner_text() == "进群领3张8折券"
    assert await phone.title() == "示例咖啡"
    colour = await phone.locator(".brand").evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(10, 125, 90)"
    logo = phone.locator(".brand img")
    for _ in range(100):
        if await logo.evaluate("el => el.complete && el.naturalWidth > 0"):
            break
        await phone.wait_for_timeout(50)
    assert await logo.evaluate("el => el.naturalWidth") == 192
    assert await qr_text(phone) == "https://weixin.qq.com/g/BRAND-S1"
    await phone_shot(phone, "40-branded-by-an-admin")
    screen = await phone.screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(screen)))
    assert [f.text for f in found] == ["https://weixin.qq.com/g/BRAND-S1"]
    origin = str(site.make_url("/"))
    assert all(u.startswith(origin) for u in phone.requests), phone.requests


async def test_campaign_copy_print_sheets_and_the_all_stores_job_from_the_entries_screen(
    chromium: Any, site: Any, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    context, page, problems = await signed_in(chromium, site, pool)
    await page.click("nav button[data-view=entries]")
    entry = page.locator(".entry[data-code=poster-618]")
    await entry.wait_for()
    assert await entry.locator(".br-campaign-now").inner_text() == "无活动文案"
    await entry.locator(".br-campaign-input").fill("618 海报专享：进群再领一张免单券")
    await entry.get_by_role("button", name="保存文案").click()
    await page.wait_for_selector("#flash:has-text('poster-618')")
    assert await pool.fetchval("SELECT campaign FROM entries WHERE code = 'poster-618'") == (
        "618 海报专享：进群再领一张免单券"
    )
    assert (
        await entry.locator(".br-campaign-now").inner_text() == "618 海报专享：进群再领一张免单券"
    )

    # The entry code's A6 sheet: a PDF.
    async with page.expect_download() as sheet:
        await entry.locator(".br-sheets button[data-size=a6]").click()
    path = tmp_path / "entry-a6.pdf"
    await (await sheet.value).save_as(path)
    assert path.read_bytes()[:5] == b"%PDF-"
    assert (await sheet.value).suggested_filename == "huoma-entry-poster-618-a6.pdf"
    await shot(page, "05-entries-campaign-print")

    # All stores at once: started, followed, downloaded.
    await page.select_option("#print-size", "a5")
    await page.click("#print-start")
    download = page.locator("#print-download")
    await download.wait_for(timeout=90_000)
    assert "已完成" in (await page.text_content("#print-status") or "")
    await shot(page, "06-print-all-done")
    async with page.expect_download() as job:
        await download.click()
    path = tmp_path / "all.pdf"
    await (await job.value).save_as(path)
    assert path.read_bytes()[:5] == b"%PDF-"

    # A store's sheets from its detail row in the health screen.
    await page.click("nav button[data-view=health]")
    await page.click("#health-table tr[data-store=S1]")
    sheets = page.locator("tr.detail .br-sheets")
    await sheets.wait_for()
    async with page.expect_download() as store:
        await sheets.locator("button[data-size=a5]").click()
    assert (await store.value).suggested_filename.endswith("-a5.pdf")
    await shot(page, "07-store-print")
    assert problems == []
    await context.close()
