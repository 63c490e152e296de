"""A setting changed through one worker of `huoma serve --workers 2` is applied by the other
within seconds, without a restart."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest

from router.settings import Settings
from tests.conftest import ADMIN_TOKEN, eventually, seed, store_row
from tests.serving import Server

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NO_COORD = "store_id,name,city,address,lat,lng\nS9,九店,上海,人民路 9 号,31.2304,121.4737\n"


async def test_a_setting_changed_on_one_worker_is_applied_by_every_worker(
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
            """Which value of upload_default_coord each worker that answered applies."""
            out: dict[int, str] = {}
            for _ in range(40):
                async with session.get(f"{server.base}/admin/api/settings", headers=AUTH) as r:
                    body = await r.json()
                (coord,) = [s for s in body["settings"] if s["name"] == "upload_default_coord"]
                out[body["worker"]] = coord["value"]
            return out

        before = await seen()
        assert len(before) == 2 and set(before.values()) == {""}
        async with session.put(
            f"{server.base}/admin/api/settings/upload_default_coord",
            json={"value": "gcj02"},
            headers=AUTH,
        ) as r:
            assert r.status == 200

        async def everywhere() -> bool:
            now = await seen()
            return len(now) == 2 and set(now.values()) == {"gcj02"}

        await eventually(everywhere, within=10.0)
        # And it is used: a store row without coord uploads on whichever worker takes it.
        for _ in range(6):
            async with session.post(
                f"{server.base}/admin/api/uploads/stores?filename=s.csv",
                data=NO_COORD.encode(),
                headers=AUTH,
            ) as r:
                assert r.status == 200, await r.text()
    assert await pool.fetchval("SELECT source_coord FROM stores WHERE store_id = 'S9'") == "gcj02"
