"""A group's QR image is rendered once per deployment: other workers (and this one after a
restart) take it from PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from router.keys import QR_IMAGES
from router.settings import Settings
from router.store.db import create_pool
from tests.conftest import eventually, group_row, qr_path, scan, seed, store_row

pytestmark = pytest.mark.db


async def test_a_second_worker_takes_the_image_the_first_rendered(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    one = await make_client()
    two = await make_client()
    url = qr_path((await scan(one))["group"]["qr_url"])
    first = await one.get(url)
    assert first.status == 200
    png = await first.read()
    assert one.app[QR_IMAGES].renders == 1

    async def stored() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM qr_images") == 1)

    await eventually(stored)  # written in the background, after the answer
    second = await two.get(url)
    assert second.status == 200 and await second.read() == png
    assert (two.app[QR_IMAGES].renders, two.app[QR_IMAGES].shared_hits) == (0, 1)
    assert await pool.fetchval("SELECT count(*) FROM qr_images") == 1
    # A new payload is a new version: a new image, rendered once more.
    await pool.execute(
        "UPDATE groups SET qr_payload = 'https://weixin.qq.com/g/NEW', qr_version = qr_version + 1"
    )
    await pool.execute("SELECT pg_notify('huoma_catalogue', 'test')")

    async def new_url() -> str | None:
        u = qr_path((await scan(two))["group"]["qr_url"])
        return u if u != url else None

    fresh = await eventually(new_url)
    assert (await two.get(fresh)).status == 200
    assert two.app[QR_IMAGES].renders == 1

    async def both_stored() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM qr_images") == 2)

    await eventually(both_stored)


async def test_without_the_database_the_image_is_rendered_all_the_same(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    client = await make_client()
    url = qr_path((await scan(client))["group"]["qr_url"])
    gone = await create_pool(settings)
    await gone.close()  # every use now fails, as with a database that went away
    client.app[QR_IMAGES].pool = gone
    response = await client.get(url)
    assert response.status == 200
    assert client.app[QR_IMAGES].renders == 1
