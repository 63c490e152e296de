"""The WeCom API client against the local fake WeCom: tokens, errors, timeouts, retries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from router.wecom.client import JoinWay, WeComClient, WeComError, WeComUnavailable
from tests.fake_wecom import CORP_ID, SECRET, FakeWeCom, client_of, groupchat_list

ADD = "externalcontact/groupchat/add_join_way"
GET = "externalcontact/groupchat/get_join_way"


@pytest.fixture
async def wecom(aiohttp_server: Any) -> AsyncIterator[tuple[FakeWeCom, WeComClient]]:
    fake = FakeWeCom()
    server = await aiohttp_server(fake.app())
    async with aiohttp.ClientSession() as session:
        yield fake, client_of(session, server, timeout_s=0.5, retries=2)


def way(fake: FakeWeCom, *chats: str) -> JoinWay:
    return JoinWay(
        chat_id_list=list(chats) or [fake.new_chat()],
        state="hm:S001",
        room_base_name="人民广场店福利群",
        room_base_id=2,
    )


async def test_a_join_way_is_created_read_updated_and_deleted(
    wecom: tuple[FakeWeCom, WeComClient],
) -> None:
    fake, client = wecom
    first, second = fake.new_chat(), fake.new_chat()
    config_id = await client.add_join_way(way(fake, first))
    got = await client.get_join_way(config_id)
    assert (got.chat_id_list, got.state, got.scene, got.auto_create_room) == (
        [first],
        "hm:S001",
        2,
        1,
    )
    assert got.qr_code.startswith("https://")
    got.chat_id_list = [second, first]
    await client.update_join_way(got)
    assert (await client.get_join_way(config_id)).chat_id_list == [second, first]
    await client.del_join_way(config_id)
    with pytest.raises(WeComError) as info:
        await client.get_join_way(config_id)
    assert info.value.errcode == 40058
    assert fake.calls.count("gettoken") == 1  # one token for all of it


async def test_concurrent_calls_share_one_token_fetch(wecom: tuple[FakeWeCom, WeComClient]) -> None:
    fake, client = wecom
    chat = fake.new_chat()
    await asyncio.gather(*(client.groupchat_get(chat) for _ in range(20)))
    assert fake.calls.count("gettoken") == 1 and client.token_fetches == 1


async def test_a_token_that_expires_mid_flight_is_replaced_and_the_call_goes_through(
    wecom: tuple[FakeWeCom, WeComClient],
) -> None:
    fake, client = wecom
    chat = fake.new_chat()
    await client.groupchat_get(chat)
    fake.expire_tokens()  # WeCom ends it before our clock says so (42001)
    assert (await client.groupchat_get(chat))["chat_id"] == chat
    assert fake.calls.count("gettoken") == 2


async def test_busy_answers_are_retried_and_real_errors_are_not(
    wecom: tuple[FakeWeCom, WeComClient],
) -> None:
    fake, client = wecom
    config_id = await client.add_join_way(way(fake))
    fake.fail(GET, -1, 45009)  # busy, then over the call limit: both worth another try
    assert (await client.get_join_way(config_id)).config_id == config_id
    fake.fail(GET, 48002)  # no permission: retrying cannot help
    with pytest.raises(WeComError) as info:
        await client.get_join_way(config_id)
    assert info.value.errcode == 48002 and "permission" in str(info.value)
    assert fake.calls.count(GET) == 3 + 1  # two refusals and the answer; one refusal
    fake.fail(GET, -1, -1, -1)  # busy past the retries
    with pytest.raises(WeComError) as busy:
        await client.get_join_way(config_id)
    assert busy.value.errcode == -1


async def test_a_call_that_times_out_is_retried_then_reported(
    wecom: tuple[FakeWeCom, WeComClient],
) -> None:
    fake, client = wecom
    config_id = await client.add_join_way(way(fake))
    fake.stall(GET, 2.0)  # past the 0.5 s timeout once
    assert (await client.get_join_way(config_id)).config_id == config_id
    fake.stall(GET, 2.0, 2.0, 2.0)
    with pytest.raises(WeComUnavailable) as info:
        await client.get_join_way(config_id)
    assert "TimeoutError" in str(info.value)


async def test_what_the_documentation_forbids_is_refused_with_its_errcode(
    wecom: tuple[FakeWeCom, WeComClient],
) -> None:
    fake, client = wecom
    chats = [fake.new_chat() for _ in range(6)]
    for bad in [
        JoinWay(chat_id_list=chats, state="s", room_base_name="n"),  # more than 5 chats
        JoinWay(chat_id_list=[chats[0]], state="x" * 31, room_base_name="n"),  # state > 30
        JoinWay(chat_id_list=["wrUNKNOWN"], state="s", room_base_name="n"),
    ]:
        with pytest.raises(WeComError) as info:
            await client.add_join_way(bad)
        assert info.value.errcode == 40058


async def test_a_wrong_secret_says_so_and_no_secret_or_token_is_ever_logged(
    wecom: tuple[FakeWeCom, WeComClient], caplog: pytest.LogCaptureFixture
) -> None:
    fake, client = wecom
    with caplog.at_level(logging.DEBUG):
        fake.stall(GET, 2.0)
        config_id = await client.add_join_way(way(fake))
        await client.get_join_way(config_id)
        fake.expire_tokens()
        await client.get_join_way(config_id)
        wrong = WeComClient(
            client._session, corp_id=CORP_ID, secret="wrong", api_base=client.api_base
        )
        with pytest.raises(WeComError) as info:
            await groupchat_list(wrong)
    assert info.value.errcode == 40001 and "HUOMA_WECOM_SECRET" in str(info.value)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("router")]
    assert ours  # the retries and the token refresh were logged...
    text = "\n".join(ours) + repr(client) + repr(wrong)  # ...without the secret or a token
    assert SECRET not in text and "wrong" not in repr(wrong)
    assert not any(token in text for token in fake.tokens)


async def test_every_group_chat_is_listed_across_pages(
    wecom: tuple[FakeWeCom, WeComClient],
) -> None:
    fake, client = wecom
    made = {fake.new_chat() for _ in range(7)}
    listed = await groupchat_list(client, limit=3)
    assert {c["chat_id"] for c in listed} == made and len(listed) == 7
