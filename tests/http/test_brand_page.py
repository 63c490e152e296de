"""The customer page, its stylesheet and logo made from the brand: served from our origin, the
brand's look in the one versioned stylesheet, a brand change served at once, gzip to browsers
that take it; an entry code's campaign copy set through the ops API."""

from __future__ import annotations

import asyncio
import gzip
import io
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from PIL import Image

from router.keys import BRAND
from tests.conftest import seed, store_row

pytestmark = pytest.mark.db

TOKEN = "t" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def version(html: str, asset: str) -> str:
    found = re.search(rf"/static/h5/{asset}\?v=([0-9a-f]+)", html)
    assert found
    return found.group(1)


async def test_the_brand_is_in_the_page_and_its_one_versioned_stylesheet(
    pool: asyncpg.Pool, make_client: Any, tmp_path: Path
) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (1200, 400), "#c8102e").save(logo)
    client = await make_client(
        brand_name="示例<咖啡>",
        brand_offer='进群领3张8折券 "限时"',
        brand_theme_colour="#C8102E",
        brand_logo_path=str(logo),
    )
    html = await (await client.get("/s/x")).text()
    assert "<title>示例&lt;咖啡&gt;</title>" in html  # escaped, never markup
    assert "进群领3张8折券 &quot;限时&quot;" in html
    assert "{{" not in html
    assert "style=" not in html and "<script>" not in html  # the strict policy stays
    css = await client.get(f"/static/h5/style.css?v={version(html, 'style.css')}")
    assert "immutable" in css.headers["Cache-Control"]
    assert "--brand:#c8102e" in await css.text()
    src = re.search(r'<img src="(/brand/logo\.png\?v=[0-9a-f]+)" alt="" width="192"', html)
    assert src
    response = await client.get(src.group(1))
    assert response.status == 200 and "immutable" in response.headers["Cache-Control"]
    image = Image.open(io.BytesIO(await response.read()))
    assert (image.format, image.size) == ("PNG", (192, 64))
    # Asked without the current version (an old page), it is not cached for long.
    response = await client.get("/brand/logo.png?v=old")
    assert "immutable" not in response.headers["Cache-Control"]


async def test_without_a_logo_there_is_none_to_fetch(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client()
    html = await (await client.get("/s/x")).text()
    assert "/brand/logo.png" not in html
    response = await client.get("/brand/logo.png")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_a_brand_change_is_served_with_the_next_request(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    html = await (await client.get("/s/x")).text()
    before = version(html, "style.css")
    source = client.app[BRAND]
    source.replace(replace(source.current(), name="新品牌", theme_colour="#00704a"))
    html = await (await client.get("/s/x")).text()
    assert "<title>新品牌</title>" in html
    after = version(html, "style.css")
    assert after != before
    css = await (await client.get(f"/static/h5/style.css?v={after}")).text()
    assert "--brand:#00704a" in css


async def test_the_page_and_its_assets_go_gzipped_and_stay_small(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    plain = wire = 0
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        base = str(client.make_url("/"))
        async with session.get(base + "s/x", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            body = await r.read()
            html = gzip.decompress(body).decode()
            plain, wire = len(html), len(body)
        for asset in ("app.js", "style.css"):
            url = f"{base}static/h5/{asset}?v={version(html, asset)}"
            async with session.get(url, headers={"Accept-Encoding": "gzip"}) as r:
                assert r.headers["Vary"] == "Accept-Encoding"
                body = await r.read()
                plain += len(gzip.decompress(body))
                wire += len(body)
            async with session.get(url, headers={"Accept-Encoding": "identity"}) as r:
                assert "Content-Encoding" not in r.headers
    # Today's page (before the brand) was 18,942 bytes uncompressed and sent so.
    assert wire < 18_942 * 1.10 / 2, (plain, wire)
    assert plain < 30_000, plain


async def test_an_entry_codes_campaign_copy_is_set_through_the_ops_api(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")])
    await pool.execute("INSERT INTO entries (code, kind) VALUES ('poster-1', 'poster')")
    client = await make_client(admin_tokens=(TOKEN,))
    url = "/admin/api/entries/poster-1/campaign"
    response = await client.put(url, json={"campaign": " 海报专享：进群领免单券 "}, headers=AUTH)
    assert response.status == 200, await response.text()
    assert await response.json() == {"code": "poster-1", "campaign": "海报专享：进群领免单券"}
    for _ in range(100):
        body = await (await client.get("/api/v1/route?store=S1&entry=poster-1")).json()
        if body["campaign"]:
            break
        await asyncio.sleep(0.05)
    assert body["campaign"] == "海报专享：进群领免单券"
    body = await (await client.get("/api/v1/route?store=S1&entry=other")).json()
    assert body["campaign"] is None
    for bad, code, status in [
        ({"campaign": "x" * 41}, "bad_campaign", 400),
        ({"campaign": "a\nb"}, "bad_campaign", 400),
        ({"campaign": 3}, "bad_campaign", 400),
    ]:
        response = await client.put(url, json=bad, headers=AUTH)
        assert (response.status, (await response.json())["error"]["code"]) == (status, code)
    response = await client.put(
        "/admin/api/entries/nope/campaign", json={"campaign": ""}, headers=AUTH
    )
    assert (response.status, (await response.json())["error"]["code"]) == (404, "entry_not_found")
    response = await client.put(url, json={"campaign": ""})
    assert response.status == 401
