"""The ops page shows a dry run's warnings and changes and asks before committing (issue 16):
a workbook with one swapped row and one Baidu-labelled-as-AMap row (the geocoding fake
configured), paged changes, the confirmation, and the template's example row caught."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from geo.coords import Coord, CoordSystem, Shift, to_system
from router.settings import Settings
from router.web.app import create_app
from tests.browser.ops_page import sign_in_with_token
from tests.browser.test_admin_page import shot, xlsx
from tests.conftest import ADMIN_TOKEN, eventually, seed, store_row
from tests.fake_geocoder import KEY, FakeGeocoder

pytestmark = [pytest.mark.db, pytest.mark.browser]
VIEWPORT = {"width": 1440, "height": 900}
PEOPLE = (121.473701, 31.230416)  # 人民广场, AMap (GCJ-02)
HEADER = ["门店编号", "门店名称", "城市", "地址", "经度", "纬度", "坐标系"]


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings) -> Any:
    fake = FakeGeocoder({"人民大道120号": (*PEOPLE, "兴趣点", 11)})
    geocoder = await aiohttp_server(fake.app())
    await seed(pool, [store_row("SH001", name="人民广场店（真实）")], [])
    return await aiohttp_server(
        create_app(
            settings.with_(
                geocode_provider="amap",
                geocode_key=KEY,
                geocode_url=str(geocoder.make_url("")),
                geocode_qps=1000.0,
            )
        )
    )


def workbook() -> bytes:
    amap = Coord(PEOPLE[1], PEOPLE[0], CoordSystem.GCJ02, Shift.MAINLAND)
    baidu = to_system(amap, CoordSystem.BD09, Shift.MAINLAND)
    rows: list[list[Any]] = [HEADER]
    rows.append(["ks-1", "喀什店", "喀什", "x", 39.4704, 75.9897, "高德"])
    rows.append(["SH1", "人民广场店", "上海", "黄浦区人民大道120号", baidu.lng, baidu.lat, "高德"])
    rows.extend(
        [f"S{i:03d}", f"门店{i}", "上海", f"测试路{i}号", 121.40 + i * 0.001, 31.20, "高德"]
        for i in range(150)
    )
    return xlsx(rows)


async def login(chromium: Any, site: Any) -> Any:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(site.make_url("/admin")))
    await sign_in_with_token(page)
    await page.wait_for_selector("#health-table tbody tr")
    await page.click("nav button[data-view=uploads]")
    return context, page, problems


async def test_the_page_shows_the_warnings_and_the_changes_and_asks_before_committing(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    context, page, problems = await login(chromium, site)
    await page.set_input_files(
        "#u-file",
        {
            "name": "门店.xlsx",
            "mimeType": "application/octet-stream",
            "buffer": workbook(),
        },
    )
    await page.click("#u-dry")
    await page.wait_for_selector("#upload-warnings")
    warnings = await page.locator("#upload-warnings tbody").inner_text()
    assert "经纬度可能填反了" in warnings
    assert "坐标可能是百度坐标" in warnings
    assert await page.locator("#upload-warnings tbody tr").count() == 2
    caption = await page.locator("#upload-changes caption").inner_text()
    assert "新增 152" in caption and "有警告 2" in caption
    assert await page.locator("#upload-changes tbody tr").count() == 100
    assert not await page.is_enabled("#u-commit")  # not before ops confirm
    # The change table's warnings in words, each code as its tooltip (trial report, item 5).
    swapped = page.locator("#upload-changes tr[data-id=ks-1] td.warn .warning")
    assert "经纬度可能填反了" in await swapped.inner_text()
    assert await swapped.get_attribute("title") == "swapped_coordinates"
    assert "swapped_coordinates" not in await page.locator("#upload-changes tbody").inner_text()
    # The dry run's line says the warnings need confirming, not a green "ready" (item 9).
    assert await page.locator("#u-result p.ok").count() == 0
    outcome = await page.locator("#upload-outcome").inner_text()
    assert "有 2 处警告" in outcome and "勾选确认" in outcome and "可以确认导入" not in outcome
    await shot(page, "60-upload-warnings-and-changes")

    await page.click("#u-changes-next")
    await page.wait_for_selector("#upload-changes tbody tr[data-id=S149]")
    assert await page.locator("#upload-changes tbody tr").count() == 52
    assert "第 101-152 条，共 152 条" in await page.locator("#u-changes-page").inner_text()
    await shot(page, "61-upload-changes-second-page")

    await page.check("#u-accept")
    assert await page.is_enabled("#u-commit")
    await page.click("#u-commit")

    async def stored() -> Any:
        return await pool.fetchval("SELECT count(*) FROM stores") == 153 or None

    await eventually(stored, within=30)
    await page.wait_for_selector("#u-result p.ok")
    await shot(page, "62-upload-confirmed-and-committed")
    assert problems == []
    await context.close()


async def test_the_templates_example_row_is_caught_before_it_overwrites_a_real_store(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    context, page, problems = await login(chromium, site)
    client_body = await page.evaluate(
        """async (token) => {
            const r = await fetch('/admin/api/templates/stores.xlsx',
                                  {headers: {Authorization: 'Bearer ' + token}});
            return Array.from(new Uint8Array(await r.arrayBuffer()));
        }""",
        ADMIN_TOKEN,
    )
    await page.set_input_files(
        "#u-file",
        {"name": "模板.xlsx", "mimeType": "application/octet-stream", "buffer": bytes(client_body)},
    )
    await page.click("#u-dry")
    await page.wait_for_selector("#upload-warnings")
    text = await page.locator("#upload-warnings tbody").inner_text()
    assert "这是模板里的示例行，会覆盖已有的「SH001」" in text
    changed = page.locator("#upload-changes tbody tr[data-id=SH001]")
    assert "人民广场店（真实） → 人民广场店" in await changed.inner_text()
    assert not await page.is_enabled("#u-commit")
    await shot(page, "63-upload-template-example-row-caught")
    assert (
        await pool.fetchval("SELECT name FROM stores WHERE store_id='SH001'")
        == "人民广场店（真实）"
    )
    assert problems == []
    await context.close()
