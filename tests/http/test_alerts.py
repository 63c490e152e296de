"""Alerts reach ops through a WeCom group robot: once per condition, with a cool-down, within the
robot's limits. The receiver here follows the robot's documented request and answer."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web

from router.keeper import sweep as keeper
from router.keeper.alerts import MAX_CONTENT_BYTES, POSTS_PER_MINUTE, AlertSender
from router.keeper.providers import OpsProvider
from router.settings import Settings
from router.store import sql
from tests.conftest import ADMIN_TOKEN, group_row, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


class Robot:
    """A WeCom group robot: POST /cgi-bin/webhook/send?key=... with a markdown message."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}

    async def send(self, request: web.Request) -> web.Response:
        if request.query.get("key") != KEY:
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        body = orjson.loads(await request.read())
        assert request.content_type == "application/json"
        assert body["msgtype"] == "markdown"
        content = body["markdown"]["content"]
        assert isinstance(content, str) and 0 < len(content.encode()) <= MAX_CONTENT_BYTES
        if self.answer["errcode"] == 0:
            self.messages.append(content)
        return web.json_response(self.answer)


@pytest.fixture
async def robot(aiohttp_server: Any) -> tuple[Robot, str]:
    bot = Robot()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", bot.send)
    server = await aiohttp_server(app)
    return bot, str(server.make_url(f"/cgi-bin/webhook/send?key={KEY}"))


async def sweep(pool: asyncpg.Pool, settings: Settings, sender: AlertSender) -> None:
    await keeper.sweep(pool, settings, OpsProvider(), sender)


async def deliveries(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT kind, store_id, delivery FROM alerts ORDER BY id")
    return [(r["kind"], r["store_id"], r["delivery"]) for r in rows]


async def test_a_store_running_dry_is_posted_once_in_markdown(
    pool: asyncpg.Pool, settings: Settings, robot: tuple[Robot, str]
) -> None:
    bot, url = robot
    settings = settings.with_(alert_webhook_url=url, low_water=2)
    await seed(
        pool,
        [store_row("S1", name="人民广场店"), store_row("S2")],
        [group_row("G1", "S2"), group_row("G2", "S2")],
    )
    sender = AlertSender(settings)
    try:
        await sweep(pool, settings, sender)
        assert len(bot.messages) == 1
        text = bot.messages[0]
        assert text.startswith("**活码告警 Huoma alerts** (2)")
        assert "兜底中" in text and "可用群不足" in text and "**S1 人民广场店**" in text
        assert "S2" not in text
        assert await deliveries(pool) == [
            ("low_groups", "S1", "sent"),
            ("on_fallback", "S1", "sent"),
        ]
        await sweep(pool, settings, sender)
        await sweep(pool, settings, sender)
        assert len(bot.messages) == 1  # still the same conditions: nothing new to say
    finally:
        await sender.close()


async def test_a_flapping_store_is_not_posted_again_within_the_cooldown(
    pool: asyncpg.Pool, settings: Settings, robot: tuple[Robot, str]
) -> None:
    bot, url = robot
    settings = settings.with_(alert_webhook_url=url, low_water=1, alert_cooldown_s=3600)
    await seed(pool, [store_row("S1")])
    sender = AlertSender(settings)
    try:
        await sweep(pool, settings, sender)
        assert len(bot.messages) == 1
        await seed(pool, [store_row("S1")], [group_row("G1")])  # ops upload a group: resolved
        await sweep(pool, settings, sender)
        assert await pool.fetchval("SELECT count(*) FROM alerts WHERE resolved_at IS NULL") == 0
        await pool.execute("UPDATE groups SET state = 'retired'")  # and it is gone again
        await sweep(pool, settings, sender)
        assert len(bot.messages) == 1
        assert [d for *_, d in await deliveries(pool)].count("suppressed") == 2
        # Without a cool-down, the next flap is posted.
        quick = settings.with_(alert_cooldown_s=0)
        impatient = AlertSender(quick)
        await pool.execute("UPDATE groups SET state = 'standby'")
        await sweep(pool, quick, impatient)
        await pool.execute("UPDATE groups SET state = 'retired'")
        await sweep(pool, quick, impatient)
        await impatient.close()
        assert len(bot.messages) == 2
    finally:
        await sender.close()


async def test_a_group_about_to_expire_is_posted_and_resolved_when_renewed(
    pool: asyncpg.Pool, settings: Settings, robot: tuple[Robot, str]
) -> None:
    bot, url = robot
    settings = settings.with_(alert_webhook_url=url, low_water=1, alert_expiry_h=24)
    await seed(pool, [store_row("S1")], [group_row("G1")])
    await pool.execute("UPDATE groups SET expires_at = now() + interval '5 hours'")
    sender = AlertSender(settings)
    try:
        await sweep(pool, settings, sender)
        assert (
            len(bot.messages) == 1 and "群码将过期" in bot.messages[0] and "G1" in bot.messages[0]
        )
        row = await pool.fetchrow("SELECT kind, group_id, resolved_at FROM alerts")
        assert (row["kind"], row["group_id"], row["resolved_at"]) == ("group_expiring", "G1", None)
        await pool.execute("UPDATE groups SET expires_at = now() + interval '7 days'")
        await sweep(pool, settings, sender)
        assert await pool.fetchval("SELECT resolved_at FROM alerts") is not None
    finally:
        await sender.close()


async def test_a_refusing_robot_keeps_alerts_pending_until_it_takes_them(
    pool: asyncpg.Pool, settings: Settings, robot: tuple[Robot, str]
) -> None:
    bot, url = robot
    settings = settings.with_(alert_webhook_url=url, low_water=1)
    await seed(pool, [store_row("S1")])
    sender = AlertSender(settings)
    try:
        bot.answer = {"errcode": 45009, "errmsg": "api freq out of limit"}
        await sweep(pool, settings, sender)
        assert {d for *_, d in await deliveries(pool)} == {"pending"}
        bot.answer = {"errcode": 0, "errmsg": "ok"}
        await sweep(pool, settings, sender)
        assert {d for *_, d in await deliveries(pool)} == {"sent"}
        assert len(bot.messages) == 1
    finally:
        await sender.close()


async def test_many_alerts_are_split_within_the_robots_size_and_rate_limits(
    pool: asyncpg.Pool, settings: Settings, robot: tuple[Robot, str]
) -> None:
    bot, url = robot
    settings = settings.with_(alert_webhook_url=url, low_water=1)
    stores = [store_row(f"S{i:04d}", name="很长的门店名称" * 6) for i in range(1500)]
    await seed(pool, stores)
    for s in stores:
        await pool.execute(sql.RAISE_ALERT, "on_fallback", s["store_id"], "no usable group")
    sender = AlertSender(settings)
    try:
        async with pool.acquire() as conn:
            await sender.deliver(conn)
            await sender.deliver(conn)
        assert len(bot.messages) == POSTS_PER_MINUTE  # the rest waits for the next minute
        assert all(len(m.encode()) <= MAX_CONTENT_BYTES for m in bot.messages)
        sent = await pool.fetchval("SELECT count(*) FROM alerts WHERE delivery = 'sent'")
        pending = await pool.fetchval("SELECT count(*) FROM alerts WHERE delivery = 'pending'")
        assert sent > 0 and pending > 0 and sent + pending == 1500
        assert sum(m.count("\n> ") + 1 for m in bot.messages) >= sent
    finally:
        await sender.close()


async def test_without_a_webhook_alerts_are_recorded_only(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    settings = settings.with_(alert_webhook_url="", low_water=1)
    await seed(pool, [store_row("S1")])
    sender = AlertSender(settings)
    await sweep(pool, settings, sender)
    assert {d for *_, d in await deliveries(pool)} == {"off"}


async def test_ops_read_alerts_with_their_delivery(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    settings = settings.with_(low_water=1)
    await seed(pool, [store_row("S1", name="人民广场店")])
    await sweep(pool, settings, AlertSender(settings))
    # The app's own keeper sweeps too: with the same low-water mark, so it agrees with this one.
    client = await make_client(low_water=1)
    body = await (await client.get("/admin/api/alerts?open=1", headers=AUTH)).json()
    assert body["total"] == 2
    assert {(a["kind"], a["store_id"], a["store_name"], a["delivery"]) for a in body["alerts"]} == {
        ("on_fallback", "S1", "人民广场店", "off"),
        ("low_groups", "S1", "人民广场店", "off"),
    }
    await seed(pool, [store_row("S1")], [group_row("G1")])
    await sweep(pool, settings, AlertSender(settings))
    assert (await (await client.get("/admin/api/alerts?open=1", headers=AUTH)).json())["total"] == 0
    assert (await (await client.get("/admin/api/alerts", headers=AUTH)).json())["total"] == 2
    assert (await client.get("/admin/api/alerts")).status == 401
    assert (
        await client.get("/admin/api/alerts", headers={"Authorization": "Bearer x" * 3})
    ).status == 401
    assert (await client.get("/admin/api/alerts?limit=x", headers=AUTH)).status == 400
