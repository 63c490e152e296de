"""The ops page takes a store list as a chain's ERP exports it (a 说明 sheet first, a title row
above Chinese headers, AMap's "lng,lat" in one cell), shows which column was read as what, groups
repeated problems, and after confirming the stores route. Screenshots (1440x900) land in
test-artifacts/uploads/."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import asyncpg
import openpyxl
import pytest

from router.settings import Settings
from router.web.app import create_app
from tests.browser.ops_page import sign_in_with_token
from tests.conftest import ARTIFACTS_ROOT, eventually

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "uploads"
VIEWPORT = {"width": 1440, "height": 900}
HEADER = [
    "门店编码",
    "门店名称",
    "省份",
    "城市",
    "区县",
    "大区",
    "详细地址",
    "经纬度",
    "坐标来源",
    "备注",
]
STORES = [
    ("SH001", "人民广场店", "黄浦区", "人民大道 120 号", "121.473701,31.230416"),
    ("SH002", "静安寺店", "静安区", "南京西路 1699 号", "121.445967,31.223932"),
    ("SH003", "陆家嘴店", "浦东新区", "世纪大道 8 号", "121.501654,31.239735"),
]


def erp_workbook(coord: str = "高德坐标 gcj02") -> bytes:
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["字段", "填写说明"])
    notes.append(["门店编码", "ERP 中的门店编码，不可重复"])
    notes.append(["经纬度", "在高德地图坐标拾取器中复制，格式：经度,纬度"])
    data = book.create_sheet("门店主数据")
    data.append(["XX 咖啡 全国门店主数据（ERP 导出 2026-11-30）"])
    data.append(HEADER)
    for store_id, name, district, address, lnglat in STORES:
        data.append(
            [store_id, name, "上海市", "上海", district, "华东大区", address, lnglat, coord, "直营"]
        )
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


GROUPS = (
    "群清单\r\n"
    "群编号,门店编码,群名称,群二维码内容,人数上限\r\n"
    "SH001-1,SH001,人民广场店 1 群,https://work.weixin.qq.com/gm/aaa,180\r\n"
    "SH002-1,SH002,静安寺店 1 群,https://work.weixin.qq.com/gm/bbb,180\r\n"
    "SH003-1,SH003,陆家嘴店 1 群,https://work.weixin.qq.com/gm/ccc,180\r\n"
)


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings) -> Any:
    return await aiohttp_server(create_app(settings))


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_an_erp_workbook_is_read_shown_confirmed_and_routed(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(site.make_url("/admin")))
    await sign_in_with_token(page)
    await page.click("nav button[data-view=uploads]")

    async def dry_run(name: str, body: bytes, mime: str, kind: str = "stores") -> None:
        await page.select_option("#u-kind", kind)
        await page.set_input_files("#u-file", {"name": name, "mimeType": mime, "buffer": body})
        await page.click("#u-dry")
        await page.wait_for_selector("#u-result p")

    xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    # A coordinate source the engine does not know yet: one grouped problem, not three.
    await dry_run("门店主数据.xlsx", erp_workbook("墨卡托"), xlsx_type)
    await page.wait_for_selector("#upload-grouped")
    grouped = await page.locator("#upload-grouped tbody tr").all_inner_texts()
    assert len(grouped) == 1
    cells = grouped[0].split("\t")
    # The column as the workbook wrote it (坐标来源), not the field's name.
    assert cells[:4] == ["3-5", "3", "坐标来源", "墨卡托"]
    assert cells[4].startswith("第3-5行 坐标来源「墨卡托」：坐标来源「墨卡托」无法识别")
    assert "/" not in cells[4]  # the page's language only
    assert not await page.is_visible("#upload-errors")  # the row-by-row detail is folded away
    assert await page.is_disabled("#u-commit")
    await shot(page, "01-erp-grouped-problem")

    await dry_run("门店主数据.xlsx", erp_workbook("gcj02"), xlsx_type)
    await page.wait_for_selector("#upload-mapping")
    sheet = await page.text_content("#upload-sheet")
    assert sheet is not None and "门店主数据" in sheet and "第 2 行为表头" in sheet
    mapping = await page.locator("#upload-mapping tbody tr").all_inner_texts()
    read_as = dict(tuple(row.split("\t")) for row in mapping)
    assert read_as["门店编码"] == "门店编号 (store_id)"
    assert read_as["经纬度"] == "经纬度 (coordinates)"
    assert read_as["坐标来源"] == "坐标系 (coord)"
    assert read_as["大区"] == "大区 (region)"
    assert read_as["备注"] == "未使用"
    assert "预检通过：3 行" in (await page.text_content("#u-result .ok") or "")
    assert await page.is_enabled("#u-commit")
    await shot(page, "02-erp-column-mapping")
    await page.click("#u-commit")
    await page.wait_for_function(
        "() => document.querySelector('#u-result .ok')?.innerText.includes('已导入')"
    )
    await shot(page, "03-erp-imported")
    assert await pool.fetchval("SELECT region FROM stores WHERE store_id = 'SH003'") == "华东大区"

    await dry_run("群清单.csv", GROUPS.encode("gb18030"), "text/csv", kind="groups")
    await page.wait_for_selector("#upload-mapping")
    await page.click("#u-commit")
    await page.wait_for_function(
        "() => document.querySelector('#u-result .ok')?.innerText.includes('已导入')"
    )

    # The health page narrows to a region.
    await page.click("nav button[data-view=health]")
    await page.fill("#h-region", "华东大区")
    await page.click("#health-filter button[type=submit]")
    await page.wait_for_function(
        "() => document.querySelectorAll('#health-table tbody tr').length === 3"
    )
    await page.fill("#h-region", "华北大区")
    await page.click("#health-filter button[type=submit]")
    await page.wait_for_function(
        "() => !document.querySelector('#health-table tbody')?.innerText.includes('SH001')"
    )
    await page.click("nav button[data-view=uploads]")

    # The English page: the same workbook, read and explained in English.
    await page.click("#lang")
    await dry_run("门店主数据.xlsx", erp_workbook("gcj02"), xlsx_type)
    await page.wait_for_selector("#upload-mapping")
    mapping = await page.locator("#upload-mapping tbody tr").all_inner_texts()
    assert "门店编码\tStore Number (store_id)" in mapping
    await shot(page, "04-erp-column-mapping-en")
    assert problems == []
    await context.close()

    # The stores route: a customer standing at People's Square gets its group.
    async with aiohttp.ClientSession() as session:

        async def routed() -> dict[str, Any] | None:
            url = site.make_url("/api/v1/route?lat=31.2304&lng=121.4737&coord=gcj02")
            async with session.get(url) as response:
                body: dict[str, Any] = await response.json()
            return body if body.get("group") else None

        body = await eventually(routed)
    assert body["store"]["id"] == "SH001"
    assert body["store"]["region"] == "华东大区"
    assert body["group"]["id"] == "SH001-1"
