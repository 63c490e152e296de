"""WeCom's callbacks through real HTTP: the URL check, events encrypted as WeCom sends them by
the fake WeCom, joins and member counts, duplicates, out-of-order events, forgeries, rotation
of a full chat, adoption of a chat WeCom opened, and a dismissed chat."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from router.keys import QR_IMAGES, WECOM
from router.wecom.crypto import CallbackCrypto, signature
from tests.conftest import AUTH, eventually, qr_path, seed, store_row
from tests.fake_wecom import CORP_ID, SECRET, FakeWeCom, callback, chat_event

pytestmark = pytest.mark.db

TOKEN = "callback-token-of-the-app"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CRYPTO = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
GET = "externalcontact/groupchat/get"


@pytest.fixture
async def site(pool: asyncpg.Pool, make_client: Any, aiohttp_server: Any) -> Any:
    fake = FakeWeCom()
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url("")).rstrip("/")
    await seed(pool, [store_row("S1", name="人民广场店")])
    client = await make_client(
        wecom_corp_id=CORP_ID,
        wecom_secret=SECRET,
        wecom_callback_token=TOKEN,
        wecom_aes_key=AES_KEY,
        wecom_api_base=str(server.make_url("/cgi-bin")),
        wecom_room_capacity=3,
        keeper_interval_s=3600,
    )
    client.fake = fake
    return client


async def post(client: Any, event: dict[str, Any], **kw: Any) -> Any:
    query, body = callback(CRYPTO, event, **kw)
    return await client.post("/wecom/callback", params=query, data=body)


async def enable(client: Any, *chats: str) -> dict[str, Any]:
    response = await client.put(
        "/admin/api/stores/S1/wecom", json={"chat_ids": list(chats)}, headers=AUTH
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_the_url_check_answers_the_plain_echostr_and_refuses_a_forgery(site: Any) -> None:
    ts, nonce = str(int(time.time())), "1372623149"
    echostr = CRYPTO.encrypt(b"1616140317555161061")
    query = {"msg_signature": signature(TOKEN, ts, nonce, echostr), "timestamp": ts, "nonce": nonce}
    ok = await site.get("/wecom/callback", params={**query, "echostr": echostr})
    assert (ok.status, await ok.text()) == (200, "1616140317555161061")
    forged = await site.get(
        "/wecom/callback", params={**query, "msg_signature": "0" * 40, "echostr": echostr}
    )
    assert forged.status == 403
    assert (await forged.json())["error"]["code"] == "callback_refused"


async def test_customers_joining_become_counts_and_joins_once(
    site: Any, pool: asyncpg.Pool
) -> None:
    fake: FakeWeCom = site.fake
    chat = fake.new_chat()
    joined = await enable(site, chat)
    assert joined["chat_ids"] == [chat]
    users = fake.add_members(chat, 2, state="hm1")
    event = chat_event(fake, chat, "update", "add_member", userids=users)
    query, body = callback(CRYPTO, event)
    first = await site.post("/wecom/callback", params=query, data=body)
    assert (first.status, await first.text()) == (200, "")
    again = await site.post("/wecom/callback", params=query, data=body)  # WeCom's retry
    assert again.status == 200

    async def counted() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM group_joins") == 2)

    await eventually(counted)
    row = await pool.fetchrow("SELECT member_count, member_version FROM wecom_chats")
    assert row["member_count"] == 2
    assert await pool.fetchval("SELECT count(*) FROM wecom_callbacks") == 1
    assert fake.calls.count(GET) == 1  # the repeat was not processed again
    joins = await pool.fetch("SELECT store_id, state, join_scene FROM group_joins")
    assert {(j["store_id"], j["state"], j["join_scene"]) for j in joins} == {("S1", "hm1", 3)}


async def test_an_older_event_after_a_newer_one_leaves_the_newer_count(
    site: Any, pool: asyncpg.Pool
) -> None:
    fake: FakeWeCom = site.fake
    chat = fake.new_chat()
    await enable(site, chat)
    fake.add_members(chat, 1, state="hm1")
    old = chat_event(fake, chat, "update", "add_member")
    fake.add_members(chat, 1, state="hm1")
    new = chat_event(fake, chat, "update", "add_member")
    assert (await post(site, new)).status == 200

    async def two() -> bool:
        return bool(await pool.fetchval("SELECT member_count FROM wecom_chats") == 2)

    await eventually(two)
    assert (await post(site, old)).status == 200  # late: its version is not the current one
    await eventually(lambda: _processed(pool, 2))
    assert await pool.fetchval("SELECT member_count FROM wecom_chats") == 2


async def _processed(pool: asyncpg.Pool, n: int) -> bool:
    done = await pool.fetchval(
        "SELECT count(*) FROM wecom_callbacks WHERE processed_at IS NOT NULL"
    )
    return bool(done == n)


async def test_forged_stale_or_foreign_callbacks_are_refused_and_not_stored(
    site: Any, pool: asyncpg.Pool
) -> None:
    fake: FakeWeCom = site.fake
    chat = fake.new_chat()
    await enable(site, chat)
    event = chat_event(fake, chat, "update", "add_member")
    query, body = callback(CRYPTO, event)
    forged = await site.post(
        "/wecom/callback", params={**query, "msg_signature": "f" * 40}, data=body
    )
    stale = await post(site, event, timestamp=int(time.time()) - 3600)
    other_corp = CallbackCrypto(TOKEN, AES_KEY, "wwsomeoneelse")
    q2, b2 = callback(other_corp, event)
    foreign = await site.post("/wecom/callback", params=q2, data=b2)
    bomb = await site.post(
        "/wecom/callback", params=query, data=b'<!DOCTYPE x [<!ENTITY a "a">]><xml>&a;</xml>'
    )
    for response in (forged, stale, foreign, bomb):
        assert response.status == 403, await response.text()
        assert (await response.json())["error"]["code"] == "callback_refused"
    assert await pool.fetchval("SELECT count(*) FROM wecom_callbacks") == 0


async def test_a_full_chat_leaves_the_join_way_when_its_callback_says_so(
    site: Any, pool: asyncpg.Pool
) -> None:
    fake: FakeWeCom = site.fake
    first, second = fake.new_chat(), fake.new_chat()
    result = await enable(site, first, second)
    users = fake.add_members(first, 3, state="hm1")  # capacity 3 here
    assert (await post(site, chat_event(fake, first, "update", "add_member", userids=users))).ok

    async def rotated() -> Any:
        # WeCom's join way changes first, the store's row when the sync commits: wait for both.
        if fake.join_ways[result["config_id"]]["chat_id_list"] != [second]:
            return None
        answer = await (await site.get("/admin/api/stores/S1/wecom", headers=AUTH)).json()
        return answer if answer["chats"][0]["in_join_way"] is False else None

    answer = await eventually(rotated)
    assert [c["in_join_way"] for c in answer["chats"]] == [False, True]
    assert answer["chats"][0]["member_count"] == 3


async def test_a_chat_wecom_opened_is_adopted_from_its_first_callback(
    site: Any, pool: asyncpg.Pool
) -> None:
    fake: FakeWeCom = site.fake
    chat = fake.new_chat()
    result = await enable(site, chat)
    opened = fake.open_room(result["config_id"])
    users = fake.add_members(opened, 1, state="hm1")
    assert (await post(site, chat_event(fake, opened, "update", "add_member", userids=users))).ok

    async def adopted() -> bool:
        row = await pool.fetchrow("SELECT * FROM wecom_chats WHERE chat_id = $1", opened)
        return row is not None and row["adopted"] and row["member_count"] == 1

    await eventually(adopted)
    assert (
        await pool.fetchval("SELECT store_id FROM group_joins WHERE chat_id = $1", opened) == "S1"
    )


async def test_a_dismissed_chat_leaves_the_join_way(site: Any, pool: asyncpg.Pool) -> None:
    fake: FakeWeCom = site.fake
    first, second = fake.new_chat(), fake.new_chat()
    result = await enable(site, first, second)
    fake.chats[first].dismissed = True
    assert (await post(site, chat_event(fake, first, "dismiss"))).ok

    async def gone() -> bool:
        return fake.join_ways[result["config_id"]]["chat_id_list"] == [second]

    await eventually(gone)
    assert await pool.fetchval("SELECT dismissed FROM wecom_chats WHERE chat_id = $1", first)


async def test_without_wecom_settings_the_callback_and_its_admin_api_say_so(
    make_client: Any,
) -> None:
    client = await make_client()
    assert client.app[WECOM] is None
    response = await client.post("/wecom/callback", params={"msg_signature": "x"}, data=b"")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "wecom_not_configured"
    response = await client.put(
        "/admin/api/stores/S1/wecom", json={"chat_ids": ["c"]}, headers=AUTH
    )
    assert (await response.json())["error"]["code"] == "wecom_not_configured"


async def test_a_callback_whose_processing_failed_is_retried_by_the_keeper(
    site: Any, pool: asyncpg.Pool
) -> None:
    fake: FakeWeCom = site.fake
    chat = fake.new_chat()
    await enable(site, chat)
    users = fake.add_members(chat, 1, state="hm1")
    fake.fail(GET, 48002)  # WeCom refuses the first read
    assert (await post(site, chat_event(fake, chat, "update", "add_member", userids=users))).ok

    async def tried() -> bool:
        return bool(await pool.fetchval("SELECT attempts FROM wecom_callbacks") >= 1)

    await eventually(tried)
    # The keeper's pass takes what failed (it may have run already: its first pass is at start).
    await site.app[WECOM].receiver.process_pending()
    row = await pool.fetchrow("SELECT attempts, processed_at, error FROM wecom_callbacks")
    assert (row["attempts"], row["processed_at"] is not None, row["error"]) == (2, True, None)
    assert await pool.fetchval("SELECT count(*) FROM group_joins") == 1


async def test_joins_appear_in_the_funnel_credited_to_the_entry_scanned(
    site: Any, pool: asyncpg.Pool
) -> None:
    fake: FakeWeCom = site.fake
    chat = fake.new_chat()
    await enable(site, chat)

    async def shown() -> bool:
        answer = await (await site.get("/api/v1/route?store=S1&entry=desk")).json()
        return bool(answer["status"] == "ok" and answer["group"]["id"] == "wecom-S1")

    await eventually(shown)  # the join way reached the catalogue

    async def journaled() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM scan_events WHERE entry = 'desk'"))

    await eventually(journaled)
    users = fake.add_members(chat, 1, state="hm1", at=int(time.time()) + 1)
    assert (await post(site, chat_event(fake, chat, "update", "add_member", userids=users))).ok
    await eventually(lambda: _processed(pool, 1))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    funnel = await (
        await site.get(f"/admin/api/funnel?from={today}&to={today}&by=store,entry", headers=AUTH)
    ).json()
    assert funnel["totals"]["joined"] == 1
    row = next(r for r in funnel["rows"] if r["entry"] == "desk")
    assert (row["store_id"], row["groups_shown"], row["joined"]) == ("S1", row["ok"], 1)
    csv = await (
        await site.get(f"/admin/api/funnel.csv?from={today}&to={today}&by=entry", headers=AUTH)
    ).text()
    assert csv.splitlines()[0].endswith(",joined")


async def test_the_store_shows_wecoms_own_image_of_its_join_way_code(
    site: Any, pool: asyncpg.Pool
) -> None:
    """A join way's qr_code is the URL of WeCom's image of the code: customers get that image
    (fetched once, kept like a rendered one), never a code of the URL itself."""
    import io

    import zxingcpp
    from PIL import Image

    fake: FakeWeCom = site.fake
    result = await enable(site, fake.new_chat())

    async def shown() -> Any:
        answer = await (await site.get("/api/v1/route?store=S1")).json()
        return answer if answer["group"] and answer["group"]["id"] == "wecom-S1" else None

    answer = await eventually(shown)
    path = qr_path(answer["group"]["qr_url"])
    response = await site.get(path)
    assert (response.status, response.headers["Content-Type"]) == (200, "image/png")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(await response.read())))
    assert [d.text for d in decoded] == [fake.join_link(result["config_id"])]
    assert (await site.get(path)).status == 200 and fake.images_served == 1  # kept

    async def saved() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM qr_images") >= 1)

    await eventually(saved)
    # WeCom's image out of reach: a clear 503, and a retry later works.
    await pool.execute("DELETE FROM qr_images")
    site.app[QR_IMAGES]._images.clear()
    fake.images_missing = True
    missing = await site.get(path)
    assert missing.status == 503
    assert (await missing.json())["error"]["code"] == "qr_unavailable"
    fake.images_missing = False
    assert (await site.get(path)).status == 200
