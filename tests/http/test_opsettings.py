"""The settings ops own: validated (stable codes, Chinese first), stored over the environment
defaults, shown with where each value came from, applied by every app on the database within
seconds without a restart, and used where they matter (alert robots per region, thresholds, the
default coordinate system of uploads)."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web

from router.keeper import sweep as keeper
from router.keeper.alerts import AlertSender
from router.keeper.providers import OpsProvider
from router.settings import Settings
from router.store.opsettings import OpsSettings, load
from tests.conftest import AUTH, eventually, group_row, seed, store_row

pytestmark = pytest.mark.db

KEY_EAST = "east-key-0123456789abcdef"
KEY_ALL = "all-key-0123456789abcdef"


async def setting(client: Any, name: str) -> dict[str, Any]:
    r = await client.get("/admin/api/settings", headers=AUTH)
    assert r.status == 200
    found: dict[str, Any] = next(s for s in (await r.json())["settings"] if s["name"] == name)
    return found


async def put(client: Any, name: str, value: Any) -> Any:
    return await client.put(f"/admin/api/settings/{name}", json={"value": value}, headers=AUTH)


async def test_each_setting_shows_its_value_and_whether_it_came_from_the_environment_or_ops(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(alert_cooldown_s=900.0)
    s = await setting(client, "alert_cooldown_s")
    assert s["value"] == 900.0 and s["source"] == "environment"
    assert s["env"] == "HUOMA_ALERT_COOLDOWN_S" and s["default"] == 900.0
    assert s["updated_by"] is None
    r = await put(client, "alert_cooldown_s", 60)
    assert r.status == 200
    body = await r.json()
    assert body["value"] == 60.0 and body["source"] == "database"
    assert body["default"] == 900.0 and body["updated_by"] == "token#1"
    r = await client.delete("/admin/api/settings/alert_cooldown_s", headers=AUTH)
    assert r.status == 200
    assert (await r.json())["source"] == "environment"
    assert (await setting(client, "alert_cooldown_s"))["value"] == 900.0
    assert await pool.fetchval("SELECT count(*) FROM ops_settings") == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("alert_cooldown_s", -1),
        ("alert_cooldown_s", "60"),
        ("alert_cooldown_s", True),
        ("alert_cooldown_s", 10**9),
        ("alert_expiry_h", 0),
        ("alert_expiry_h", None),
        ("upload_default_coord", "mercator"),
        ("upload_default_coord", 4326),
        ("alert_webhooks", "https://robot.test/send"),
        ("alert_webhooks", [{"name": "a", "url": "ftp://robot.test"}]),
        ("alert_webhooks", [{"name": "", "url": "https://robot.test/send"}]),
        ("alert_webhooks", [{"name": "new", "regions": ["上海"]}]),  # no url, none stored
        ("alert_webhooks", [{"name": "a", "url": "https://r.test/x", "regions": "上海"}]),
        ("alert_webhooks", [{"name": "a\u0000", "url": "https://r.test/x"}]),
        ("alert_webhooks", [{"name": "a", "url": "https://r.test/\u0000"}]),
        ("alert_webhooks", [{"name": "a", "url": "https://r.test/x", "regions": ["\n"]}]),
        (
            "alert_webhooks",
            [{"name": "a", "url": "https://r.test/x"}, {"name": "a", "url": "https://r.test/y"}],
        ),
    ],
)
async def test_a_bad_value_is_refused_with_a_stable_code_chinese_first(
    pool: asyncpg.Pool, make_client: Any, name: str, value: Any
) -> None:
    client = await make_client()
    r = await put(client, name, value)
    assert r.status == 400
    error = (await r.json())["error"]
    assert error["code"] == "bad_setting"
    assert "\u4e00" <= error["message"][0] <= "\u9fff" or error["message"][0] == "第"
    assert "." in error["message"]  # English follows
    assert await pool.fetchval("SELECT count(*) FROM ops_settings") == 0


async def test_unknown_settings_and_bodies_without_a_value_are_refused(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    r = await put(client, "display_cap", 5)
    assert r.status == 404 and (await r.json())["error"]["code"] == "unknown_setting"
    r = await client.delete("/admin/api/settings/secret", headers=AUTH)
    assert r.status == 404
    r = await client.put("/admin/api/settings/alert_expiry_h", json={"v": 1}, headers=AUTH)
    assert r.status == 400 and (await r.json())["error"]["code"] == "bad_setting"
    r = await client.put("/admin/api/settings/alert_expiry_h", data=b"1", headers=AUTH)
    assert r.status == 415


async def test_webhook_keys_are_never_shown_and_a_webhook_sent_without_its_url_keeps_it(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(alert_webhook_url=f"https://robot.test/send?key={KEY_ALL}")
    env = await setting(client, "alert_webhooks")
    assert env["source"] == "environment"
    assert env["value"] == [
        {"name": "default", "url": "https://robot.test/send?key=all-…", "regions": []}
    ]
    hooks = [
        {"name": "华东", "url": f"https://robot.test/send?key={KEY_EAST}", "regions": ["上海"]},
        {"name": "default", "regions": []},  # kept from the environment's webhook
    ]
    r = await put(client, "alert_webhooks", hooks)
    assert r.status == 200, await r.text()
    text = await r.text()
    assert KEY_EAST not in text and KEY_ALL not in text
    stored = orjson.loads(await pool.fetchval("SELECT value FROM ops_settings"))
    assert [h["url"] for h in stored] == [
        f"https://robot.test/send?key={KEY_EAST}",
        f"https://robot.test/send?key={KEY_ALL}",
    ]
    # Renaming regions only: the URL stays.
    r = await put(client, "alert_webhooks", [{"name": "华东", "regions": ["上海", "杭州"]}])
    assert r.status == 200
    stored = orjson.loads(await pool.fetchval("SELECT value FROM ops_settings"))
    assert stored == [
        {
            "name": "华东",
            "url": f"https://robot.test/send?key={KEY_EAST}",
            "regions": ["上海", "杭州"],
        }
    ]


class Robots:
    def __init__(self) -> None:
        self.got: dict[str, list[str]] = {}

    async def send(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.got.setdefault(request.query["key"], []).append(body["markdown"]["content"])
        return web.json_response({"errcode": 0, "errmsg": "ok"})


async def test_alerts_go_to_the_robots_of_their_region_with_the_cooldown_ops_set(
    pool: asyncpg.Pool, settings: Settings, aiohttp_server: Any
) -> None:
    robots = Robots()
    app = web.Application()
    app.router.add_post("/send", robots.send)
    server = await aiohttp_server(app)
    base = str(server.make_url("/send"))
    await seed(pool, [store_row("SH1", city="上海"), store_row("BJ1", city="北京")])
    settings = settings.with_(low_water=1, alert_webhook_url="")
    live = OpsSettings(settings)
    async with pool.acquire() as conn:
        for name, value in (
            (
                "alert_webhooks",
                [
                    {"name": "east", "url": f"{base}?key={KEY_EAST}", "regions": ["上海"]},
                    {"name": "all", "url": f"{base}?key={KEY_ALL}"},
                ],
            ),
            ("alert_cooldown_s", 0),
        ):
            await conn.execute(
                "INSERT INTO ops_settings (name, value, updated_by) VALUES ($1, $2, 'test')",
                name,
                orjson.dumps(value).decode(),
            )
        live.stored = await load(conn)
    assert live.alert_cooldown_s == 0.0
    sender = AlertSender(settings, live)
    try:
        await keeper.sweep(pool, settings, OpsProvider(), sender)
    finally:
        await sender.close()
    east = "\n".join(robots.got[KEY_EAST])
    everyone = "\n".join(robots.got[KEY_ALL])
    assert "SH1" in east and "BJ1" not in east
    assert "SH1" in everyone and "BJ1" in everyone
    rows = await pool.fetch("SELECT DISTINCT delivery FROM alerts")
    assert [r["delivery"] for r in rows] == ["sent"]


async def test_store_rows_without_a_coord_take_the_default_ops_set(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    data = "store_id,name,city,address,lat,lng\nS1,一店,上海,人民路 1 号,31.2304,121.4737\n"

    async def upload() -> Any:
        return await client.post(
            "/admin/api/uploads/stores",
            params={"filename": "s.csv"},
            data=data.encode(),
            headers=AUTH,
        )

    r = await upload()
    assert r.status == 422  # coord is required while no default is set
    assert (await put(client, "upload_default_coord", "BD-09")).status == 200
    assert (await setting(client, "upload_default_coord"))["value"] == "bd09"
    r = await upload()
    assert r.status == 200, await r.text()
    assert await pool.fetchval("SELECT source_coord FROM stores WHERE store_id = 'S1'") == "bd09"


async def test_a_setting_changed_through_one_app_is_applied_by_another_on_the_same_database(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    one = await make_client()
    other = await make_client()
    assert (await setting(other, "alert_expiry_h"))["source"] == "environment"
    assert (await put(one, "alert_expiry_h", 6)).status == 200

    async def applied() -> bool:
        s = await setting(other, "alert_expiry_h")
        return bool(s["value"] == 6.0 and s["source"] == "database")

    await eventually(applied)  # the NOTIFY, within seconds, no restart
    assert (await one.delete("/admin/api/settings/alert_expiry_h", headers=AUTH)).status == 200

    async def reverted() -> bool:
        return bool((await setting(other, "alert_expiry_h"))["source"] == "environment")

    await eventually(reverted)


async def test_a_change_whose_notification_was_missed_is_picked_up_by_the_periodic_re_read(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(settings_reread_s=0.2)
    # Written behind the app's back: no NOTIFY at all.
    await pool.execute(
        "INSERT INTO ops_settings (name, value, updated_by) VALUES ('alert_expiry_h', '12', 'x')"
    )

    async def applied() -> bool:
        return bool((await setting(client, "alert_expiry_h"))["value"] == 12.0)

    await eventually(applied)


async def test_the_expiry_threshold_and_cooldown_ops_set_replace_the_environment_ones(
    pool: asyncpg.Pool, settings: Settings, aiohttp_server: Any
) -> None:
    robots = Robots()
    app = web.Application()
    app.router.add_post("/send", robots.send)
    server = await aiohttp_server(app)
    url = f"{server.make_url('/send')}?key={KEY_ALL}"
    settings = settings.with_(
        low_water=1, alert_expiry_h=24.0, alert_cooldown_s=3600.0, alert_webhook_url=url
    )
    await seed(pool, [store_row("S1")], [group_row("G1")])
    await pool.execute("UPDATE groups SET expires_at = now() + interval '100 hours'")
    live = OpsSettings(settings)
    sender = AlertSender(settings, live)

    async def flap() -> None:
        await pool.execute("UPDATE groups SET state = 'retired'")
        await keeper.sweep(pool, settings, OpsProvider(), sender)  # on fallback: raised
        await pool.execute("UPDATE groups SET state = 'standby'")
        await keeper.sweep(pool, settings, OpsProvider(), sender)  # resolved

    try:
        await keeper.sweep(pool, settings, OpsProvider(), sender)
        assert await pool.fetchval("SELECT count(*) FROM alerts") == 0  # 100 h is beyond 24 h
        await flap()
        await flap()
        fallback = "SELECT delivery FROM alerts WHERE kind = 'on_fallback' ORDER BY id"
        assert [r["delivery"] for r in await pool.fetch(fallback)] == ["sent", "suppressed"]
        await pool.execute(
            "INSERT INTO ops_settings (name, value, updated_by) VALUES "
            "('alert_expiry_h', '200', 'test'), ('alert_cooldown_s', '0', 'test')"
        )
        live.stored = await load(pool)
        await flap()  # no cool-down now: posted again
        assert [r["delivery"] for r in await pool.fetch(fallback)] == [
            "sent",
            "suppressed",
            "sent",
        ]
        expiring = "SELECT count(*) FROM alerts WHERE kind = 'group_expiring'"
        assert await pool.fetchval(expiring) == 1  # 100 h is within the 200 h ops set
    finally:
        await sender.close()
