"""A local stand-in for WeCom's server API, following its public documentation field by field:
gettoken (获取access_token), 客户群「加入群聊」管理 (add/get/update/del_join_way), 获取客户群详情
(groupchat/get) and 获取客户群列表 (groupchat/list). It checks what the documentation requires
(scene, chat_id_list of 1-5 known chats, state up to 30 characters, room_base_name up to 40) and
answers with the documented errcodes. Tests steer it: expire tokens, queue errors, delay answers.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from router.scan.qr import render_png
from router.wecom.client import WeComClient
from router.wecom.crypto import CallbackCrypto, signature

CORP_ID = "wwfakecorp0000000001"
SECRET = "fake-secret-of-the-customer-contact-app"


@dataclass
class Chat:
    chat_id: str
    name: str
    owner: str = "store-keeper"
    create_time: int = 1_700_000_000
    members: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1
    dismissed: bool = False

    def answer(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "name": self.name,
            "owner": self.owner,
            "create_time": self.create_time,
            "notice": "",
            "member_list": self.members,
            "admin_list": [],
            "member_version": f"{self.version:032x}",
        }


class FakeWeCom:
    def __init__(self) -> None:
        self.tokens: dict[str, bool] = {}  # token -> still valid
        self.expires_in = 7200
        self.chats: dict[str, Chat] = {}
        self.join_ways: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []  # API paths, in order
        self.errors: dict[str, deque[int]] = defaultdict(deque)  # path -> errcodes to answer
        self.delays: dict[str, deque[float]] = defaultdict(deque)  # path -> seconds to stall
        self._ids = itertools.count(1)
        # Where the fake is served: join ways' qr_code point at its image of the code, as WeCom's
        # point at its image CDN (the code itself holds a join link, not the image URL).
        self.base = ""
        self.images_served = 0
        self.images_missing = False

    # ---- steering ------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        for token in self.tokens:
            self.tokens[token] = False

    def fail(self, path: str, *errcodes: int) -> None:
        self.errors[path].extend(errcodes)

    def stall(self, path: str, *seconds: float) -> None:
        self.delays[path].extend(seconds)

    def new_chat(self, name: str = "门店福利群") -> str:
        chat_id = f"wrFAKE{next(self._ids):06d}AAAA"
        self.chats[chat_id] = Chat(chat_id, name)
        return chat_id

    def add_members(
        self, chat_id: str, n: int, *, state: str = "", join_scene: int = 3, at: int = 1_800_000_000
    ) -> list[str]:
        """Customers (type 2) joining a chat; their userids."""
        chat = self.chats[chat_id]
        added = []
        for _ in range(n):
            userid = f"wmFAKE{next(self._ids):08d}"
            member: dict[str, Any] = {
                "userid": userid,
                "type": 2,
                "join_time": at,
                "join_scene": join_scene,
                "group_nickname": "",
            }
            if state:
                member["state"] = state
            chat.members.append(member)
            added.append(userid)
        chat.version += 1
        return added

    def open_room(self, config_id: str) -> str:
        """What auto_create_room does when the join way's chats are full: a new chat, named from
        room_base_name and the next room_base_id, taking its place in the join way."""
        way = self.join_ways[config_id]
        number = int(way.get("room_base_id") or 1)
        chat_id = self.new_chat(f"{way.get('room_base_name', '')}{number}")
        way["room_base_id"] = number + 1
        way["chat_id_list"] = [*way["chat_id_list"], chat_id][-5:]
        return chat_id

    # ---- the API ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        app.router.add_get("/wwpic/{config_id}.png", self.image)
        for name in (
            "add_join_way",
            "get_join_way",
            "update_join_way",
            "del_join_way",
            "get",
            "list",
        ):
            app.router.add_post(f"/cgi-bin/externalcontact/groupchat/{name}", self.groupchat)
        return app

    @staticmethod
    def join_link(config_id: str) -> str:
        """What the fake's join-way code holds."""
        return f"https://work.weixin.qq.com/gm/fake{config_id[:16]}"

    async def image(self, request: web.Request) -> web.Response:
        config_id = request.match_info["config_id"]
        if self.images_missing or config_id not in self.join_ways:
            return web.Response(status=404)
        self.images_served += 1
        return web.Response(body=render_png(self.join_link(config_id)), content_type="image/png")

    async def gettoken(self, request: web.Request) -> web.Response:
        self.calls.append("gettoken")
        if request.query.get("corpid") != CORP_ID:
            return _error(40013, "invalid corpid")
        if request.query.get("corpsecret") != SECRET:
            return _error(40001, "invalid credential")
        token = secrets.token_hex(16)
        self.tokens[token] = True
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.expires_in}
        )

    async def groupchat(self, request: web.Request) -> web.Response:
        name = request.path.rsplit("/", 1)[1]
        path = f"externalcontact/groupchat/{name}"
        self.calls.append(path)
        if self.delays[path]:
            await asyncio.sleep(self.delays[path].popleft())
        token = request.query.get("access_token")
        if not token:
            return _error(41001, "access_token missing")
        if token not in self.tokens:
            return _error(40014, "invalid access_token")
        if not self.tokens[token]:
            return _error(42001, "access_token expired")
        if self.errors[path]:
            return _error(self.errors[path].popleft(), "injected by the test")
        try:
            body = await request.json()
        except ValueError:
            return _error(47001, "data format error")
        if not isinstance(body, dict):
            return _error(47001, "data format error")
        handler = getattr(self, f"_{name}")
        answer: dict[str, Any] = handler(body)
        return web.json_response(answer)

    def _check_way(self, body: dict[str, Any]) -> dict[str, Any] | None:
        if body.get("scene") not in (1, 2):
            return {"errcode": 40058, "errmsg": "invalid scene"}
        chats = body.get("chat_id_list")
        if not isinstance(chats, list) or not 1 <= len(chats) <= 5:
            return {"errcode": 40058, "errmsg": "chat_id_list needs 1 to 5 chats"}
        if any(c not in self.chats or self.chats[c].dismissed for c in chats):
            return {"errcode": 40058, "errmsg": "invalid chat_id"}
        if len(str(body.get("state", ""))) > 30:
            return {"errcode": 40058, "errmsg": "state exceeds 30 characters"}
        if len(str(body.get("room_base_name", ""))) > 40:
            return {"errcode": 40058, "errmsg": "room_base_name exceeds 40 characters"}
        return None

    def _add_join_way(self, body: dict[str, Any]) -> dict[str, Any]:
        error = self._check_way(body)
        if error:
            return error
        config_id = secrets.token_hex(16)
        way = {k: body[k] for k in body if k != "mark_source"}
        way["config_id"] = config_id
        way["qr_code"] = f"{self.base or 'https://wework.qpic.cn'}/wwpic/{config_id}.png"
        way.setdefault("auto_create_room", 1)
        self.join_ways[config_id] = way
        return {"errcode": 0, "errmsg": "ok", "config_id": config_id}

    def _get_join_way(self, body: dict[str, Any]) -> dict[str, Any]:
        way = self.join_ways.get(str(body.get("config_id")))
        if way is None:
            return {"errcode": 40058, "errmsg": "invalid config_id"}
        return {"errcode": 0, "errmsg": "ok", "join_way": dict(way)}

    def _update_join_way(self, body: dict[str, Any]) -> dict[str, Any]:
        way = self.join_ways.get(str(body.get("config_id")))
        if way is None:
            return {"errcode": 40058, "errmsg": "invalid config_id"}
        error = self._check_way(body)
        if error:
            return error
        way.update({k: v for k, v in body.items() if k != "mark_source"})
        return {"errcode": 0, "errmsg": "ok"}

    def _del_join_way(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.join_ways.pop(str(body.get("config_id")), None) is None:
            return {"errcode": 40058, "errmsg": "invalid config_id"}
        return {"errcode": 0, "errmsg": "ok"}

    def _get(self, body: dict[str, Any]) -> dict[str, Any]:
        chat = self.chats.get(str(body.get("chat_id")))
        if chat is None or chat.dismissed:
            return {"errcode": 40058, "errmsg": "invalid chat_id"}
        return {"errcode": 0, "errmsg": "ok", "group_chat": chat.answer()}

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = body.get("limit")
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            return {"errcode": 40058, "errmsg": "limit must be 1 to 1000"}
        ids = sorted(c for c, chat in self.chats.items() if not chat.dismissed)
        start = int(body.get("cursor") or 0)
        page = ids[start : start + limit]
        answer: dict[str, Any] = {
            "errcode": 0,
            "errmsg": "ok",
            "group_chat_list": [{"chat_id": c, "status": 0} for c in page],
        }
        if start + limit < len(ids):
            answer["next_cursor"] = str(start + limit)
        return answer


def chat_event(
    fake: FakeWeCom,
    chat_id: str,
    change_type: str,
    update_detail: str = "",
    *,
    userids: list[str] | None = None,
    last_version: str = "",
) -> dict[str, Any]:
    """A 客户群变更事件 (change_external_chat) as WeCom documents it, for the chat as it is now."""
    chat = fake.chats[chat_id]
    event: dict[str, Any] = {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "change_external_chat",
        "ChatId": chat_id,
        "ChangeType": change_type,
    }
    if change_type == "update":
        event["UpdateDetail"] = update_detail
        if update_detail == "add_member":
            event["JoinScene"] = 3
        if update_detail == "del_member":
            event["QuitScene"] = 0
        if userids is not None:
            event["MemChangeCnt"] = len(userids)
            event["MemChangeList"] = userids
        event["LastMemVer"] = last_version
        event["CurMemVer"] = f"{chat.version:032x}"
    return event


def callback(
    crypto: CallbackCrypto, event: Mapping[str, Any], *, timestamp: int | None = None
) -> tuple[dict[str, str], bytes]:
    """The query and body of WeCom's POST of `event`: encrypted, signed, in its XML envelope."""
    inner = "".join(_element(k, v) for k, v in event.items())
    encrypted = crypto.encrypt(f"<xml>{inner}</xml>".encode())
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = str(secrets.randbelow(10**10))
    query = {
        "msg_signature": signature(crypto.token, ts, nonce, encrypted),
        "timestamp": ts,
        "nonce": nonce,
    }
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
        "<AgentID><![CDATA[1000002]]></AgentID></xml>"
    )
    return query, body.encode()


def _element(name: str, value: Any) -> str:
    if isinstance(value, list):
        return f"<{name}>" + "".join(f"<Item><![CDATA[{v}]]></Item>" for v in value) + f"</{name}>"
    if isinstance(value, int):
        return f"<{name}>{value}</{name}>"
    return f"<{name}><![CDATA[{value}]]></{name}>"


def client_of(session: ClientSession, server: TestServer, **options: Any) -> WeComClient:
    """A client of the fake, with the fake's corp and secret."""
    options.setdefault("backoff_s", 0.01)
    return WeComClient(
        session,
        corp_id=CORP_ID,
        secret=SECRET,
        api_base=str(server.make_url("/cgi-bin")),
        **options,
    )


def _error(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


async def groupchat_list(
    client: WeComClient, *, status_filter: int = 0, limit: int = 1000, owners: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every customer group chat (chat_id, status), all pages: `groupchat/list` through the
    client's `call` (the service itself never lists chats; these tests do)."""
    chats: list[dict[str, Any]] = []
    cursor = ""
    while True:
        body: dict[str, Any] = {"status_filter": status_filter, "limit": limit}
        if owners:
            body["owner_filter"] = {"userid_list": list(owners)}
        if cursor:
            body["cursor"] = cursor
        answer = await client.call("externalcontact/groupchat/list", body)
        chats.extend(answer.get("group_chat_list") or [])
        cursor = str(answer.get("next_cursor") or "")
        if not cursor:
            return chats
