"""The audit trail: every change through the ops API is recorded with who made it and a summary of
old -> new, per store and in a filterable list, and never holds a group code's text, a token or a
webhook's key; records past their retention are pruned in bounded batches."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from router.keeper import sweep as keeper
from router.keeper.providers import OpsProvider
from router.settings import Settings
from router.store import audit
from tests.conftest import ADMIN_TOKEN, AUTH, group_row, seed, store_row
from tests.fake_wecom import CORP_ID, SECRET, FakeWeCom

pytestmark = pytest.mark.db

SECRET_CODE = "https://weixin.qq.com/g/SECRETCODETEXT"
ROBOT_KEY = "robot-key-abcdef0123456789"


def csv(rows: list[dict[str, str]]) -> bytes:
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(r[c] for c in header) for r in rows]
    return ("\n".join(lines) + "\n").encode()


async def upload(client: Any, kind: str, rows: list[dict[str, str]], name: str) -> Any:
    response = await client.post(
        f"/admin/api/uploads/{kind}", params={"filename": name}, data=csv(rows), headers=AUTH
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def records(client: Any, **query: str) -> list[dict[str, Any]]:
    response = await client.get("/admin/api/audit", params=query, headers=AUTH)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["total"] >= len(body["records"])
    out: list[dict[str, Any]] = body["records"]
    return out


async def test_every_kind_of_change_is_recorded_with_its_actor_and_old_to_new(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    await upload(client, "stores", [store_row("S1"), store_row("S2")], "stores.csv")
    await upload(
        client,
        "groups",
        [group_row("G1", "S1", qr_payload=SECRET_CODE), group_row("G2", "S1")],
        "groups.csv",
    )
    r = await client.post(
        "/admin/api/groups/G1/member-count", json={"member_count": 120}, headers=AUTH
    )
    assert r.status == 200
    r = await client.post(
        "/admin/api/groups/G1/member-count", json={"member_count": 150}, headers=AUTH
    )
    assert r.status == 200
    assert (await client.post("/admin/api/groups/G2/retire", headers=AUTH)).status == 200
    assert (await client.post("/admin/api/groups/G2/restore", headers=AUTH)).status == 200
    r = await client.put("/admin/api/stores/S1/order", json={"group_ids": ["G2"]}, headers=AUTH)
    assert r.status == 200
    r = await client.post(
        "/admin/api/entries",
        json={"kind": "store", "store_id": "S1", "code": "door1"},
        headers=AUTH,
    )
    assert r.status == 201
    r = await client.put("/admin/api/settings/alert_cooldown_s", json={"value": 600}, headers=AUTH)
    assert r.status == 200

    everything = await records(client)
    assert {rec["actor"] for rec in everything} == {"token#1"}
    kinds = [rec["kind"] for rec in everything]
    for kind in (
        "upload.stores",
        "upload.groups",
        "group.member_count",
        "group.retire",
        "group.restore",
        "store.order",
        "entry.create",
        "setting.change",
    ):
        assert kind in kinds, kind

    counts = await records(client, kind="group.member_count")
    assert [c["summary"] for c in counts] == [
        "group G1 member_count: 120 -> 150",
        "group G1 member_count: None -> 120",
    ]
    assert counts[0]["details"] == {"old": 120, "new": 150}
    assert counts[0]["store_id"] == "S1" and counts[0]["target"] == "G1"
    (retire,) = await records(client, kind="group.retire")
    assert retire["summary"].startswith("group G2 state: ")
    assert retire["summary"].endswith(" -> retired")
    (order,) = await records(client, kind="store.order")
    assert order["summary"] == "group order: G1, G2 -> G2, G1"
    (setting,) = await records(client, kind="setting")
    assert setting["summary"] == "alert_cooldown_s: 3600.0 -> 600.0"
    # Uploads: one record per store touched, and one for the whole upload with its counts.
    groups = await records(client, kind="upload.groups")
    assert {g["store_id"] for g in groups} == {"S1", None}
    whole = next(g for g in groups if g["store_id"] is None)
    assert whole["details"]["inserted"] == 2 and "groups.csv" in whole["summary"]
    per_store = next(g for g in groups if g["store_id"] == "S1")
    assert "G1, G2" in per_store["summary"]

    # The per-store view holds what concerns S1 only (S2 had only its store row uploaded).
    r = await client.get("/admin/api/stores/S1/audit", headers=AUTH)
    body = await r.json()
    assert body["store_id"] == "S1"
    assert {rec["store_id"] for rec in body["records"]} == {"S1"}
    assert {rec["kind"] for rec in body["records"]} >= {
        "upload.groups",
        "group.retire",
        "entry.create",
    }
    r = await client.get("/admin/api/stores/S2/audit", headers=AUTH)
    assert [rec["kind"] for rec in (await r.json())["records"]] == ["upload.stores"]


async def test_no_record_holds_a_group_code_a_token_or_a_webhook_key(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    await upload(client, "stores", [store_row("S1")], "stores.csv")
    await upload(client, "groups", [group_row("G1", "S1", qr_payload=SECRET_CODE)], "g.csv")
    await upload(
        client,
        "fallbacks",
        [{"store_id": "S1", "name": "店长", "qr_payload": SECRET_CODE}],
        "f.csv",
    )
    hooks = [
        {"name": "华东", "url": f"https://robot.test/send?key={ROBOT_KEY}", "regions": ["上海"]}
    ]
    r = await client.put("/admin/api/settings/alert_webhooks", json={"value": hooks}, headers=AUTH)
    assert r.status == 200, await r.text()
    assert ROBOT_KEY not in await r.text()
    r = await client.delete("/admin/api/settings/alert_webhooks", headers=AUTH)
    assert r.status == 200
    rows = await pool.fetch("SELECT * FROM audit_log")
    assert len(rows) >= 5
    stored = json.dumps([dict(r) for r in rows], default=str)
    for secret in (SECRET_CODE, "SECRETCODETEXT", ROBOT_KEY, ADMIN_TOKEN):
        assert secret not in stored
    r = await client.get("/admin/api/audit", headers=AUTH)
    text = await r.text()
    assert "robot.test" in text  # the webhook is recognisable ...
    assert ROBOT_KEY not in text  # ... but its key is masked


async def test_a_file_name_with_a_nul_is_recorded_and_the_upload_goes_through(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    await upload(client, "stores", [store_row("S1")], "stores\x00.csv")
    (whole,) = [r for r in await records(client) if r["store_id"] is None]
    assert whole["target"] == "stores\ufffd.csv"


async def test_a_dry_run_and_a_refused_change_record_nothing(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    await upload(client, "stores", [store_row("S1")], "stores.csv")
    before = await pool.fetchval("SELECT count(*) FROM audit_log")
    r = await client.post(
        "/admin/api/uploads/stores",
        params={"filename": "s.csv", "dry_run": "1"},
        data=csv([store_row("S9")]),
        headers=AUTH,
    )
    assert r.status == 200
    r = await client.post("/admin/api/groups/NOPE/retire", headers=AUTH)
    assert r.status == 404
    r = await client.put("/admin/api/settings/alert_cooldown_s", json={"value": -1}, headers=AUTH)
    assert r.status == 400
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == before


async def test_the_list_filters_by_kind_actor_store_and_time_and_pages(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    async with pool.acquire() as conn:
        for i in range(5):
            await audit.record(conn, "token#1", "group.retire", store_id="S1", summary=f"a{i}")
        await audit.record(conn, "token#2", "store.order", store_id="S2", summary="b")
        await conn.execute("UPDATE audit_log SET at = '2026-01-01T00:00:00Z' WHERE summary = 'a0'")
    assert [r["summary"] for r in await records(client, actor="token#2")] == ["b"]
    assert len(await records(client, store="S1")) == 5
    assert len(await records(client, kind="group")) == 5  # the kind's first part
    assert await records(client, kind="grou") == []  # not a prefix of letters
    old = await records(client, to="2026-06-01T00:00:00+08:00")
    assert [r["summary"] for r in old] == ["a0"]
    assert len(await records(client, **{"from": "2026-06-01T00:00:00Z"})) == 5
    r = await client.get("/admin/api/audit", params={"limit": "2", "offset": "1"}, headers=AUTH)
    body = await r.json()
    assert body["total"] == 6 and [x["summary"] for x in body["records"]] == ["a4", "a3"]
    for bad in ({"from": "yesterday"}, {"to": "2026-06-01T00:00:00"}):
        r = await client.get("/admin/api/audit", params=bad, headers=AUTH)
        assert r.status == 400
        error = (await r.json())["error"]
        assert error["code"] == "bad_time"
    r = await client.get(
        "/admin/api/audit",
        params={"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"},
        headers=AUTH,
    )
    assert r.status == 400
    r = await client.get("/admin/api/stores/NOPE/audit", headers=AUTH)
    assert r.status == 404 and (await r.json())["error"]["code"] == "store_not_found"


async def test_records_past_their_retention_are_pruned_in_bounded_batches(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    async with pool.acquire() as conn:
        for i in range(7):
            await audit.record(conn, "token#1", "group.retire", summary=f"old{i}")
        await audit.record(conn, "token#1", "group.retire", summary="recent")
        await conn.execute(
            "UPDATE audit_log SET at = now() - interval '40 days' WHERE summary LIKE 'old%'"
        )
        # One call deletes at most batch x batches rows; the rest waits for the next pass.
        assert await audit.prune(conn, 30, 2, 2) == 4
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 4
        assert await audit.prune(conn, 30, 2, 10) == 3
        assert await audit.prune(conn, 30, 2, 10) == 0
        assert [r["summary"] for r in await conn.fetch("SELECT summary FROM audit_log")] == [
            "recent"
        ]
        await audit.record(conn, "token#1", "group.retire", summary="older")
        await conn.execute(
            "UPDATE audit_log SET at = now() - interval '40 days' WHERE summary = 'older'"
        )
    # The keeper prunes by HUOMA_AUDIT_RETENTION_DAYS on its expiry passes.
    await keeper.sweep(pool, settings.with_(audit_retention_days=30), OpsProvider())
    assert [r["summary"] for r in await pool.fetch("SELECT summary FROM audit_log")] == ["recent"]


async def test_switching_a_store_to_wecom_and_back_is_recorded(
    pool: asyncpg.Pool, make_client: Any, aiohttp_server: Any
) -> None:
    fake = FakeWeCom()
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url("")).rstrip("/")
    await seed(pool, [store_row("S1")])
    client = await make_client(
        wecom_corp_id=CORP_ID,
        wecom_secret=SECRET,
        wecom_callback_token="callback-token-of-the-app",
        wecom_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        wecom_api_base=str(server.make_url("/cgi-bin")),
        keeper_interval_s=3600,
    )
    chat = fake.new_chat()
    r = await client.put("/admin/api/stores/S1/wecom", json={"chat_ids": [chat]}, headers=AUTH)
    assert r.status == 200, await r.text()
    r = await client.delete("/admin/api/stores/S1/wecom", headers=AUTH)
    assert r.status == 200, await r.text()
    r = await client.get("/admin/api/stores/S1/audit", headers=AUTH)
    found = [(x["kind"], x["actor"], x["summary"]) for x in (await r.json())["records"]]
    assert found[:2] == [
        ("wecom.disable", "token#1", "WeCom join way: on -> off"),
        ("wecom.enable", "token#1", f"WeCom chats: {chat}"),
    ]
