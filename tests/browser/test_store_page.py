"""A store link's page on a phone (375x667) in real headless Chromium: the staff upload a new code
picture from the file input, the customer page then shows the new code, and the old image link
is dead. Screenshots land in test-artifacts/store/."""

from __future__ import annotations

import io
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
import qrcode
import zxingcpp
from PIL import Image

from router.ops.ocr import available
from router.web.app import create_app
from tests.conftest import ARTIFACTS_ROOT, AUTH, group_row, seed, store_row
from tests.pictures import cjk_font_file, screenshot

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "store"
VIEWPORT = {"width": 375, "height": 667}
OLD = "https://weixin.qq.com/g/STORE-OLD"
NEW = "https://weixin.qq.com/g/STORE-NEW"
SH = zoneinfo.ZoneInfo("Asia/Shanghai")
# The card's words are read when the OCR extra and a CJK font are there (tests/run installs both).
READS = available() and cjk_font_file() is not None


def picture(payload: str) -> bytes:
    """A code as WeChat saves it: the QR on a white card, as a PNG."""
    code = qrcode.make(payload).get_image().convert("RGB")
    card = Image.new("RGB", (code.width + 120, code.height + 300), "white")
    card.paste(code, (60, 150))
    buf = io.BytesIO()
    card.save(buf, format="PNG")
    return buf.getvalue()


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def shown_code(page: Any) -> tuple[str, str]:
    """The customer page's QR, decoded from a screenshot of the page; and the image's link."""
    img = page.locator("#qr")
    await img.wait_for(state="visible")
    for _ in range(100):  # the page's CSP forbids the eval behind wait_for_function
        if await img.evaluate("el => el.complete && el.naturalWidth > 0"):
            break
        await page.wait_for_timeout(50)
    png = await page.screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found, "no QR code readable on the customer page"
    return str(found[0].text), str(await img.get_attribute("src"))


async def test_a_store_link_uploads_a_new_code_that_customers_then_get(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Any
) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=10)).isoformat()
    await seed(
        pool,
        [store_row("S1", name="人民广场店"), store_row("S2", name="来福士店", lat=31.3)],
        [
            group_row("G1", "S1", name="人民广场 1 群", qr_payload=OLD, expires_at=soon),
            group_row("G2", "S1", name="人民广场 2 群", position=1, member_count=57),
            group_row("G3", "S2", name="来福士 1 群"),
        ],
    )
    await pool.execute(
        "INSERT INTO entries (code, kind, store_id) VALUES ('s1-desk', 'store', 'S1')"
    )
    site = await aiohttp_server(create_app(settings))
    async with aiohttp.ClientSession() as http:
        issued = await http.post(
            str(site.make_url("/admin/api/store-links")), json={"store_ids": ["S1"]}, headers=AUTH
        )
        assert issued.status == 200
        sheet = (await issued.read()).decode("utf-8-sig")
    fragment = re.search(r"/store/(#t=[^\r\n,]+)", sheet)
    assert fragment is not None

    phone = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=2)
    customer = await phone.new_page()
    await customer.goto(str(site.make_url("/s/s1-desk")))
    text, old_src = await shown_code(customer)
    assert text == OLD
    await shot(customer, "01-customer-before")

    staff = await phone.new_page()
    requests: list[str] = []
    staff.on("request", lambda r: requests.append(r.url))
    await staff.goto(str(site.make_url("/store/")) + fragment[1])
    card = staff.locator("li.group[data-group=G1]")
    await card.wait_for(state="visible")
    assert await staff.locator("#name").inner_text() == "人民广场店"
    assert await staff.locator("#banner").is_visible()  # G1 expires within a day
    assert await staff.locator("li.group").count() == 2  # its own groups only
    assert "57/" in await staff.locator("li.group[data-group=G2] .facts").inner_text()
    upload = card.locator("input[type=file]")
    assert await upload.get_attribute("accept") == "image/*"
    assert await upload.get_attribute("capture") is not None
    await shot(staff, "02-store-page")
    # The picture WeChat saves of the group's card: its name, member count and validity line.
    day = (datetime.now(SH) + timedelta(days=6)).date()
    card_picture = screenshot(
        NEW,
        "JPEG",
        name="人民广场福利群",
        members=128,
        validity=f"该二维码7天内({day.month}月{day.day}日前)有效，重新进入将更新",
    )
    await upload.set_input_files(
        files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": card_picture}]
    )
    await staff.locator("#status", has_text="新码已生效").wait_for()
    assert not await staff.locator("#banner").is_visible()  # the new code has 7 days
    # What was read, and the new expiry with where it came from.
    result = await staff.locator("#result").inner_text()
    assert "微信群二维码" in result
    if READS:
        assert "人民广场福利群" in result and "128" in result and "从图片识别" in result
        assert f"{day.month}/{day.day} 00:00" in result and "图片上的有效期文字" in result
        assert "128/" in await card.locator(".facts").inner_text()
    else:
        assert "上传时间 + 7 天" in result
    await shot(staff, "03-new-code-uploaded")
    origin = str(site.make_url("/"))
    assert all(u.startswith(origin) for u in requests), requests

    # The customer page now shows the new code (the worker patched the store in place).
    for _ in range(100):
        await customer.reload()
        text, new_src = await shown_code(customer)
        if text == NEW:
            break
    assert text == NEW and new_src != old_src
    await shot(customer, "04-customer-after")
    async with aiohttp.ClientSession() as http:
        old = await http.get(str(site.make_url("/")).rstrip("/") + old_src)
        assert old.status in (404, 410)
    await phone.close()
