"""WeCom's callbacks (接收事件服务器) at /wecom/callback: the URL check and customer-group events.

A POST is checked (signature, timestamp within HUOMA_WECOM_CALLBACK_SKEW_S, our corp id inside),
stored once by its signature and answered at once with an empty 200 (WeCom waits 5 seconds, then
retries); the work (reading the chat from WeCom, counting members, recording joins, rotating
the join way) happens after the answer, and whatever failed is retried by the keeper. A repeated
delivery is answered again and not processed twice; events arriving out of order are harmless,
since every one is answered by reading the chat's current state from WeCom.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg
from aiohttp import web

from router.errors import HuomaError
from router.settings import Settings
from router.store import sql
from router.store.db import DB_ERRORS
from router.wecom.client import WeComError
from router.wecom.crypto import MAX_BODY_BYTES, CallbackCrypto, CallbackError, parse_xml
from router.wecom.sync import WeComSync

log = logging.getLogger(__name__)

# A callback whose processing failed this many times is left for ops (its error is kept).
MAX_ATTEMPTS = 5
_TROUBLE: tuple[type[BaseException], ...] = (WeComError, *DB_ERRORS)


class CallbackRefused(HuomaError):
    status = 403
    code = "callback_refused"


class CallbackReceiver:
    def __init__(self, pool: asyncpg.Pool, sync: WeComSync, settings: Settings) -> None:
        self.pool = pool
        self.sync = sync
        self.settings = settings
        self.crypto = CallbackCrypto(
            settings.wecom_callback_token, settings.wecom_aes_key, settings.wecom_corp_id
        )
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- HTTP ------------------------------------------------------------------------------------

    def _signed(self, request: web.Request) -> tuple[str, str, str]:
        query = request.query
        signature = query.get("msg_signature", "")
        timestamp = query.get("timestamp", "")
        nonce = query.get("nonce", "")
        if not (signature and timestamp.isdigit() and nonce) or len(signature) > 64:
            raise CallbackRefused("msg_signature, timestamp and nonce are required")
        if abs(time.time() - int(timestamp)) > self.settings.wecom_callback_skew_s:
            raise CallbackRefused("the callback's timestamp is too far from now (replayed?)")
        return signature, timestamp, nonce

    async def verify_url(self, request: web.Request) -> web.Response:
        """GET: WeCom checks the URL; the answer is echostr's plain text, exactly."""
        signature, timestamp, nonce = self._signed(request)
        # Query decoding turns an unencoded '+' of the base64 into a space.
        echostr = request.query.get("echostr", "").replace(" ", "+")
        try:
            plain = self.crypto.open(signature, timestamp, nonce, echostr)
        except CallbackError as exc:
            log.warning("wecom: URL check refused: %s", exc)
            raise CallbackRefused(exc.message) from None
        return web.Response(body=plain, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """POST: an event. Stored once and answered at once; processed after the answer."""
        signature, timestamp, nonce = self._signed(request)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise CallbackRefused("the callback body is too large")
        body = await request.content.read(MAX_BODY_BYTES + 1)
        try:
            outer = parse_xml(body)
            encrypted = outer.get("Encrypt", "")
            message = self.crypto.open(signature, timestamp, nonce, encrypted)
            event = parse_xml(message)
        except CallbackError as exc:
            log.warning("wecom: callback refused: %s", exc)
            raise CallbackRefused(exc.message) from None
        row = {
            "signature": signature.lower(),
            "event": event.get("Event") or event.get("MsgType") or "",
            "chat_id": event.get("ChatId") or None,
            "change_type": event.get("ChangeType") or None,
            "update_detail": event.get("UpdateDetail") or None,
            "message": message.decode("utf-8", errors="replace"),
        }
        async with self.pool.acquire() as conn:
            fresh = await conn.fetchval(
                sql.WECOM_CALLBACK_SEEN,
                row["signature"],
                int(timestamp),
                row["event"],
                row["chat_id"],
                row["change_type"],
                row["update_detail"],
                row["message"],
            )
        if fresh is not None:
            task = asyncio.create_task(self._process_logged(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(text="")

    async def drain(self, within_s: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within_s)

    # ---- processing ------------------------------------------------------------------------------

    async def process_pending(self, limit: int = 200) -> int:
        """Process callbacks not yet done (this worker's, or others' that failed); how many."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(sql.WECOM_CALLBACKS_PENDING, MAX_ATTEMPTS, limit)
        for row in rows:
            await self._process_logged(dict(row))
        return len(rows)

    async def _process_logged(self, row: dict[str, Any]) -> None:
        try:
            await self.process(row)
        except _TROUBLE as exc:
            log.warning("wecom: callback %s not processed yet: %s", row["signature"][:12], exc)
            try:
                async with self.pool.acquire() as conn:
                    await conn.execute(sql.WECOM_CALLBACK_FAILED, row["signature"], str(exc)[:500])
            except DB_ERRORS:
                pass  # the keeper finds it pending all the same
            return
        async with self.pool.acquire() as conn:
            await conn.execute(sql.WECOM_CALLBACK_DONE, row["signature"])

    async def process(self, row: dict[str, Any]) -> None:
        """One event: only customer-group changes (change_external_chat) matter here."""
        if row["event"] != "change_external_chat" or not row["chat_id"]:
            return
        chat_id = str(row["chat_id"])
        change = row["change_type"]
        async with self.pool.acquire() as conn:
            store = await conn.fetchval(sql.WECOM_CHAT_OWNER, chat_id)
            if change == "dismiss":
                dismissed = await conn.fetchval(sql.WECOM_DISMISSED, chat_id)
        if change == "dismiss":
            if dismissed is not None:
                await self.sync.sync_store(str(dismissed))
            return
        adopted = False
        if store is None:
            # Not a chat we know: one WeCom opened for a join way of ours is adopted, by the
            # state its customers came in with. Anything else is not ours.
            store = await self.sync.adopt_by_state(chat_id)
            if store is None:
                return
            adopted = True
        event = parse_xml(row["message"].encode())
        async with self.pool.acquire() as conn:
            known = await conn.fetchval(sql.WECOM_CHAT_VERSION, chat_id)
        if known and known == event.get("CurMemVer") and not adopted:
            return  # this change is already counted (a repeat, or an older event)
        full = await self.sync.count(chat_id)
        if full is not None or adopted:
            await self.sync.sync_store(str(store))
