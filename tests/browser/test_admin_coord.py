"""The ops page asks for a file's coordinate source when the file has no coord column."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.browser.ops_page import sign_in_with_token
from tests.browser.test_admin_page import shot
from tests.browser.test_admin_page import site as site  # the fixture, shared
from tests.conftest import eventually

pytestmark = [pytest.mark.db, pytest.mark.browser]

# Heytea's Hong Kong list as AMap gives it: GCJ-02, shifted in Hong Kong too; no coord column.
AMAP_LIST = "store_id,name,city,address,lat,lng\r\nHK-TS,时代广场店,香港,勿地臣街1号,22.275537,114.18713\r\n"


async def test_a_file_without_a_coord_column_is_imported_with_the_source_chosen_on_the_page(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    context = await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(site.make_url("/admin")))
    await sign_in_with_token(page)
    await page.wait_for_selector("#health-table tbody tr")
    await page.click("nav button[data-view=uploads]")
    await page.set_input_files(
        "#u-file", {"name": "喜茶香港.csv", "mimeType": "text/csv", "buffer": AMAP_LIST.encode()}
    )
    await page.click("#u-dry")
    await page.wait_for_selector("#upload-errors")
    refusal = await page.locator("#upload-errors tbody").inner_text()
    assert "文件没有坐标来源（coord）列：请为整个文件选择坐标来源" in refusal
    assert not await page.is_enabled("#u-commit")
    await shot(page, "20-upload-asks-for-the-coordinate-source")

    await page.select_option("#u-coord", "amap")
    await page.click("#u-dry")
    await page.wait_for_selector("#u-result p.ok")
    assert await page.is_enabled("#u-commit")
    await page.click("#u-commit")
    query = "SELECT source_coord, coord_provider FROM stores WHERE store_id = 'HK-TS'"

    async def stored() -> Any:
        return await pool.fetchrow(query)

    row = await eventually(stored, within=30)
    assert (row["source_coord"], row["coord_provider"]) == ("gcj02", "amap")
    await page.wait_for_selector("#u-result p.ok")
    await shot(page, "21-upload-with-the-coordinate-source-chosen")
    assert problems == []
    await context.close()
