"""The ops page in Chinese ops' words (trial report, item 5), in real headless Chromium at
1440x900: the audit trail's kinds as Chinese labels (English on the English page), times in the
brand's time zone (HUOMA_TIMEZONE, not the browser's), every kind family in the type filter, known
kinds' details in the page's language with the recorded summary as a tooltip; the settings' Chinese
meaning and each coordinate source once. Screenshots land in test-artifacts/ops-words/."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from router.settings import Settings
from router.web.app import create_app
from tests.browser.ops_page import sign_in_with_token
from tests.conftest import ARTIFACTS_ROOT, AUTH, group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "ops-words"
VIEWPORT = {"width": 1440, "height": 900}
# Far from the browser's zone (UTC in the tests), so a time shown in the wrong zone is caught.
ZONE = "Asia/Tokyo"


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_the_audit_trail_and_settings_speak_chinese(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings
) -> None:
    await seed(pool, [store_row("S1", name="人民广场店")], [group_row("G1")])
    site = await aiohttp_server(create_app(settings.with_(timezone=ZONE)))
    api = str(site.make_url("/admin/api"))
    async with aiohttp.ClientSession() as http:
        r = await http.post(f"{api}/store-links", json={"store_ids": ["S1"]}, headers=AUTH)
        assert r.status == 200
        r = await http.post(f"{api}/groups/G1/retire", headers=AUTH)
        assert r.status == 200
    async with aiohttp.ClientSession() as http:
        r = await http.post(
            f"{api}/accounts",
            json={"username": "hz-ops", "password": "a long enough password 1", "role": "viewer"},
            headers=AUTH,
        )
        assert r.status in (200, 201), await r.text()
    newest = await pool.fetchval("SELECT max(at) FROM audit_log")

    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="UTC")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    # Every failed request by its URL (a missing /favicon.ico included), but the page's first
    # question, whether a session is open: not yet.
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/admin/api/session")
            else None
        ),
    )
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    await page.goto(str(site.make_url("/admin")))
    await sign_in_with_token(page)
    await page.wait_for_selector("#health-table tbody tr")

    await page.click("nav button[data-view=audit]")
    await page.wait_for_selector("#audit-table tbody tr.audit")
    table = page.locator("#audit-table tbody")
    text = await table.inner_text()
    for label in ("生成门店链接", "停用群", "新建账号"):
        assert label in text, label
    for code in ("store_link.issue", "group.retire", "account.create"):
        assert code not in text, code
        # The code stays findable, as the badge's tooltip.
        assert await page.locator(f"#audit-table span[title='{code}']").count() >= 1
    # Details in Chinese, the recorded (English) summary as the tooltip.
    retired = page.locator("#audit-table tr.audit", has=page.locator("span[title='group.retire']"))
    # Standby or active before (whether a worker had leased it yet): either in words.
    assert re.search(r"G1 状态：(使用中|待用) → 已停用", await retired.inner_text())
    assert "-> retired" in (await retired.locator("td.summary").get_attribute("title") or "")
    account = page.locator(
        "#audit-table tr.audit", has=page.locator("span[title='account.create']")
    )
    assert "hz-ops · 角色 只读，地区 全部地区" in await account.inner_text()
    # Times in the brand's zone: the newest record's local time as the brand reads it.
    local = newest.astimezone(ZoneInfo(ZONE)).strftime("%Y/%m/%d %H:%M")
    assert local in await table.locator("tr.audit td").first.inner_text()
    # Every kind family is offered in the filter.
    options = await page.locator("#au-kind option").all_inner_texts()
    for family in ("门店链接", "账号", "令牌", "品牌", "打印", "上传", "群", "设置"):
        assert family in options, family
    await page.select_option("#au-kind", "store_link")
    await page.click("#audit-filter button[type=submit]")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#audit-table tbody tr.audit')]"
        ".every(tr => tr.innerText.includes('门店链接'))"
    )
    await shot(page, "01-audit-zh")

    # Settings: the Chinese meaning under each label; each coordinate source once.
    await page.click("nav button[data-view=settings]")
    await page.wait_for_selector("[data-setting=alert_cooldown_s]")
    meaning = await page.locator("[data-setting=alert_cooldown_s] .meaning").inner_text()
    assert "同一门店的同一种告警" in meaning and "posted" not in meaning
    coords = await page.locator("[data-setting=upload_default_coord] option").all_inner_texts()
    assert len(coords) == len(set(coords))
    assert sum("WGS-84" in c for c in coords) == 1
    await shot(page, "02-settings-zh")

    # English is available: the same records, English labels.
    await page.click("#lang")
    await page.click("nav button[data-view=audit]")
    await page.wait_for_selector("#audit-table tbody tr.audit:has-text('Store links issued')")
    await shot(page, "03-audit-en")
    assert problems == []
    await context.close()
