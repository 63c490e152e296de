"""Accounts on the ops page, in real headless Chromium at 1440x900: an admin creates an editor
limited to one region; the editor signs in, sees only that region's stores and uploads to them; a
viewer cannot change anything. Screenshots land in test-artifacts/admin/accounts-*.png."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

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
    return await aiohttp_server(create_app(settings))


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"accounts-{name}.png"), full_page=True)


async def open_signed_in(chromium: Any, site: Any, username: str, password: str) -> Any:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    await page.goto(str(site.make_url("/admin")))
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#health-table tbody tr")
    return page


async def test_an_admin_makes_a_regional_editor_who_sees_and_uploads_only_its_region(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    # The admin creates an editor limited to 上海 on the accounts screen.
    admin = await open_signed_in(chromium, site, "boss", PASSWORD)
    assert "boss · 管理员 · 全部地区" in await admin.text_content("#whoami")
    assert await admin.locator("#health-table tr[data-store=BJ1]").count() == 1
    await admin.click("nav button[data-view=accounts]")
    await admin.wait_for_selector("#accounts-table tbody tr[data-username=boss]")
    await admin.fill("#a-username", "sh-editor")
    await admin.fill("#a-password", "shanghai-password")
    await admin.select_option("#a-role", "editor")
    await admin.fill("#a-regions", "上海")
    await admin.click("#account-form button[type=submit]")
    await admin.wait_for_selector("#accounts-table tbody tr[data-username=sh-editor]")
    row = await admin.locator("#accounts-table tr[data-username=sh-editor]").inner_text()
    assert "编辑" in row and "上海" in row
    # Its own row cannot disable itself.
    assert await admin.locator("tr[data-username=boss] button.danger").is_disabled()
    await shot(admin, "01-admin-created-editor")
    account = await pool.fetchrow("SELECT role, regions FROM accounts WHERE username = 'sh-editor'")
    assert (account["role"], account["regions"]) == ("editor", ["上海"])

    # The editor signs in and sees 上海's stores only.
    editor = await open_signed_in(chromium, site, "sh-editor", "shanghai-password")
    assert "sh-editor · 编辑 · 上海" in await editor.text_content("#whoami")
    stores = await editor.locator("#health-table tbody tr.store").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-store'))"
    )
    assert sorted(stores) == ["SH1", "SH2"]
    assert not await editor.locator("nav button[data-view=accounts]").is_visible()
    await shot(editor, "02-editor-health")

    # It uploads a store of its region: dry run, then import.
    await editor.click("nav button[data-view=uploads]")
    await editor.select_option("#u-kind", "stores")
    good = "store_id,name,city,address,lat,lng,coord\nSH3,徐家汇店,上海,漕溪北路,31.195,121.437,gcj02\n"
    await editor.set_input_files(
        "#u-file", {"name": "stores.csv", "mimeType": "text/csv", "buffer": good.encode()}
    )
    await editor.click("#u-dry")
    await editor.wait_for_selector("#u-result .ok")
    await editor.click("#u-commit")
    await editor.wait_for_function(
        "() => document.querySelector('#u-result .ok')?.innerText.includes('已导入')"
    )
    assert await pool.fetchval("SELECT city FROM stores WHERE store_id = 'SH3'") == "上海"
    await shot(editor, "03-editor-uploaded")

    # A file touching another region's store is refused, row by row; nothing is written.
    other = "store_id,name,city,address,lat,lng,coord\nBJ1,改名,北京,x,39.91,116.41,gcj02\n"
    await editor.set_input_files(
        "#u-file", {"name": "bj.csv", "mimeType": "text/csv", "buffer": other.encode()}
    )
    await editor.click("#u-dry")
    await editor.wait_for_selector("#upload-errors")
    errors = await editor.locator("#upload-errors tbody").inner_text()
    assert "BJ1" in errors and "不在你的账号可管理的地区内" in errors
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = 'BJ1'") == "王府井店"
    await shot(editor, "04-editor-other-region-refused")

    # Its exports hold its region's rows only.
    body = await editor.evaluate("() => fetch('/admin/api/exports/stores.csv').then(r => r.text())")
    assert "SH3" in body and "BJ1" not in body
    assert admin.problems == [] and editor.problems == []


async def test_a_viewer_cannot_change_anything(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    await make_account(pool, "look", "viewer")
    page = await open_signed_in(chromium, site, "look", PASSWORD)
    assert "look · 只读 · 全部地区" in await page.text_content("#whoami")
    # A store's groups, without a button to change them.
    await page.locator("#health-table tr[data-store=SH1]").click()
    await page.wait_for_selector("tr.detail")
    assert await page.locator("tr.detail button:visible").count() == 0
    await shot(page, "05-viewer-health")
    await page.click("nav button[data-view=uploads]")
    assert not await page.locator("#upload").is_visible()
    await page.click("nav button[data-view=entries]")
    assert not await page.locator("#entry-form").is_visible()
    assert not await page.locator("nav button[data-view=accounts]").is_visible()
    await shot(page, "06-viewer-entries")
    # And the API refuses what the page does not offer, even with the session's CSRF token.
    statuses = await page.evaluate(
        """async () => {
            const me = await (await fetch('/admin/api/session')).json();
            const h = {'X-CSRF-Token': me.csrf_token, 'Content-Type': 'application/json'};
            const tries = [
                ['POST', '/admin/api/groups/G1/retire', null],
                ['POST', '/admin/api/entries', JSON.stringify({kind: 'counter'})],
                ['POST', '/admin/api/accounts',
                 JSON.stringify({username: 'x', password: 'long enough pw', role: 'admin'})],
            ];
            const out = [];
            for (const [method, path, body] of tries) {
                out.push((await fetch(path, {method, headers: h, body})).status);
            }
            return out;
        }"""
    )
    assert statuses == [403, 403, 403]
    assert await pool.fetchval("SELECT state FROM groups WHERE group_id = 'G1'") != "retired"
    assert page.problems == []
