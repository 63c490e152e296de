"""Store links: one store only, expiring, revocable, rate limited, never listed."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
import qrcode
import zxingcpp
from PIL import Image

from router.ops.links import StoreLinkSigner
from router.ops.ocr import available
from tests.accounts import make_token
from tests.conftest import AUTH, TEST_SECRET, eventually, group_row, qr_path, scan, seed, store_row
from tests.pictures import cjk_font_file, screenshot, wechat_card

SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def picture(payload: str) -> bytes:
    buf = io.BytesIO()
    qrcode.make(payload).save(buf, format="PNG")
    return buf.getvalue()


async def links(client: Any, *store_ids: str) -> dict[str, str]:
    response = await client.post(
        "/admin/api/store-links",
        json={"store_ids": list(store_ids), "lang": "en"},
        headers=AUTH,
    )
    assert response.status == 200, await response.text()
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    return {r["store_id"]: r["link"] for r in rows}


def token_of(link: str) -> dict[str, str]:
    token = re.search(r"#t=(.+)$", link)
    assert token is not None and link.startswith("http://huoma.test/store/")
    return {"Authorization": f"StoreLink {token[1]}"}


async def seeded(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2", lat=31.3)],
        [group_row("G1"), group_row("G2", position=1), group_row("G3", "S2")],
    )


async def test_a_link_reaches_its_store_and_nothing_else(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    s1 = token_of((await links(client, "S1"))["S1"])
    page = await (await client.get("/admin/api/link/store", headers=s1)).json()
    assert page["store_id"] == "S1" and [g["group_id"] for g in page["groups"]] == ["G1", "G2"]
    # Another store's group is not there, whatever is asked of it.
    for path in ("/admin/api/link/groups/G3/full", "/admin/api/link/groups/NOPE/full"):
        response = await client.post(path, headers=s1)
        assert response.status == 404, path
    response = await client.post(
        "/admin/api/link/groups/G3/code", data=picture("https://weixin.qq.com/g/X"), headers=s1
    )
    assert response.status == 404
    # Nothing of the ops API: no lists, no uploads, no other store, no link issuing or listing.
    for method, path in [
        ("GET", "/admin/api/alerts"),
        ("GET", "/admin/api/stores/S1/groups"),
        ("GET", "/admin/api/stores/S2/groups"),
        ("GET", "/admin/api/exports/stores.csv"),
        ("POST", "/admin/api/uploads/groups"),
        ("POST", "/admin/api/groups/G3/retire"),
        ("POST", "/admin/api/store-links"),
        ("GET", "/admin/api/store-links/S1/qr.png"),
        ("POST", "/admin/api/store-links/revoke-all"),
        ("GET", "/admin/api/store-links"),
    ]:
        response = await client.request(method, path, headers=s1)
        assert response.status in (403, 405), (method, path, response.status)
    # ...and an admin token is not a store link.
    assert (await client.get("/admin/api/link/store", headers=AUTH)).status == 403


async def test_expired_forged_and_revoked_links_are_refused(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    signer = StoreLinkSigner(TEST_SECRET.encode())
    expired = {"Authorization": f"StoreLink {signer.sign('S1', 0, 0, int(time.time()) - 1)}"}
    forged = {"Authorization": f"StoreLink {StoreLinkSigner(b'other').sign('S1', 0, 0, 2**40)}"}
    for headers in (expired, forged):
        response = await client.get("/admin/api/link/store", headers=headers)
        assert response.status == 401
    first = await links(client, "S1", "S2")
    s1, s2 = token_of(first["S1"]), token_of(first["S2"])
    # One store's links revoked: that store's stop, the other's work.
    assert (await client.post("/admin/api/store-links/S1/revoke", headers=AUTH)).status == 200
    response = await client.get("/admin/api/link/store", headers=s1)
    assert response.status == 401 and (await response.json())["error"]["code"] == "link_revoked"
    assert (await client.get("/admin/api/link/store", headers=s2)).status == 200
    again = token_of((await links(client, "S1"))["S1"])
    assert (await client.get("/admin/api/link/store", headers=again)).status == 200
    # All at once.
    assert (await client.post("/admin/api/store-links/revoke-all", headers=AUTH)).status == 200
    for headers in (again, s2):
        assert (await client.get("/admin/api/link/store", headers=headers)).status == 401
    assert (await client.post("/admin/api/store-links/S9/revoke", headers=AUTH)).status == 404


async def test_a_leaked_link_is_rate_limited(pool: asyncpg.Pool, make_client: Any) -> None:
    await seeded(pool)
    client = await make_client(rate_store_link_per_minute=1, rate_store_link_burst=3)
    s1 = token_of((await links(client, "S1"))["S1"])
    statuses = [(await client.get("/admin/api/link/store", headers=s1)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_a_new_code_from_a_picture_patches_only_its_store(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    s1 = token_of((await links(client, "S1"))["S1"])
    old = (await scan(client))["group"]
    assert old["id"] == "G1"
    url = "/admin/api/link/groups/G1/code"
    for data, code in [
        (b"not a picture", "not_a_picture"),
        (picture("https://example.com/pay"), "wrong_code_kind"),
        (picture("https://weixin.qq.com/g/TESTG3"), "code_in_use"),
    ]:
        response = await client.post(url, data=data, headers=s1)
        assert response.status in (409, 422) and (await response.json())["error"]["code"] == code
    response = await client.post(url, data=picture("https://weixin.qq.com/g/NEWCODE"), headers=s1)
    assert response.status == 200, await response.text()

    async def new_code() -> Any:
        answer = (await scan(client))["group"]
        return answer if answer["qr_url"] != old["qr_url"] else None

    answer = await eventually(new_code)
    image = await client.get(qr_path(answer["qr_url"]))
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(await image.read())))
    assert [r.text for r in decoded] == ["https://weixin.qq.com/g/NEWCODE"]
    assert (await client.get(qr_path(old["qr_url"]))).status in (404, 410)
    metrics = await (await client.get("/metrics")).text()
    assert 'huoma_catalogue_reloads_total{result="patch"} 1.0' in metrics
    # "This group is full": customers get the next group.
    assert (await client.post("/admin/api/link/groups/G1/full", headers=s1)).status == 200

    async def next_group() -> bool:
        return (await scan(client))["group"]["id"] == "G2"

    await eventually(next_group)


async def test_the_printable_qr_opens_the_store_page(pool: asyncpg.Pool, make_client: Any) -> None:
    await seeded(pool)
    client = await make_client()
    response = await client.get("/admin/api/store-links/S2/qr.png", headers=AUTH)
    assert response.status == 200 and response.content_type == "image/png"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(await response.read())))
    s2 = token_of(code.text)
    assert (await (await client.get("/admin/api/link/store", headers=s2)).json())["name"] == (
        "Store S2"
    )
    page = await client.get("/store/")
    assert page.status == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]


def two_codes() -> bytes:
    a = qrcode.make("https://weixin.qq.com/g/A").get_image().convert("RGB")
    b = qrcode.make("https://weixin.qq.com/g/B").get_image().convert("RGB")
    canvas = Image.new("RGB", (a.width + b.width + 40, max(a.height, b.height)), "white")
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width + 40, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()


def blank(size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), "white").save(buf, format="PNG")
    return buf.getvalue()


async def test_pictures_are_bounded_and_must_hold_exactly_one_code(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client(
        store_link_picture_max_pixels=250_000, store_link_picture_max_bytes=64 * 1024
    )
    s1 = token_of((await links(client, "S1"))["S1"])
    url = "/admin/api/link/groups/G1/code"
    for data, status, code in [
        (blank(100), 422, "no_code"),
        (two_codes(), 422, "several_codes"),
        (blank(600), 413, "picture_too_large"),  # 360,000 pixels: refused before decoding
        (b"\x89PNG" + b"\0" * (64 * 1024 + 1), 413, "payload_too_large"),
    ]:
        response = await client.post(url, data=data, headers=s1)
        assert response.status == status, await response.text()
        assert (await response.json())["error"]["code"] == code
    # Nothing changed.
    assert await pool.fetchval("SELECT qr_version FROM groups WHERE group_id = 'G1'") == 1


# ---- the ops page's rules, readings and expiry -----------------------------------------------


def mac8(headers: dict[str, str]) -> str:
    return headers["Authorization"].rpartition(".")[2][:8]


def exif_screenshot(payload: str, taken: datetime) -> bytes:
    """A phone's JPEG of a group card without a validity line, with its capture time."""
    exif = Image.Exif()
    exif[306] = taken.strftime("%Y:%m:%d %H:%M:%S")
    buf = io.BytesIO()
    wechat_card(payload, validity=None).save(buf, "JPEG", exif=exif, quality=85)
    return buf.getvalue()


async def test_a_store_uploads_with_the_ops_rules_and_sees_what_was_read(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    s1 = token_of((await links(client, "S1"))["S1"])
    url = "/admin/api/link/groups/G1/code"
    # Every kind a group slot cannot take is refused with its reason, as on the ops page.
    for payload in ("https://u.wechat.com/AbCdEf", "wxp://f2f0abc", "https://shop.example/x"):
        response = await client.post(url, data=picture(payload), headers=s1)
        body = await response.json()
        assert response.status == 422 and body["error"]["code"] == "wrong_code_kind", payload
        assert " / " in body["error"]["message"]  # Chinese first, then English
    assert await pool.fetchval("SELECT qr_version FROM groups WHERE group_id = 'G1'") == 1
    # The picture's capture time gives the expiry when nothing better is known.
    taken = (datetime.now(SH) - timedelta(days=1)).replace(microsecond=0)
    form = aiohttp.FormData()
    form.add_field("picture", exif_screenshot("weixin.qq.com/g/FromAlbum1", taken),
                   filename="IMG_0001.jpg", content_type="image/jpeg")  # fmt: skip
    response = await client.post(url, data=form, headers=s1)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["code"]["kind"] == "wechat_group" and body["qr_version"] == 2
    assert body["expiry_source"] == "exif"
    expected = taken + timedelta(days=7)
    assert datetime.fromisoformat(body["expires_at"]) == expected
    stored = await pool.fetchrow("SELECT qr_payload, expires_at FROM groups WHERE group_id='G1'")
    # The scheme a screenshot's code lacked is put back, as the ops page does.
    assert stored["qr_payload"] == "https://weixin.qq.com/g/FromAlbum1"
    assert stored["expires_at"] == expected
    page = await (await client.get("/admin/api/link/store", headers=s1)).json()
    assert page["groups"][0]["expires_at"] == expected.astimezone(UTC).isoformat()
    # A WeCom group code is a group code too.
    response = await client.post(
        "/admin/api/link/groups/G2/code",
        data=picture("https://work.weixin.qq.com/gm/abcdef123"),
        headers=s1,
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["code"]["kind"] == "wecom_group"


@pytest.mark.skipif(not available() or cjk_font_file() is None, reason="needs huoma[ocr], a font")
async def test_a_store_upload_reads_the_card_and_derives_the_expiry_from_it(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    s1 = token_of((await links(client, "S1"))["S1"])
    day = (datetime.now(SH) + timedelta(days=6)).date()
    card = screenshot(
        "https://weixin.qq.com/g/StoreCard01",
        "JPEG",
        angle=2,
        name="静安寺店宝妈群",
        members=128,
        validity=f"该二维码7天内({day.month}月{day.day}日前)有效，重新进入将更新",
    )
    response = await client.post("/admin/api/link/groups/G1/code", data=card, headers=s1)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["ocr"]["status"] == "read", body["ocr"]
    assert body["name"] == "静安寺店宝妈群" and body["member_count"] == 128
    assert body["expiry_source"] == "validity_line"
    start = datetime(day.year, day.month, day.day, tzinfo=SH)
    assert datetime.fromisoformat(body["expires_at"]) == start
    page = await (await client.get("/admin/api/link/store", headers=s1)).json()
    assert page["groups"][0]["member_count"] == 128
    assert page["groups"][0]["name"] == "静安寺店宝妈群"


# ---- the audit trail -------------------------------------------------------------------------


async def audit_records(client: Any, **query: str) -> list[dict[str, Any]]:
    response = await client.get("/admin/api/audit", params=query, headers=AUTH)
    assert response.status == 200, await response.text()
    out: list[dict[str, Any]] = (await response.json())["records"]
    return out


async def test_every_change_made_with_a_link_is_recorded_with_the_link_as_author(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    issued = await links(client, "S1", "S2")
    s1 = token_of(issued["S1"])
    actor = f"link:S1:{mac8(s1)}"
    issues = await audit_records(client, kind="store_link.issue")
    by_store = {r["store_id"]: r for r in issues}
    assert set(by_store) == {"S1", "S2", None}  # one per store, one for the whole issue
    assert all(r["actor"] == "token#1" for r in issues)
    assert actor in by_store["S1"]["summary"]  # ties the link's later changes to this issue
    # A refused upload records nothing; a replaced code and a full group record the link.
    refused = await client.post(
        "/admin/api/link/groups/G1/code", data=picture("wxp://f2f0abc"), headers=s1
    )
    assert refused.status == 422
    assert await audit_records(client, actor=actor) == []
    new_code = "https://weixin.qq.com/g/AuditedNewCode"
    ok = await client.post("/admin/api/link/groups/G1/code", data=picture(new_code), headers=s1)
    assert ok.status == 200, await ok.text()
    assert (await client.post("/admin/api/link/groups/G2/full", headers=s1)).status == 200
    mine = await audit_records(client, actor=actor)
    assert [(r["kind"], r["store_id"], r["target"]) for r in mine] == [
        ("group.full", "S1", "G2"),
        ("group.code_replace", "S1", "G1"),
    ]
    assert "version 1 -> 2" in mine[1]["summary"]
    assert mine[0]["details"]["new"] == "full"
    # The store's own view shows them too; no record holds the code's text or the link.
    store_view = await (await client.get("/admin/api/stores/S1/audit", headers=AUTH)).json()
    assert {"group.full", "group.code_replace"} <= {r["kind"] for r in store_view["records"]}
    everything = json.dumps(await audit_records(client, limit="500"), ensure_ascii=False)
    assert "AuditedNewCode" not in everything and issued["S1"].split("#t=")[1] not in everything
    # Revoking is recorded with the editor as author.
    assert (await client.post("/admin/api/store-links/S1/revoke", headers=AUTH)).status == 200
    assert (await client.post("/admin/api/store-links/revoke-all", headers=AUTH)).status == 200
    revokes = await audit_records(client, kind="store_link")
    kinds = [(r["kind"], r["actor"], r["store_id"]) for r in revokes[:2]]
    assert kinds == [("store_link.revoke_all", "token#1", None),
                     ("store_link.revoke", "token#1", "S1")]  # fmt: skip
    # A change tried with a link revoked meanwhile writes nothing and records nothing.
    late = await client.post("/admin/api/link/groups/G1/full", headers=s1)
    assert late.status == 401
    assert len(await audit_records(client, actor=actor)) == 2


# ---- regions ---------------------------------------------------------------------------------


async def test_a_regional_editor_issues_and_revokes_links_only_for_its_stores(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [
            store_row("SH1", city="上海"),
            store_row("SH2", city="上海", region="华东"),
            store_row("BJ1", city="北京", lat=39.9, lng=116.4),
        ],
        [group_row("G1", "SH1"), group_row("G2", "BJ1")],
    )
    sh = await make_token(pool, "sh", "editor", ("上海",))
    client = await make_client()

    async def issue(body: dict[str, Any], headers: dict[str, str] = sh) -> Any:
        return await client.post(
            "/admin/api/store-links", json={**body, "lang": "en"}, headers=headers
        )

    # A store of another region answers as if it did not exist, alone or among its own.
    for ids in (["BJ1"], ["SH1", "BJ1"], ["NOPE"]):
        response = await issue({"store_ids": ids})
        assert response.status == 404, ids
        assert (await response.json())["error"]["code"] == "store_not_found"
        assert "SH1" not in (await response.json())["error"]["message"]
    for path in ("/admin/api/store-links/BJ1/qr.png", "/admin/api/store-links/NOPE/qr.png"):
        assert (await client.get(path, headers=sh)).status == 404
    for sid in ("BJ1", "NOPE"):
        response = await client.post(f"/admin/api/store-links/{sid}/revoke", headers=sh)
        assert response.status == 404 and (await response.json())["error"]["code"] == (
            "store_not_found"
        )
    # "All" is all of its region; the preview lists only its regions.
    response = await issue({"all": True})
    assert response.status == 200
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert [r["store_id"] for r in rows] == ["SH1"]
    preview = await (await issue({"dry_run": True})).json()
    assert preview["regions"] == [{"region": "上海", "stores": 1}] and preview["stores"] == 0
    assert (await issue({"regions": ["北京"]})).status == 404
    # Its own store: a QR and a revocation; revoke-all is for an admin of every region.
    assert (await client.get("/admin/api/store-links/SH1/qr.png", headers=sh)).status == 200
    assert (await client.post("/admin/api/store-links/SH1/revoke", headers=sh)).status == 200
    sh_admin = await make_token(pool, "sh-admin", "admin", ("上海",))
    for headers in (sh, sh_admin):
        response = await client.post("/admin/api/store-links/revoke-all", headers=headers)
        assert response.status == 403
    # An admin of every region chooses by region (a store's region, else its city) or city.
    preview = await (await issue({"regions": ["上海", "华东"], "dry_run": True}, AUTH)).json()
    assert preview["stores"] == 2 and preview["store_ids"] == ["SH1", "SH2"]
    assert {r["region"] for r in preview["regions"]} == {"上海", "华东", "北京"}
    by_city = await (await issue({"regions": ["北京"], "dry_run": True}, AUTH)).json()
    assert by_city["store_ids"] == ["BJ1"]


async def test_the_choice_of_stores_is_one_way_and_bounded(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    for body in (
        {},
        {"store_ids": ["S1"], "all": True},
        {"store_ids": []},
        {"regions": [""]},
        {"store_ids": "S1"},
        {"all": True, "dry_run": "yes"},
        {"all": True, "format": "pdf"},
    ):
        response = await client.post("/admin/api/store-links", json=body, headers=AUTH)
        assert response.status == 400, body
    response = await client.post(
        "/admin/api/store-links", json={"all": True, "lang": "en"}, headers=AUTH
    )
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert [r["store_id"] for r in rows] == ["S1", "S2"]


async def test_the_issued_sheet_speaks_the_pages_language_and_local_time(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """Ops read the sheet: Chinese headers (English on the English page), the expiry as a local
    time in HUOMA_TIMEZONE, not UTC ISO; the XLSX sheet has a Chinese name too."""
    await seeded(pool)
    client = await make_client(timezone="Asia/Shanghai", store_link_ttl_days=30)
    before = datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai"))
    response = await client.post("/admin/api/store-links", json={"store_ids": ["S1"]}, headers=AUTH)
    assert response.status == 200
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows[0] == ["门店编号", "门店名称", "链接", "有效期至（当地时间）"]
    assert rows[1][0] == "S1"
    expiry = datetime.strptime(rows[1][3], "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai")
    )
    assert (
        timedelta(days=30) - timedelta(minutes=1)
        <= expiry - before
        <= timedelta(days=30, minutes=1)
    )
    english = await client.post(
        "/admin/api/store-links", json={"store_ids": ["S1"], "lang": "en"}, headers=AUTH
    )
    header = next(csv.reader(io.StringIO((await english.read()).decode("utf-8-sig"))))
    assert header == ["store_id", "name", "link", "expires_at (local time)"]
    book = await client.post(
        "/admin/api/store-links", json={"store_ids": ["S1"], "format": "xlsx"}, headers=AUTH
    )
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(await book.read())).worksheets[0]
    assert sheet.title == "门店链接"
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == [
        "门店编号",
        "门店名称",
        "链接",
        "有效期至（当地时间）",
    ]
