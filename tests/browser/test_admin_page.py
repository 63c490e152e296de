"""The ops page in real headless Chromium: log in, see group health, act on a store, upload a file
with errors and see them, upload a good one, read alerts, create an entry code and read its QR,
read the funnel. Screenshots (1280x860) land in test-artifacts/admin/."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import openpyxl
import pytest
import zxingcpp
from PIL import Image

from router.keeper import sweep as keeper
from router.keeper.providers import OpsProvider
from router.settings import Settings
from router.web.app import create_app
from tests.accounts import PASSWORD, make_account
from tests.conftest import ADMIN_TOKEN, ARTIFACTS_ROOT, eventually, group_row, seed, store_row

pytestmark = [pytest.mark.db, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "admin"
VIEWPORT = {"width": 1280, "height": 860}
BASE = "https://hm.example.com"


@pytest.fixture
async def site(pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings) -> Any:
    settings = settings.with_(public_base_url=BASE, low_water=1)
    await seed(
        pool,
        [store_row("S1", name="人民广场店"), store_row("S2", name="来福士店", city="北京")],
        [group_row("G1", member_count=120), group_row("G2")],
    )
    await keeper.sweep(pool, settings, OpsProvider())  # states, and S2's alerts
    # At noon of each of the last three local days (Asia/Shanghai): never across a midnight.
    tz = ZoneInfo("Asia/Shanghai")
    noon = datetime.combine(datetime.now(tz).date(), time(12, 0), tzinfo=tz)
    now = noon.astimezone(UTC)
    await pool.executemany(
        "INSERT INTO scan_events (event_id, at, entry, store_id, group_id, visitor, outcome, "
        "lat_approx, lng_approx) VALUES ($1, $2, 'C1', $3, $4, $5, $6, 31.23, 121.47)",
        [
            (uuid.uuid4(), now - timedelta(days=d, minutes=i), store, group, f"v{i}", outcome)
            for d in range(3)
            for i, (store, group, outcome) in enumerate(
                [("S1", "G1", "ok")] * 5 + [("S2", "fallback:*", "fallback")] * 2
            )
        ],
    )
    return await aiohttp_server(create_app(settings))


async def log_in(page: Any, pool: asyncpg.Pool) -> None:
    """Sign in on the page as an admin account (made here the first time)."""
    if not await pool.fetchval("SELECT 1 FROM accounts WHERE username = 'ops'"):
        await make_account(pool, "ops", "admin")
    await page.fill("#username", "ops")
    await page.fill("#password", PASSWORD)
    await page.click("#login button[type=submit]")


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


async def test_ops_run_the_brand_from_the_ops_page(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    problems: list[str] = []
    # Refused requests show up as console errors too; those are checked by their responses.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    refused: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda r: (
            refused.append(
                (r.status, r.request.method + " " + r.url.split("?")[0].split("/", 3)[3])
            )
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith((str(site.make_url("/")), "blob:"))
            else None
        ),
    )
    await page.goto(str(site.make_url("/admin")))

    # Sign in: a wrong password is refused in words, the right one opens the console.
    await make_account(pool, "ops", "admin")
    await page.fill("#username", "ops")
    await page.fill("#password", "not the password")
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#login-error:not([hidden])")
    assert await page.text_content("#login-error") == "用户名或密码错误"
    await shot(page, "01-login-refused")
    await pool.execute("DELETE FROM signin_failures")  # the wait a failure imposes has passed
    await log_in(page, pool)
    await page.wait_for_selector("#health-table tbody tr")
    assert await page.get_attribute("#password", "value") in (None, "")

    # Group health: the store without groups leads, on its fallback.
    cards = await page.locator("#health-summary div").all_inner_texts()
    assert [c.split("\n")[0] for c in cards] == ["2", "1", "1"]
    first = page.locator("#health-table tbody tr.store").first
    assert "S2" in await first.inner_text() and "兜底" in await first.inner_text()
    s1 = page.locator("#health-table tr[data-store=S1]")
    assert "G1" in await s1.inner_text() and "120 / 200" in await s1.inner_text()
    await shot(page, "02-health")

    # Retire S1's active group from its detail row; G2 takes over.
    await s1.click()
    await page.wait_for_selector("tr.detail")
    await shot(page, "03-store-groups")
    await page.locator("tr.detail button.danger").first.click()
    await page.wait_for_selector("#flash:not([hidden])")
    assert await pool.fetchval("SELECT state FROM groups WHERE group_id = 'G1'") == "retired"
    await page.wait_for_function(
        "() => document.querySelector('#health-table tr[data-store=S1]').innerText.includes('G2')"
    )

    # Upload: a file with errors in several rows lists them all and writes nothing.
    await page.click("nav button[data-view=uploads]")
    await page.select_option("#u-kind", "stores")
    bad = (
        "store_id,name,city,address,lat,lng,coord\n"
        "S3,静安寺店,上海,南京西路,31.22,121.44,gcj02\n"
        "S4,,上海,x,31.2,121.4,gcj02\n"
        "S5,坏坐标,上海,x,95,121.4,gcj02\n"
        "S6,坏系统,上海,x,31.2,121.4,utm\n"
    )
    await page.set_input_files(
        "#u-file", {"name": "门店.csv", "mimeType": "text/csv", "buffer": bad.encode("gb18030")}
    )
    await page.click("#u-dry")
    await page.wait_for_selector("#upload-errors")
    errors = await page.locator("#upload-errors tbody tr").all_inner_texts()
    assert [e.split("\t")[:2] for e in errors] == [["3", "name"], ["4", "lat"], ["5", "coord"]]
    assert await page.is_disabled("#u-commit")
    await shot(page, "04-upload-errors")
    assert await pool.fetchval("SELECT count(*) FROM stores") == 2

    # A good workbook: dry run, then import.
    good = xlsx(
        [
            ["store_id", "name", "city", "address", "lat", "lng", "coord"],
            ["S3", "静安寺店", "上海", "南京西路 1 号", 31.2235, 121.4452, "gcj02"],
        ]
    )
    await page.set_input_files(
        "#u-file",
        {
            "name": "stores.xlsx",
            "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "buffer": good,
        },
    )
    await page.click("#u-dry")
    await page.wait_for_selector("#u-result .ok")
    assert "预检通过" in await page.text_content("#u-result .ok")
    assert await pool.fetchval("SELECT count(*) FROM stores") == 2
    await page.click("#u-commit")
    await page.wait_for_function(
        "() => document.querySelector('#u-result .ok')?.innerText.includes('已导入')"
    )
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = 'S3'") == "静安寺店"
    await shot(page, "05-upload-done")

    # Alerts: S2 on its fallback, recorded (no webhook configured here).
    await page.click("nav button[data-view=alerts]")
    await page.wait_for_selector("#alerts-table tbody tr")
    alerts = await page.locator("#alerts-table tbody").inner_text()
    assert "兜底中" in alerts and "S2" in alerts
    await shot(page, "06-alerts")

    # Entry codes: create one pinned to S1; its QR on screen reads {base}/s/{code}.
    await page.click("nav button[data-view=entries]")
    await page.select_option("#e-kind", "store")
    await page.fill("#e-store", "S1")
    await page.fill("#e-code", "S1-desk")
    await page.fill("#e-label", "人民广场店收银台")
    await page.click("#entry-form button[type=submit]")
    card = page.locator(".entry[data-code='S1-desk']")
    await card.wait_for()
    img = card.locator("img")
    await page.wait_for_function(
        "() => { const i = document.querySelector(\".entry[data-code='S1-desk'] img\");"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    png = await img.screenshot()
    assert zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))[0].text == f"{BASE}/s/S1-desk"
    await shot(page, "07-entries")

    # A bad entry code is explained, not accepted.
    await page.select_option("#e-kind", "store")
    await page.fill("#e-store", "")
    await page.click("#entry-form button[type=submit]")
    await page.wait_for_selector("#e-error:not([hidden])")
    assert "store_id" in await page.text_content("#e-error")

    # The funnel: totals, a bar per day with scans, the table.
    await page.click("nav button[data-view=funnel]")
    await page.wait_for_selector("#funnel-table tbody tr")
    totals = await page.locator("#funnel-totals div").all_inner_texts()
    assert [t.split("\n")[1] for t in totals[:5]] == [
        "打开页面",
        "扫码",
        "有定位",
        "展示群码",
        "入群",
    ]
    scans = await page.locator("#funnel-totals div[data-measure=scans] b").inner_text()
    assert scans == "21"  # 7 scans a day over 3 days
    await page.wait_for_selector("#chart rect.bar-ok")
    assert await page.locator("#chart rect.bar-ok:not(.key)").count() == 3
    await shot(page, "08-funnel")

    # English on request.
    await page.click("#lang")
    assert await page.text_content("nav button[data-view=health]") == "Group health"
    await page.wait_for_selector("#funnel-table tbody tr")
    await shot(page, "09-funnel-en")

    assert problems == []  # no script errors, no CSP violations
    # The only refusals were the ones this test asked for: who-am-I before signing in, the wrong
    # password, the file with errors, the entry code without its store.
    assert refused == [
        (401, "GET admin/api/session"),
        (401, "POST admin/api/session"),
        (422, "POST admin/api/uploads/stores"),
        (400, "POST admin/api/entries"),
    ]
    assert outside == []  # no third-party requests
    await context.close()


async def test_a_dry_run_shows_the_encoding_and_the_first_rows_as_read(
    chromium: Any, site: Any, pool: asyncpg.Pool
) -> None:
    """A Hong Kong list in Big5: detected, shown as read; a wrong choice is a clear refusal that
    says what fits, whether or not the file decodes in it, before anything is written."""
    context = await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(site.make_url("/admin")))
    await log_in(page, pool)
    await page.wait_for_selector("#health-table tbody tr")
    await page.click("nav button[data-view=uploads]")
    hong_kong = (
        "store_id,name,city,address,lat,lng,coord\r\n"
        + "".join(
            f"HK{i:03d},{name},香港,{address},{22.28 + i / 100:.4f},114.1830,wgs84\r\n"
            for i, (name, address) in enumerate(
                [
                    ("銅鑼灣店", "銅鑼灣軒尼詩道500號"),
                    ("旺角店", "旺角彌敦道688號"),
                    ("尖沙咀店", "尖沙咀廣東道30號"),
                    ("中環店", "皇后大道中99號"),
                    ("觀塘店", "開源道72號"),
                    ("沙田店", "沙田正街18號"),
                ],
                start=1,
            )
        )
    ).encode("big5")
    await page.set_input_files(
        "#u-file", {"name": "香港門店.csv", "mimeType": "text/csv", "buffer": hong_kong}
    )

    async def dry_run(encoding: str) -> None:
        await page.select_option("#u-encoding", encoding)
        await page.click("#u-dry")
        await page.wait_for_selector("#u-result p")

    await dry_run("auto")
    await page.wait_for_selector("#upload-preview")
    note = await page.text_content("#upload-encoding")
    assert note is not None and "Big5（自动识别）" in note and "前 5 行" in note
    cells = await page.locator("#upload-preview tbody tr").all_inner_texts()
    assert len(cells) == 5
    assert cells[0].split("\t")[:3] == ["2", "HK001", "銅鑼灣店"]
    assert await page.is_enabled("#u-commit")
    await shot(page, "08-upload-encoding-preview")

    await dry_run("gb18030")  # a wrong choice that decodes, into garbage: refused, with what fits
    await page.wait_for_selector("#upload-errors")
    refusal = await page.locator("#upload-errors tbody").inner_text()
    assert "not gb18030 text" in refusal and "reads it as big5" in refusal
    assert await page.is_disabled("#u-commit")
    await shot(page, "08b-upload-wrong-encoding")

    await dry_run("utf-8")  # a wrong choice that does not: refused in words
    await page.wait_for_selector("#upload-errors")
    refusal = await page.locator("#upload-errors tbody").inner_text()
    assert "整个文件" in refusal and "not utf-8 text" in refusal
    assert await page.is_disabled("#u-commit")

    await dry_run("big5")
    await page.wait_for_selector("#upload-preview")
    await page.click("#u-commit")
    await page.wait_for_function(
        "() => document.querySelector('#u-result .ok')?.innerText.includes('已导入')"
    )
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = 'HK001'") == "銅鑼灣店"
    assert problems == []
    await context.close()


async def test_the_ops_page_is_served_with_a_strict_policy(site: Any, aiohttp_client: Any) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(site.make_url("/admin")) as r:
        assert r.status == 200
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        page = await r.text()
    assert "{{v}}" not in page and "/static/admin/admin.js?v=" in page
    assert ADMIN_TOKEN not in page
    for asset in ("admin.js", "admin.css"):
        async with (
            aiohttp.ClientSession() as session,
            session.get(site.make_url(f"/static/admin/{asset}")) as r,
        ):
            assert r.status == 200
    assert Path(ARTIFACTS_ROOT).name == "test-artifacts"


async def test_a_wecom_store_shows_its_join_way_and_its_groups(
    chromium: Any, pool: asyncpg.Pool, aiohttp_server: Any, settings: Settings
) -> None:
    from router.keys import WECOM
    from tests.fake_wecom import CORP_ID, SECRET, FakeWeCom

    fake = FakeWeCom()
    wecom = await aiohttp_server(fake.app())
    await seed(pool, [store_row("S1", name="人民广场店"), store_row("S2", name="来福士店")])
    app = create_app(
        settings.with_(
            wecom_corp_id=CORP_ID,
            wecom_secret=SECRET,
            wecom_callback_token="callback-token-of-the-app",
            wecom_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            wecom_api_base=str(wecom.make_url("/cgi-bin")),
        )
    )
    site = await aiohttp_server(app)
    first, second = fake.new_chat(), fake.new_chat()
    fake.add_members(first, 37, state="hm1")
    result = await app[WECOM].sync.enable("S1", [first, second])  # type: ignore[union-attr]
    await app[WECOM].sync.count(first)  # type: ignore[union-attr]
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    await page.goto(str(site.make_url("/admin")))
    await log_in(page, pool)
    await page.locator("#health-table tr[data-store=S1]").click()
    await page.wait_for_selector(".wecom-chats tbody tr")
    panel = await page.locator(".wecom").inner_text()
    assert "企业微信「加入群聊」" in panel and "hm1" in panel and (result.qr_code or "-") in panel
    rows = await page.locator(".wecom-chats tbody tr").all_inner_texts()
    assert first in rows[0] and "37" in rows[0] and "在二维码中" in rows[0]
    s1 = await page.locator("#health-table tr[data-store=S1]").inner_text()
    assert "可用群不足" not in s1  # a join way never runs low: WeCom opens the next chat
    assert "改成员数" not in await page.locator("tr.detail").inner_text()
    await shot(page, "10-wecom-join-way")

    # Another store starts to use WeCom from its detail: ops give the chat they opened in WeCom.
    third = fake.new_chat()
    page.once("dialog", lambda d: d.accept(third))
    await page.locator("#health-table tr[data-store=S2]").click()
    await page.locator("tr[data-store=S2] + tr.detail .wecom-use").click()
    await page.wait_for_selector("#flash:not([hidden])")
    assert await pool.fetchval("SELECT chat_ids FROM wecom_stores WHERE store_id = 'S2'") == [third]
    assert len(fake.join_ways) == 2
    # And the first stops: its join way is deleted in WeCom, its group retired.
    # The table is drawn again with S2's detail open (now with its join way), S1's closed.
    await page.wait_for_selector("tr[data-store=S2] + tr.detail .wecom-chats")
    await page.locator("#health-table tr[data-store=S1]").click()
    stop = page.locator("tr[data-store=S1] + tr.detail .wecom-stop")
    await stop.wait_for()
    page.once("dialog", lambda d: d.accept())
    await stop.click()

    async def stopped() -> bool:
        state = await pool.fetchval("SELECT state FROM groups WHERE group_id = 'wecom-S1'")
        return bool(state == "retired")

    await eventually(stopped)
    assert result.config_id not in fake.join_ways
    await context.close()
