"""The settings and audit screens of the ops page in real headless Chromium at 1440x900: an admin
adds a regional alert robot and changes a threshold (a bad value is refused in words), sees where
each value comes from, then reads the audit trail and a store's changes. Screenshots land in
test-artifacts/admin-settings/."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest

from router.settings import Settings
from router.web.app import create_app
from tests.browser.ops_page import sign_in_with_token
from tests.conftest import (
    ARTIFACTS_ROOT,
    AUTH,
    eventually,
    group_row,
    seed,
    store_row,
)

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "admin-settings"
VIEWPORT = {"width": 1440, "height": 900}
KEY = "robotkey-0123456789abcdef"


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_an_admin_sets_alert_robots_and_thresholds_and_reads_the_audit_trail(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings
) -> None:
    await seed(
        pool,
        [store_row("S1", name="人民广场店"), store_row("S2", name="来福士店", city="北京")],
        [group_row("G1", member_count=120), group_row("G2")],
    )
    site = await aiohttp_server(create_app(settings))
    api = site.make_url("/admin/api")
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
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
    # A change through the API first, so the trail has more than this page's changes.
    r = await context.request.post(f"{api}/groups/G2/retire", headers=AUTH)
    assert r.status == 200

    await page.goto(str(site.make_url("/admin")))
    await sign_in_with_token(page)
    await page.wait_for_selector("#health-table tbody tr")

    # Settings: every value comes from the environment at first.
    await page.click("nav button[data-view=settings]")
    await page.wait_for_selector("[data-setting=alert_webhooks]")
    assert await page.locator(".setting .badge").count() == 4
    assert await page.locator(".setting .badge.active").count() == 0

    # A bad threshold is refused in words, on its card; nothing is stored.
    cooldown = page.locator("[data-setting=alert_cooldown_s]")
    await cooldown.locator("input.value").fill("-5")
    await cooldown.locator("button.save").click()
    await cooldown.locator(".error:not([hidden])").wait_for()
    assert "不小于 0" in (await cooldown.locator(".error").text_content() or "")
    await shot(page, "01-settings-refused")
    assert await pool.fetchval("SELECT count(*) FROM ops_settings") == 0

    await cooldown.locator("input.value").fill("600")
    await cooldown.locator("button.save").click()
    await page.locator("[data-setting=alert_cooldown_s] .badge.active").wait_for()

    # A robot for 上海 only.
    hooks = page.locator("[data-setting=alert_webhooks]")
    await hooks.get_by_role("button", name="添加机器人").click()
    await hooks.locator("input.hook-name").fill("华东群")
    await hooks.locator("input.hook-url").fill(
        f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
    )
    await hooks.locator("input.hook-regions").fill("上海, 杭州")
    await hooks.locator("button.save").click()
    await page.locator("[data-setting=alert_webhooks] .badge.active").wait_for()
    stored = orjson.loads(
        await pool.fetchval("SELECT value FROM ops_settings WHERE name = 'alert_webhooks'")
    )
    assert stored == [
        {
            "name": "华东群",
            "url": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}",
            "regions": ["上海", "杭州"],
        }
    ]
    # The page never holds the key again: the robot shows its URL masked, its field is empty.
    content = await page.content()
    assert KEY not in content
    assert "key=robo…" in (await hooks.locator(".hook-now").text_content() or "")
    assert await hooks.locator("input.hook-url").input_value() == ""
    await page.select_option("[data-setting=upload_default_coord] select.value", "gcj02")
    await page.click("[data-setting=upload_default_coord] button.save")
    await page.locator("[data-setting=upload_default_coord] .badge.active").wait_for()
    await shot(page, "02-settings-saved")

    # The audit trail: every change, who made it, old -> new; filtered to settings.
    await page.click("nav button[data-view=audit]")
    await page.wait_for_selector("#audit-table tbody tr.audit")
    assert await page.locator("#audit-table tbody tr.audit").count() == 4
    assert "token#1" in (await page.text_content("#audit-table tbody") or "")
    assert KEY not in await page.content()
    await shot(page, "03-audit-all")
    await page.select_option("#au-kind", "setting")
    await page.click("#audit-filter button[type=submit]")
    rows = page.locator("#audit-table tbody tr.audit")

    async def settings_only() -> bool:
        return bool(await rows.count() == 3)

    await eventually(settings_only)
    # Details in the page's words (the setting's label), the summary as recorded in the tooltip.
    cooldown_row = rows.filter(has_text="同一告警的最短重发间隔（秒）：3600 → 600")
    assert await cooldown_row.count() == 1
    assert await cooldown_row.locator("td.summary").get_attribute("title") == (
        "alert_cooldown_s: 3600.0 -> 600.0"
    )
    # A list of robots by their names, not as objects.
    robots = await rows.filter(has_text="告警机器人").inner_text()
    assert "华东群" in robots and "object" not in robots
    await shot(page, "04-audit-settings")

    # A store's own changes, in its detail row.
    await page.click("nav button[data-view=health]")
    await page.click("#health-table tr[data-store=S1]")
    await page.wait_for_selector(".store-audit tr.audit")
    text = await page.text_content(".store-audit") or ""
    assert "G2 状态：待用 → 已停用" in text and "停用群" in text
    await shot(page, "05-store-changes")

    # English is available.
    await page.click("#lang")
    await page.click("nav button[data-view=settings]")
    # The Chinese cards are still in the page until the English ones replace them.
    await page.wait_for_selector("#settings-list:has-text('set by ops')")
    assert "set by ops" in (await page.text_content("#settings-list") or "")
    await shot(page, "06-settings-en")
    assert problems == []
    await context.close()
