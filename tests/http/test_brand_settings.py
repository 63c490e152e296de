"""The brand as admins edit it on the ops page: each field a database setting over its
HUOMA_BRAND_* default, validated (stable code, Chinese first, every problem in one answer), the
logo uploaded, re-encoded small, stored and served from our origin under a versioned URL,
audited (the logo as its hash), admins only, and served by every app on the database within
seconds of a change."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import asyncpg
import orjson
import pytest
from PIL import Image

from tests.accounts import make_token
from tests.conftest import AUTH, eventually

pytestmark = pytest.mark.db


def picture(fmt: str = "PNG", size: tuple[int, int] = (900, 300), colour: str = "#0a7d5a") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


async def brand(client: Any) -> dict[str, Any]:
    r = await client.get("/admin/api/brand", headers=AUTH)
    assert r.status == 200
    body: dict[str, Any] = await r.json()
    return body


def field(body: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in body["fields"] if f["field"] == name)
    return found


async def page(client: Any) -> str:
    r = await client.get("/s/x")
    assert r.status == 200
    text: str = await r.text()
    return text


async def test_fields_start_from_the_environment_and_an_admin_sets_and_resets_them(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(brand_name="环境咖啡", brand_offer="")
    body = await brand(client)
    name = field(body, "name")
    assert (name["value"], name["source"], name["env"]) == (
        "环境咖啡",
        "environment",
        "HUOMA_BRAND_NAME",
    )
    assert body["logo"] is None
    r = await client.put(
        "/admin/api/brand",
        json={"name": " 示例咖啡 ", "theme_colour": "#C8102E", "offer": "进群领3张8折券"},
        headers=AUTH,
    )
    assert r.status == 200, await r.text()
    body = await r.json()
    assert field(body, "name")["value"] == "示例咖啡"  # spaces around it dropped
    assert field(body, "name")["source"] == "database"
    assert field(body, "theme_colour")["value"] == "#c8102e"
    html = await page(client)
    assert "<title>示例咖啡</title>" in html and "进群领3张8折券" in html
    css = re.search(r"/static/h5/style\.css\?v=([0-9a-f]+)", html)
    assert css
    sheet = await client.get(f"/static/h5/style.css?v={css.group(1)}")
    assert "--brand:#c8102e" in await sheet.text()
    # null: back to the environment's value.
    r = await client.put("/admin/api/brand", json={"name": None}, headers=AUTH)
    assert r.status == 200
    assert field(await r.json(), "name")["source"] == "environment"
    assert "<title>环境咖啡</title>" in await page(client)
    assert await pool.fetchval("SELECT count(*) FROM ops_settings WHERE name = 'brand_name'") == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": ""}, ["品牌名称必填", "name: required"]),
        ({"name": "名" * 21}, ["品牌名称最多 20 个字", "name: at most 20"]),
        ({"offer": "福利\n换行"}, ["福利语不能换行", "offer: no control"]),
        ({"footer": 5}, ["页脚必须是文字", "footer: must be text"]),
        ({"theme_colour": "red"}, ["主题色须为 #rrggbb", "theme_colour: expected #rrggbb"]),
        ({"theme_colour": "#12345"}, ["主题色"]),
        ({"caption_group": "长" * 41}, ["群码说明最多 40 个字"]),
        ({"location_purpose": "长" * 121}, ["定位用途说明最多 120 个字"]),
        ({"call_to_action": " "}, ["台卡引导语必填"]),
        ({"logo": "not-a-hash"}, ["品牌标志须为", "brand_logo"]),
        ({"logo": "0" * 64}, ["没有这个品牌标志"]),
        ({"colour": "#ffffff"}, ["未知的品牌字段：colour"]),
        ({}, ["没有要修改的字段"]),
        # Every problem of one request in one answer, nothing stored.
        ({"name": "", "theme_colour": "blue"}, ["name: required", "theme_colour: expected"]),
    ],
)
async def test_a_bad_brand_value_is_refused_with_a_stable_code_chinese_first(
    pool: asyncpg.Pool, make_client: Any, body: dict[str, Any], words: list[str]
) -> None:
    client = await make_client()
    before = await page(client)
    r = await client.put("/admin/api/brand", json=body, headers=AUTH)
    assert r.status == 400
    error = (await r.json())["error"]
    assert error["code"] == "bad_brand"
    assert "\u4e00" <= error["message"][0] <= "\u9fff"
    for w in words:
        assert w in error["message"]
    assert await pool.fetchval("SELECT count(*) FROM ops_settings") == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0
    assert await page(client) == before


async def test_the_generic_settings_route_checks_brand_values_the_same_way(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    r = await client.put(
        "/admin/api/settings/brand_theme_colour", json={"value": "#zzzzzz"}, headers=AUTH
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "bad_brand"
    r = await client.put("/admin/api/settings/brand_logo", json={"value": "a" * 64}, headers=AUTH)
    assert r.status == 400 and "没有这个品牌标志" in (await r.json())["error"]["message"]
    assert await pool.fetchval("SELECT count(*) FROM ops_settings") == 0
    r = await client.put("/admin/api/settings/brand_footer", json={"value": "页脚"}, headers=AUTH)
    assert r.status == 200
    assert "页脚" in await page(client)


async def test_a_logo_is_re_encoded_small_stored_served_with_long_caching_and_audited_as_a_hash(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    source = picture("JPEG", (2400, 800))
    r = await client.post("/admin/api/brand/logo", data=source, headers=AUTH)
    assert r.status == 200, await r.text()
    logo = (await r.json())["logo"]
    assert (logo["width"], logo["height"]) == (192, 64)
    assert logo["bytes"] < 4096 < len(source)
    row = await pool.fetchrow("SELECT sha256, png FROM brand_logos")
    assert row["sha256"] == logo["sha256"] == hashlib.sha256(row["png"]).hexdigest()
    served = await client.get(logo["url"])
    assert served.status == 200 and served.content_type == "image/png"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert await served.read() == bytes(row["png"])
    assert logo["url"] in await page(client)
    # The audit trail names the logo by its hash; its bytes are nowhere in it.
    record = await pool.fetchrow(
        "SELECT * FROM audit_log WHERE target = 'brand_logo' ORDER BY id DESC LIMIT 1"
    )
    assert record["kind"] == "setting.change" and record["actor"] == "token#1"
    assert logo["sha256"] in record["summary"]
    text = orjson.dumps(dict(record), default=str).decode()
    assert len(text) < 2000
    # "" for no logo; then back to the uploaded one by its hash, without uploading it again.
    r = await client.put("/admin/api/brand", json={"logo": ""}, headers=AUTH)
    assert (await r.json())["logo"] is None
    assert "/brand/logo.png" not in await page(client)
    assert (await client.get(logo["url"])).status == 404
    r = await client.put("/admin/api/brand", json={"logo": logo["sha256"]}, headers=AUTH)
    assert (await r.json())["logo"]["url"] == logo["url"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"GIF89a" + b"\0" * 64, "not a readable picture"),
        (picture("GIF"), "PNG, JPEG or WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not a readable picture"),
    ],
)
async def test_what_is_not_a_bounded_png_jpeg_or_webp_is_refused_as_a_logo(
    pool: asyncpg.Pool, make_client: Any, data: bytes, words: str
) -> None:
    client = await make_client()
    r = await client.post("/admin/api/brand/logo", data=data, headers=AUTH)
    assert r.status == 400
    error = (await r.json())["error"]
    assert error["code"] == "bad_brand" and words in error["message"]
    assert await pool.fetchval("SELECT count(*) FROM brand_logos") == 0


async def test_a_logo_over_the_byte_bound_is_refused_before_it_is_decoded(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(brand_logo_max_bytes=1000)
    r = await client.post("/admin/api/brand/logo", data=picture() + b"\0" * 2000, headers=AUTH)
    assert r.status == 400
    assert "at most 1000" in (await r.json())["error"]["message"]
    assert await pool.fetchval("SELECT count(*) FROM brand_logos") == 0


async def test_only_an_admin_of_every_region_edits_the_brand(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    for role in ("viewer", "editor"):
        headers = await make_token(pool, f"{role}-brand", role)
        assert (await client.get("/admin/api/brand", headers=headers)).status == 403
        r = await client.put("/admin/api/brand", json={"name": "x"}, headers=headers)
        assert r.status == 403
        r = await client.post("/admin/api/brand/logo", data=picture(), headers=headers)
        assert r.status == 403
    assert await pool.fetchval("SELECT count(*) FROM ops_settings") == 0


async def test_a_brand_change_through_one_app_is_served_by_another_on_the_same_database(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    one = await make_client()
    other = await make_client()
    r = await one.post("/admin/api/brand/logo", data=picture(), headers=AUTH)
    assert r.status == 200
    url = (await r.json())["logo"]["url"]
    r = await one.put(
        "/admin/api/brand",
        json={"name": "第二家", "offer": "进群立减5元", "theme_colour": "#123456"},
        headers=AUTH,
    )
    assert r.status == 200

    async def served() -> bool:
        html = await page(other)
        return "<title>第二家</title>" in html and "进群立减5元" in html and url in html

    await eventually(served)  # the NOTIFY, within seconds, no restart
    logo = await other.get(url)
    assert logo.status == 200 and "immutable" in logo.headers["Cache-Control"]
    assert (await brand(other))["version"] == (await brand(one))["version"]
    # A reset through the other app reaches the first.
    assert (await other.put("/admin/api/brand", json={"name": None}, headers=AUTH)).status == 200

    async def reverted() -> bool:
        return "<title>第二家</title>" not in await page(one)

    await eventually(reverted)


async def test_a_brand_change_whose_notification_was_missed_is_picked_up_by_the_re_read(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(settings_reread_s=0.2)
    await pool.execute(
        "INSERT INTO ops_settings (name, value, updated_by) VALUES ('brand_name', '\"暗改\"', 'x')"
    )

    async def applied() -> bool:
        return "<title>暗改</title>" in await page(client)

    await eventually(applied)
