"""A local stand-in for the WeChat official account API the JS-SDK needs, following its public
documentation field by field:

- 获取Access token: GET /cgi-bin/token?grant_type=client_credential&appid=APPID&secret=APPSECRET
  answers {"access_token": "...", "expires_in": 7200}, or {"errcode": ..., "errmsg": "..."}:
  -1 system busy, 40001 invalid credential (wrong AppSecret), 40002 invalid grant_type,
  40013 invalid appid, 40164 IP not whitelisted, 45009 daily quota reached.
- JS-SDK 附录1: GET /cgi-bin/ticket/getticket?access_token=ACCESS_TOKEN&type=jsapi answers
  {"errcode": 0, "errmsg": "ok", "ticket": "...", "expires_in": 7200}, or an errcode: 40001
  invalid credential / 40014 invalid access_token / 42001 access_token expired, -1, 45009.

Tests steer it: queue errcodes per path, expire tokens, hold answers until released, shorten
expires_in.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from typing import Any

from aiohttp import web

APPID = "wx0123456789abcdef"
SECRET = "0123456789abcdef0123456789abcdef"
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40164: "invalid ip, not in whitelist",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
}
TOKEN = "cgi-bin/token"
TICKET = "cgi-bin/ticket/getticket"


class FakeWeChat:
    def __init__(self) -> None:
        self.tokens: dict[str, bool] = {}  # token -> still valid
        self.tickets: list[str] = []
        self.expires_in = 7200
        self.calls: list[str] = []  # paths, in order
        self.errors: dict[str, deque[int]] = defaultdict(deque)  # path -> errcodes to answer
        self.hold: asyncio.Event | None = None  # set: answers wait until it is set
        self.answer: dict[str, Any] | None = None  # an odd answer for the next call, if set
        self._serial = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self.token)
        app.router.add_get("/cgi-bin/ticket/getticket", self.getticket)
        return app

    def expire_tokens(self) -> None:
        for t in self.tokens:
            self.tokens[t] = False

    @property
    def ticket(self) -> str:
        return self.tickets[-1]

    async def _start(self, path: str) -> web.Response | None:
        self.calls.append(path)
        if self.hold is not None:
            await self.hold.wait()
        if self.answer is not None:
            odd, self.answer = self.answer, None
            return web.json_response(odd)
        if self.errors[path]:
            code = self.errors[path].popleft()
            return web.json_response({"errcode": code, "errmsg": ERRMSG.get(code, "error")})
        return None

    async def token(self, request: web.Request) -> web.Response:
        early = await self._start(TOKEN)
        if early is not None:
            return early
        q = request.query
        if q.get("grant_type") != "client_credential":
            return web.json_response({"errcode": 40002, "errmsg": ERRMSG[40002]})
        if q.get("appid") != APPID:
            return web.json_response({"errcode": 40013, "errmsg": ERRMSG[40013]})
        if q.get("secret") != SECRET:
            return web.json_response({"errcode": 40001, "errmsg": ERRMSG[40001]})
        token = f"ACCESS-TOKEN-{next(self._serial)}"
        self.tokens[token] = True
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    async def getticket(self, request: web.Request) -> web.Response:
        early = await self._start(TICKET)
        if early is not None:
            return early
        q = request.query
        valid = self.tokens.get(q.get("access_token", ""))
        if valid is None:
            return web.json_response({"errcode": 40014, "errmsg": ERRMSG[40014]})
        if not valid:
            return web.json_response({"errcode": 42001, "errmsg": ERRMSG[42001]})
        if q.get("type") != "jsapi":
            return web.json_response({"errcode": 40097, "errmsg": "invalid args"})
        ticket = f"JSAPI-TICKET-{next(self._serial)}"
        self.tickets.append(ticket)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": self.expires_in}
        )
