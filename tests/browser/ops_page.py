"""What the ops page's browser tests share: a brand of two regions and the token sign-in."""

from __future__ import annotations

from typing import Any

import asyncpg

from router.keeper import sweep as keeper
from router.keeper.providers import OpsProvider
from router.settings import Settings
from tests.accounts import make_account
from tests.conftest import ADMIN_TOKEN, group_row, seed, store_row


async def seed_two_regions(pool: asyncpg.Pool, settings: Settings) -> None:
    """Two stores of 上海 and one of 北京, a group each (states recorded), and an admin `boss`."""
    await seed(
        pool,
        [
            store_row("SH1", name="人民广场店", city="上海"),
            store_row("SH2", name="静安寺店", city="上海", lat=31.2235, lng=121.4452),
            store_row("BJ1", name="王府井店", city="北京", lat=39.9139, lng=116.4103),
        ],
        [group_row("G1", "SH1"), group_row("G2", "SH2"), group_row("G3", "BJ1")],
    )
    await keeper.sweep(pool, settings, OpsProvider())
    await make_account(pool, "boss", "admin")


async def sign_in_with_token(page: Any) -> None:
    """Automation's way in: the admin token, under the sign-in form's fold."""
    await page.click("details.token-login summary")
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("#token-login button[type=submit]")
