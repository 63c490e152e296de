"""What the ops page needs to speak to Chinese ops in their words (trial report, item 5): the
brand's time zone with the principal, every setting's meaning in Chinese, the brand's changes
findable as their own kind family in the audit trail, and role refusals naming the roles as the
page does (管理员, 编辑, 只读), Chinese first."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import asyncpg
import orjson
import pytest

from router.ops.auth import ROLE_ZH, Role
from router.store.opsettings import DECLARED
from router.web.app import create_app
from tests.accounts import make_token
from tests.conftest import AUTH, seed, store_row

pytestmark = pytest.mark.db

CJK = re.compile(r"[\u4e00-\u9fff]")


async def test_the_session_tells_the_page_the_brands_time_zone(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(timezone="Asia/Urumqi")
    body = await (await client.get("/admin/api/session", headers=AUTH)).json()
    assert body["timezone"] == "Asia/Urumqi"


def test_every_declared_setting_has_a_chinese_meaning() -> None:
    for d in DECLARED.values():
        assert CJK.search(d.zh_meaning), d.name
        # Chinese first: a column or product name may be Latin, the sentence is not.
        latin = len(re.findall(r"[A-Za-z]", d.zh_meaning))
        assert len(CJK.findall(d.zh_meaning)) > 2 * latin, d.name


async def test_the_settings_list_carries_each_settings_chinese_meaning(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    body = await (await client.get("/admin/api/settings", headers=AUTH)).json()
    by_name = {s["name"]: s for s in body["settings"]}
    assert set(by_name) == set(DECLARED)
    for name, s in by_name.items():
        assert s["meaning_zh"] == DECLARED[name].zh_meaning
        assert CJK.search(s["label"]) and not CJK.search(s["meaning"]), name


async def test_the_brand_is_a_kind_family_of_the_audit_trail(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    r = await client.put("/admin/api/brand", json={"name": "示例咖啡"}, headers=AUTH)
    assert r.status == 200, await r.text()
    r = await client.put("/admin/api/settings/alert_cooldown_s", json={"value": 60}, headers=AUTH)
    assert r.status == 200, await r.text()

    async def kinds(kind: str) -> list[tuple[str, str]]:
        response = await client.get("/admin/api/audit", params={"kind": kind}, headers=AUTH)
        assert response.status == 200
        return [(x["kind"], x["target"]) for x in (await response.json())["records"]]

    assert await kinds("brand") == [("setting.change", "brand_name")]
    # The settings family still holds every setting, the brand's among them.
    assert set(await kinds("setting")) == {
        ("setting.change", "brand_name"),
        ("setting.change", "alert_cooldown_s"),
    }


async def test_a_role_refusal_names_the_roles_in_chinese_first(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [])
    client = await make_client()
    for role, path in (("editor", "/admin/api/settings"), ("viewer", "/admin/api/audit")):
        headers = await make_token(pool, f"cd-{role}", role)
        r = await client.get(path, headers=headers)
        assert r.status == 403
        error = (await r.json())["error"]
        assert error["code"] == "forbidden"
        message = error["message"]
        assert message.startswith("这项操作需要「管理员」角色"), message
        assert f"是「{ROLE_ZH[Role(role)]}」" in message
        assert "this needs admin" in message  # English still there, after the Chinese
    viewer = await make_token(pool, "cd-viewer2", "viewer")
    r = await client.post("/admin/api/groups/G1/retire", headers=viewer)
    assert r.status == 403
    assert "需要「编辑」角色" in (await r.json())["error"]["message"]


async def test_the_site_has_its_own_small_icon(pool: asyncpg.Pool, make_client: Any) -> None:
    """Every page's browser asks for /favicon.ico: it gets an icon from our origin, no 404."""
    client = await make_client()
    r = await client.get("/favicon.ico")
    assert r.status == 200
    assert r.content_type == "image/x-icon"
    body = await r.read()
    from PIL import Image

    icon = Image.open(io.BytesIO(body))
    assert icon.format == "ICO" and icon.size[0] in (16, 32)
    assert len(body) < 16_384


async def _raw(site: Any, line: bytes) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection(site.host, site.port)
    writer.write(line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), orjson.loads(body)


async def test_a_request_line_with_raw_non_ascii_is_told_to_encode_it(
    pool: asyncpg.Pool, aiohttp_server: Any, settings: Any
) -> None:
    """curl with unencoded Chinese in the query was told its (short) line was past 8 KiB. Raw
    bytes beyond ASCII in the path or query now say to percent-encode; a line that is really too
    long still says 8 KiB; other unreadable lines claim neither."""
    from aiohttp import http_parser

    if http_parser.HttpRequestParser is http_parser.HttpRequestParserPy:
        pytest.skip("the pure-Python parser accepts raw UTF-8 in the request line")
    site = await aiohttp_server(create_app(settings))
    for line in (
        "GET /api/v1/route?lat=30.66&lng=104.06&city=成都 HTTP/1.1",
        "GET /s/成都店 HTTP/1.1",
    ):
        status, body = await _raw(site, line.encode())
        assert status == 400
        message = body["error"]["message"]
        assert message.startswith("请求地址含有未经 URL 编码的字符（例如中文）"), message
        assert "not percent-encoded" in message and "8 KiB" not in message
    status, body = await _raw(site, b"GET /" + b"a" * 9000 + b" HTTP/1.1")
    assert status == 400 and "8 KiB" in body["error"]["message"]
    status, body = await _raw(site, b"GET /api/v1/route?x=\x01 HTTP/1.1")
    assert status == 400
    assert "8 KiB" not in body["error"]["message"]
    assert "URL 编码" not in body["error"]["message"]
