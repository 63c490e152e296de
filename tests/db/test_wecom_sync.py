"""Per-store join ways against the fake WeCom and a real PostgreSQL: creation, rotation of full
chats, adoption of chats WeCom opened, removal, drift and WeCom errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from router.settings import Settings
from router.wecom.sync import WeComSync, group_id_of
from tests.conftest import seed, store_row
from tests.fake_wecom import FakeWeCom, client_of

pytestmark = pytest.mark.db

ADD = "externalcontact/groupchat/add_join_way"
UPDATE = "externalcontact/groupchat/update_join_way"


@pytest.fixture
async def wecom(
    pool: asyncpg.Pool, settings: Settings, aiohttp_server: Any
) -> AsyncIterator[tuple[FakeWeCom, WeComSync]]:
    fake = FakeWeCom()
    server = await aiohttp_server(fake.app())
    await seed(pool, [store_row("S1", name="人民广场店"), store_row("S2", name="来福士店")])
    async with aiohttp.ClientSession() as session:
        client = client_of(session, server)
        yield fake, WeComSync(pool, client, settings.with_(wecom_room_capacity=10))


async def group_of(pool: asyncpg.Pool, store_id: str) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT qr_payload, qr_version, state, source FROM groups WHERE group_id = $1",
        group_id_of(store_id),
    )


async def test_a_store_given_a_chat_gets_a_join_way_shown_as_its_group(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync]
) -> None:
    fake, sync = wecom
    chat = fake.new_chat()
    result = await sync.enable("S1", [chat])
    assert result.created and result.error is None and result.chat_ids == [chat]
    way = fake.join_ways[result.config_id or ""]
    assert (way["scene"], way["auto_create_room"], way["chat_id_list"]) == (2, 1, [chat])
    assert way["state"] == "hm1" and len(way["state"]) <= 30
    assert way["room_base_name"] == "人民广场店福利群" and len(way["room_base_name"]) <= 40
    group = await group_of(pool, "S1")
    assert (group["qr_payload"], group["source"]) == (way["qr_code"], "wecom")
    # A second sync with nothing changed asks WeCom and writes nothing.
    again = await sync.sync_store("S1")
    assert not (again.created or again.updated) and fake.calls.count(ADD) == 1
    assert fake.calls.count(UPDATE) == 0


async def test_a_full_chat_leaves_the_join_way_and_the_last_one_stays(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync]
) -> None:
    fake, sync = wecom
    first, second = fake.new_chat(), fake.new_chat()
    result = await sync.enable("S1", [first, second])
    assert result.chat_ids == [first, second]
    fake.add_members(first, 10, state="hm1")  # capacity 10 in these tests
    assert await sync.count(first) == "S1"  # full: the store needs a sync
    rotated = await sync.sync_store("S1")
    assert rotated.updated and fake.join_ways[rotated.config_id or ""]["chat_id_list"] == [second]
    fake.add_members(second, 10)
    await sync.count(second)
    kept = await sync.sync_store("S1")
    assert kept.chat_ids == [second]  # all full: the newest stays; WeCom opens the next one


async def test_a_chat_wecom_opened_by_itself_is_adopted_and_counted(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync]
) -> None:
    fake, sync = wecom
    first = fake.new_chat()
    result = await sync.enable("S1", [first])
    opened = fake.open_room(result.config_id or "")
    fake.add_members(opened, 3, state="hm1")
    synced = await sync.sync_store("S1")
    assert synced.adopted == [opened] and opened in synced.chat_ids
    row = await pool.fetchrow("SELECT * FROM wecom_chats WHERE chat_id = $1", opened)
    assert (row["store_id"], row["adopted"], row["member_count"]) == ("S1", True, 3)


async def test_joins_are_recorded_once_with_their_state_and_nobody_is_named(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync]
) -> None:
    fake, sync = wecom
    chat = fake.new_chat()
    await sync.enable("S1", [chat])
    users = fake.add_members(chat, 2, state="hm1") + fake.add_members(chat, 1)
    await sync.count(chat)
    await sync.count(chat)  # twice: still one row each
    rows = await pool.fetch("SELECT * FROM group_joins ORDER BY member")
    assert len(rows) == 3 and {r["store_id"] for r in rows} == {"S1"}
    assert sorted(r["state"] or "" for r in rows) == ["", "hm1", "hm1"]
    assert {r["join_scene"] for r in rows} == {3}
    assert not any(u in r["member"] for r in rows for u in users)


async def test_a_disabled_or_closed_store_loses_its_join_way_and_its_group(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync]
) -> None:
    fake, sync = wecom
    r1 = await sync.enable("S1", [fake.new_chat()])
    r2 = await sync.enable("S2", [fake.new_chat()])
    gone = await sync.disable("S1")
    assert gone.deleted and r1.config_id not in fake.join_ways
    assert (await group_of(pool, "S1"))["state"] == "retired"
    await pool.execute("UPDATE stores SET active = false WHERE store_id = 'S2'")
    results = {r.store_id: r for r in await sync.reconcile()}
    assert results["S2"].deleted and r2.config_id not in fake.join_ways
    assert (await group_of(pool, "S2"))["state"] == "retired"


async def test_drift_is_repaired_and_wecom_errors_are_recorded_not_raised(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync]
) -> None:
    fake, sync = wecom
    chat = fake.new_chat()
    first = await sync.enable("S1", [chat])
    fake.join_ways[first.config_id or ""]["chat_id_list"] = [fake.new_chat()]  # edited elsewhere
    repaired = await sync.sync_store("S1")
    assert repaired.updated and chat in fake.join_ways[first.config_id or ""]["chat_id_list"]
    del fake.join_ways[first.config_id or ""]  # deleted in WeCom
    again = await sync.sync_store("S1")
    assert again.created and again.config_id != first.config_id
    group = await group_of(pool, "S1")
    assert group["qr_version"] == 2  # a new code: old image links die
    fake.fail("externalcontact/groupchat/get_join_way", 48002)
    failed = await sync.sync_store("S1")
    assert failed.error and "permission" in failed.error
    assert "permission" in await pool.fetchval("SELECT sync_error FROM wecom_stores")


async def test_chats_are_checked_before_anything_is_written(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync]
) -> None:
    from router.errors import HuomaError

    fake, sync = wecom
    chat = fake.new_chat()
    await sync.enable("S1", [chat])
    for store, chats, code in [
        ("S2", [chat], "chat_taken"),
        ("S2", [], "no_chats"),
        ("S2", ["bad id!"], "bad_chat_id"),
        ("S9", [fake.new_chat()], "store_not_found"),
    ]:
        with pytest.raises(HuomaError) as info:
            await sync.enable(store, chats)
        assert info.value.code == code
    assert await pool.fetchval("SELECT count(*) FROM wecom_chats WHERE store_id = 'S2'") == 0


async def test_a_renamed_store_renames_the_chats_wecom_will_open(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync]
) -> None:
    fake, sync = wecom
    result = await sync.enable("S1", [fake.new_chat()])
    await pool.execute("UPDATE stores SET name = '人民广场旗舰店' WHERE store_id = 'S1'")
    renamed = await sync.sync_store("S1")
    assert renamed.updated
    assert fake.join_ways[result.config_id or ""]["room_base_name"] == "人民广场旗舰店福利群"


async def test_the_keeper_gives_a_wecom_store_its_join_way_and_alerts_for_the_others(
    pool: asyncpg.Pool, wecom: tuple[FakeWeCom, WeComSync], settings: Settings
) -> None:
    from router.keeper import sweep as keeper
    from router.keeper.wecom_provider import WeComProvider

    fake, sync = wecom
    chat = fake.new_chat()
    # Chats given, never synced (say, WeCom was down when ops gave them).
    await pool.execute("INSERT INTO wecom_stores (store_id) VALUES ('S1')")
    await pool.execute("INSERT INTO wecom_chats (chat_id, store_id) VALUES ($1, 'S1')", chat)
    await keeper.sweep(pool, settings, WeComProvider(sync))
    assert (await group_of(pool, "S1"))["source"] == "wecom"
    assert len(fake.join_ways) == 1
    alerts = await pool.fetch("SELECT kind, store_id FROM alerts WHERE resolved_at IS NULL")
    assert {(a["kind"], a["store_id"]) for a in alerts} >= {("low_groups", "S2")}
    assert "S1" not in {a["store_id"] for a in alerts if a["kind"] == "low_groups"}
    # A second pass leaves the join way alone: it never runs low.
    await keeper.sweep(pool, settings, WeComProvider(sync))
    assert fake.calls.count("externalcontact/groupchat/add_join_way") == 1
