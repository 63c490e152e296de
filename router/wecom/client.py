"""A WeCom server API client: the access token, errors, timeouts and retries, and the customer-group
calls the join-way provider needs (客户群「加入群聊」管理, 获取客户群详情, 获取客户群列表).

The access token (gettoken) is cached for its lifetime and refreshed early, one refresh in flight
at a time however many calls want it; a call answered with a token error refreshes it and tries
again once. Busy or rate-limited answers and network failures are retried with exponential
backoff, a bounded number of times. Neither the secret nor a token ever reaches a log (both travel
in query strings, so no URL is ever logged).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin"

# errcode values with a meaning the client acts on (全局错误码).
BUSY = -1  # 系统繁忙: try again
TOKEN_ERRORS = frozenset(
    {
        40014,  # 不合法的access_token
        41001,  # 缺少access_token参数
        42001,  # access_token已过期
    }
)
RETRY_ERRORS = frozenset(
    {
        BUSY,
        45009,  # 接口调用超过限制
        45033,  # 接口并发调用超过限制
    }
)
# What an errcode means, for people: the common ones of these calls; others carry WeCom's errmsg.
MEANINGS: Mapping[int, str] = {
    BUSY: "WeCom is busy",
    40001: "the secret is not valid (HUOMA_WECOM_SECRET)",
    40013: "the corp id is not valid (HUOMA_WECOM_CORP_ID)",
    40014: "the access token is not valid",
    40058: "a parameter is not valid",
    41001: "the access token is missing",
    42001: "the access token has expired",
    45009: "the API's call limit is reached",
    45033: "too many concurrent calls",
    48002: "this application may not call this API (客户联系 permission)",
    60011: "this application may not see that member, department or tag",
    60020: "this server's IP address is not on the application's trusted list",
}
# Refresh a token this long before WeCom says it expires, seconds.
REFRESH_EARLY_S = 300.0


class WeComError(Exception):
    """WeCom answered with an error (errcode != 0), or did not answer usably."""

    def __init__(self, api: str, errcode: int, errmsg: str, meaning: str | None = None) -> None:
        meaning = meaning or MEANINGS.get(errcode, "WeCom refused the call")
        super().__init__(f"{api}: {meaning} (errcode {errcode}: {errmsg})")
        self.api = api
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def retryable(self) -> bool:
        return self.errcode in RETRY_ERRORS


class WeComUnavailable(WeComError):
    """No usable answer after every retry: timeouts, connection errors, HTTP errors, bad JSON."""

    def __init__(self, api: str, why: str) -> None:
        super().__init__(api, BUSY, f"no usable answer: {why}")


@dataclass(slots=True)
class JoinWay:
    """A 「加入群聊」 configuration (add_join_way / update_join_way / get_join_way fields)."""

    chat_id_list: list[str]
    state: str
    room_base_name: str
    room_base_id: int = 1
    auto_create_room: int = 1
    scene: int = 2  # 2: a QR code (1 would be a Mini Program button)
    remark: str = ""
    config_id: str = ""
    qr_code: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "scene": self.scene,
            "remark": self.remark,
            "auto_create_room": self.auto_create_room,
            "room_base_name": self.room_base_name,
            "room_base_id": self.room_base_id,
            "chat_id_list": self.chat_id_list,
            "state": self.state,
        }
        if self.config_id:
            body["config_id"] = self.config_id
        return body

    @classmethod
    def from_answer(cls, join_way: Mapping[str, Any]) -> JoinWay:
        known = {
            "config_id",
            "scene",
            "remark",
            "auto_create_room",
            "room_base_name",
            "room_base_id",
            "chat_id_list",
            "qr_code",
            "state",
        }
        return cls(
            chat_id_list=list(join_way.get("chat_id_list") or []),
            state=str(join_way.get("state") or ""),
            room_base_name=str(join_way.get("room_base_name") or ""),
            room_base_id=int(join_way.get("room_base_id") or 1),
            auto_create_room=int(join_way.get("auto_create_room", 1)),
            scene=int(join_way.get("scene") or 2),
            remark=str(join_way.get("remark") or ""),
            config_id=str(join_way.get("config_id") or ""),
            qr_code=str(join_way.get("qr_code") or ""),
            extra={k: v for k, v in join_way.items() if k not in known},
        )


class WeComClient:
    """One corp's server API, through one aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        corp_id: str,
        secret: str,
        api_base: str = DEFAULT_API_BASE,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        self._session = session
        self.corp_id = corp_id
        self._secret = secret
        self.api_base = api_base.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retries = retries
        self.backoff_s = backoff_s
        self._token = ""
        self._token_until = 0.0
        self._refreshing: asyncio.Task[str] | None = None
        self.token_fetches = 0  # how many times gettoken was called (metrics, tests)

    def __repr__(self) -> str:  # never the secret or the token
        return f"WeComClient(corp_id={self.corp_id!r}, api_base={self.api_base!r})"

    # ---- the access token --------------------------------------------------------------------

    async def token(self) -> str:
        """A valid access token: the cached one, or one fresh fetch shared by every caller."""
        if self._token and time.monotonic() < self._token_until:
            return self._token
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._fetch_token())
        return await asyncio.shield(self._refreshing)

    def forget_token(self, token: str) -> None:
        """WeCom refused `token`: the next call fetches another (unless one already replaced it)."""
        if token == self._token:
            self._token = ""
            self._token_until = 0.0

    async def _fetch_token(self) -> str:
        params = {"corpid": self.corp_id, "corpsecret": self._secret}
        answer = await self._request("gettoken", "GET", "/gettoken", params=params)
        token = str(answer.get("access_token") or "")
        if not token:
            raise WeComUnavailable("gettoken", "no access_token in the answer")
        lifetime = float(answer.get("expires_in") or 7200)
        self._token = token
        self._token_until = time.monotonic() + max(lifetime - REFRESH_EARLY_S, lifetime / 2)
        self.token_fetches += 1
        return token

    # ---- calls ---------------------------------------------------------------------------------

    async def call(self, api: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST `body` to `api` (a path under the API base) with a token; WeCom's answer."""
        token = await self.token()
        try:
            return await self._request(
                api, "POST", f"/{api}", params={"access_token": token}, body=body
            )
        except WeComError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            # Expired or revoked under us (another process may have refreshed it): once more.
            log.info(
                "wecom %s: access token refused (errcode %d); fetching another", api, exc.errcode
            )
            self.forget_token(token)
            token = await self.token()
            return await self._request(
                api, "POST", f"/{api}", params={"access_token": token}, body=body
            )

    async def _request(
        self,
        api: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One API request, retried on network trouble and busy answers; errcode 0 or raise."""
        url = self.api_base + path
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        last: WeComError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                async with self._session.request(
                    method, url, params=params, data=data, headers=headers, timeout=self.timeout
                ) as response:
                    raw = await response.read()
                    if response.status != 200:
                        last = WeComUnavailable(api, f"HTTP {response.status}")
                        continue
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = WeComUnavailable(api, type(exc).__name__)
                log.warning(
                    "wecom %s: attempt %d failed (%s)", api, attempt + 1, type(exc).__name__
                )
                continue
            try:
                answer = orjson.loads(raw)
            except orjson.JSONDecodeError:
                last = WeComUnavailable(api, "the answer is not JSON")
                continue
            if not isinstance(answer, dict):
                last = WeComUnavailable(api, "the answer is not a JSON object")
                continue
            errcode = int(answer.get("errcode") or 0)
            if errcode == 0:
                return answer
            error = WeComError(api, errcode, str(answer.get("errmsg") or ""))
            if not error.retryable:
                raise error
            last = error
            log.warning("wecom %s: attempt %d: %s", api, attempt + 1, error)
        assert last is not None
        raise last

    # ---- 客户群「加入群聊」管理 (join ways) -------------------------------------------

    async def add_join_way(self, way: JoinWay) -> str:
        """A new configuration; its config_id (the QR code comes from get_join_way)."""
        answer = await self.call("externalcontact/groupchat/add_join_way", way.body())
        return str(answer["config_id"])

    async def get_join_way(self, config_id: str) -> JoinWay:
        answer = await self.call("externalcontact/groupchat/get_join_way", {"config_id": config_id})
        return JoinWay.from_answer(answer["join_way"])

    async def update_join_way(self, way: JoinWay) -> None:
        assert way.config_id, "update_join_way needs the config_id"
        await self.call("externalcontact/groupchat/update_join_way", way.body())

    async def del_join_way(self, config_id: str) -> None:
        await self.call("externalcontact/groupchat/del_join_way", {"config_id": config_id})

    # ---- 客户群 (customer group chats) ----------------------------------------------------

    async def groupchat_get(self, chat_id: str) -> dict[str, Any]:
        """The group chat's details: name, owner, member_list (with join_scene, join_time and
        the join way's state), member_version."""
        answer = await self.call(
            "externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 0}
        )
        chat: dict[str, Any] = answer["group_chat"]
        return chat
