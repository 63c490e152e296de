"""The ops page in headless Chromium at 1440x900: a store's groups get a group added from a
picture (dropped on the page) and another group's code replaced (chosen with the file picker),
each shown decoded for confirmation before it is saved. Screenshots in test-artifacts/admin/."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import pytest

from router.settings import Settings
from router.web.app import create_app
from tests.browser.ops_page import sign_in_with_token
from tests.conftest import ARTIFACTS_ROOT, group_row, seed, store_row
from tests.pictures import screenshot

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "admin"
VIEWPORT = {"width": 1440, "height": 900}
ADDED = "https://weixin.qq.com/g/AddedFromTheOpsPage"
REPLACED = "https://weixin.qq.com/g/ReplacedOnTheOpsPage"


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_ops_add_a_group_from_a_picture_and_replace_another_groups_code(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings
) -> None:
    await seed(
        pool,
        [store_row("S1", name="人民广场店")],
        [group_row("G1", member_count=120), group_row("G2", name="老会员群")],
    )
    site = await aiohttp_server(create_app(settings))
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" else None,
    )
    await page.goto(str(site.make_url("/admin")))
    await sign_in_with_token(page)
    await page.click("#health-table tr[data-store=S1]")
    await page.wait_for_selector("tr.detail .pic-add .pic-drop")
    assert await page.get_attribute(".pic-add .pic-file", "accept") == (
        "image/png,image/jpeg,image/webp,.png,.jpg,.jpeg,.webp"
    )

    # Add: the picture dropped on the zone (drag and drop), read, shown, saved.
    card = screenshot(ADDED, "JPEG", angle=5, name="人民广场店周末群", members=37, quality=70)
    drop = await page.evaluate_handle(
        """(b64) => {
            const bin = atob(b64), bytes = new Uint8Array(bin.length);
            for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "card.jpg", { type: "image/jpeg" }));
            return dt;
        }""",
        base64.b64encode(card).decode(),
    )
    await page.dispatch_event(".pic-add .pic-drop", "drop", {"dataTransfer": drop})
    await page.wait_for_selector(".pic-confirm", timeout=60_000)
    assert await page.get_attribute(".pic-kind", "data-kind") == "wechat_group"
    assert await page.text_content(".pic-payload") == ADDED
    status = await page.get_attribute(".pic-ocr", "data-status")
    if status == "read":  # the OCR extra is installed: the card's words are prefilled
        assert await page.input_value(".pic-name") == "人民广场店周末群"
        assert await page.input_value(".pic-members") == "37"
        assert await page.get_attribute(".pic-source", "data-source") == "validity_line"
    else:
        assert status == "not_installed"
        await page.fill(".pic-name", "人民广场店周末群")
    await shot(page, "pictures-01-add-confirm")
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE qr_payload = $1", ADDED) == 0
    await page.click(".pic-save")
    await page.wait_for_selector("tr.detail td:has-text('人民广场店周末群')", timeout=60_000)
    added = await pool.fetchrow("SELECT store_id, name FROM groups WHERE qr_payload = $1", ADDED)
    assert added["store_id"] == "S1" and added["name"] == "人民广场店周末群"
    await shot(page, "pictures-02-added")

    # Replace: G2's new code chosen with the file picker; G2 keeps its place.
    position = await pool.fetchval("SELECT position FROM groups WHERE group_id = 'G2'")
    await page.click("button.pic-replace[data-group=G2]")
    await page.set_input_files(
        ".pic-replace-zone .pic-file",
        {
            "name": "new.png",
            "mimeType": "image/png",
            "buffer": screenshot(REPLACED, "PNG", name="老会员群"),
        },
    )
    await page.wait_for_selector(".pic-confirm", timeout=60_000)
    assert await page.text_content(".pic-payload") == REPLACED
    await shot(page, "pictures-03-replace-confirm")
    await page.click(".pic-save")
    await page.wait_for_selector("#flash:not([hidden])")
    await page.wait_for_selector("tr.detail .pic-add", timeout=60_000)
    row = await pool.fetchrow("SELECT qr_payload, position, name FROM groups WHERE group_id = 'G2'")
    assert row["qr_payload"] == REPLACED and row["position"] == position
    assert row["name"] == "老会员群"

    # A payment code is refused in words, nothing written.
    await page.click("button.pic-replace[data-group=G1]")
    await page.set_input_files(
        ".pic-replace-zone .pic-file",
        {"name": "pay.png", "mimeType": "image/png", "buffer": screenshot("wxp://f2f0pay")},
    )
    await page.wait_for_selector(".pic-error[data-code=wrong_code_kind]", timeout=60_000)
    assert "收款码" in await page.text_content(".pic-error")
    await shot(page, "pictures-04-refused")
    assert [p for p in problems if "422" not in p and "Failed to load resource" not in p] == []
    await context.close()
