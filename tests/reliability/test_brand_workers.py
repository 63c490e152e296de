"""The brand changed through one worker of `huoma serve --workers 2` is served by every worker
within seconds, without a restart: its texts, its colour and its logo."""

from __future__ import annotations

import io

import aiohttp
import asyncpg
import pytest
from PIL import Image

from router.settings import Settings
from tests.conftest import ADMIN_TOKEN, eventually, seed, store_row
from tests.serving import Server

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 200), "#0a7d5a").save(out, "PNG")
    return out.getvalue()


async def test_a_brand_changed_on_one_worker_is_served_by_every_worker(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed(pool, [store_row("S1")])
    server = Server(settings, 2)
    servers.append(server)
    await server.wait_ready(2)
    # A fresh connection per request: the kernel spreads them over both workers.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def seen() -> dict[int, str]:
            """The brand version each worker that answered serves."""
            out: dict[int, str] = {}
            for _ in range(40):
                async with session.get(f"{server.base}/admin/api/brand", headers=AUTH) as r:
                    body = await r.json()
                out[body["worker"]] = body["version"]
            return out

        before = await seen()
        assert len(before) == 2 and len(set(before.values())) == 1
        async with session.post(
            f"{server.base}/admin/api/brand/logo", data=logo(), headers=AUTH
        ) as r:
            assert r.status == 200, await r.text()
        async with session.put(
            f"{server.base}/admin/api/brand",
            json={"name": "两进程咖啡", "theme_colour": "#0a7d5a", "offer": "进群领券"},
            headers=AUTH,
        ) as r:
            assert r.status == 200, await r.text()
            after = await r.json()
        assert after["version"] not in before.values()
        url = after["logo"]["url"]

        async def everywhere() -> bool:
            now = await seen()
            return len(now) == 2 and set(now.values()) == {after["version"]}

        await eventually(everywhere, within=10.0)
        # Whichever worker answers: the page wears the new brand and the logo is served.
        for _ in range(10):
            async with session.get(f"{server.base}/s/x") as r:
                html = await r.text()
            assert "<title>两进程咖啡</title>" in html and "进群领券" in html and url in html
            async with session.get(f"{server.base}{url}") as r:
                assert r.status == 200 and r.content_type == "image/png"
                assert "immutable" in r.headers["Cache-Control"]
