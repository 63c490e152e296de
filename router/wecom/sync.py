"""Per-store WeCom join ways, kept in step with our tables.

A store is given one or more WeCom customer group chats by ops (WeCom has no API to open a
customer group; the first must be opened in the WeCom app). Its join way (「加入群聊」, scene 2,
`auto_create_room=1`) spans up to five of its chats that are not full, in order; its QR code
becomes the store's group (groups.source = 'wecom'). As chats fill they leave the list; chats
WeCom opens by itself are adopted; a disabled or removed store's join way is deleted. Every step
is idempotent, so the keeper's periodic reconcile repairs whatever drifted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from router.errors import BadInput, NotFound
from router.settings import Settings
from router.store import sql
from router.store.changes import notify_stores
from router.wecom.client import JoinWay, WeComClient, WeComError

log = logging.getLogger(__name__)

# WeCom's limits (客户群「加入群聊」管理): chats per join way, room name and state lengths.
MAX_CHATS = 5
ROOM_NAME_MAX = 40
STATE_MAX = 30
_CHAT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Join ways reconciled at once.
SYNC_CONCURRENCY = 4
# A join is credited to the entry of the store's last scan shown its join way this long before.
JOIN_ATTRIBUTION_S = 1800.0


def group_id_of(store_id: str) -> str:
    """The ops-facing id of a store's join-way group."""
    return f"wecom-{store_id}"


def room_base_name(store_name: str) -> str:
    """The name prefix of the chats WeCom opens for the store, within WeCom's 40 characters."""
    suffix = "福利群"
    return store_name[: ROOM_NAME_MAX - len(suffix)] + suffix


@dataclass(slots=True)
class StoreSync:
    """What one store's sync did (the admin API and `huoma wecom sync` show it)."""

    store_id: str
    enabled: bool
    config_id: str | None = None
    qr_code: str | None = None
    chat_ids: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    created: bool = False
    updated: bool = False
    deleted: bool = False
    error: str | None = None
    errcode: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "enabled": self.enabled,
            "config_id": self.config_id,
            "qr_code": self.qr_code,
            "chat_ids": self.chat_ids,
            "adopted": self.adopted,
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "error": self.error,
        }


class WeComSync:
    def __init__(self, pool: asyncpg.Pool, client: WeComClient, settings: Settings) -> None:
        self.pool = pool
        self.client = client
        self.settings = settings
        self._member_key = hashlib.sha256(b"wecom-member|" + settings.secret.encode()).digest()
        self._locks: dict[str, asyncio.Lock] = {}

    def member_hash(self, userid: str) -> str:
        return hmac.new(self._member_key, userid.encode(), hashlib.sha256).hexdigest()[:32]

    # ---- ops' actions ----------------------------------------------------------------------------

    async def enable(self, store_id: str, chat_ids: Sequence[str]) -> StoreSync:
        """Give the store WeCom chats (at least one, the first WeCom needs) and sync it."""
        chats = list(dict.fromkeys(chat_ids))
        if not chats:
            raise BadInput("give at least one WeCom chat_id of the store", code="no_chats")
        bad = [c for c in chats if not _CHAT_ID.fullmatch(c)]
        if bad:
            raise BadInput(f"not a WeCom chat_id: {bad[0][:80]!r}", code="bad_chat_id")
        async with self.pool.acquire() as conn, conn.transaction():
            active = await conn.fetchval(sql.STORE_ACTIVE, store_id)
            if not active:
                raise NotFound(f"no active store {store_id!r}", code="store_not_found")
            await conn.execute(sql.WECOM_ENABLE, store_id)
            for chat in chats:
                if await conn.fetchval(sql.WECOM_ADD_CHAT, chat, store_id, False) is None:
                    owner = await conn.fetchval(sql.WECOM_CHAT_OWNER, chat)
                    raise BadInput(
                        f"chat {chat} already belongs to store {owner}", code="chat_taken"
                    )
        return await self.sync_store(store_id)

    async def disable(self, store_id: str) -> StoreSync:
        """Stop using WeCom for the store: its join way is deleted and its group retired."""
        async with self.pool.acquire() as conn:
            if await conn.fetchval(sql.WECOM_DISABLE, store_id) is None:
                raise NotFound(f"store {store_id!r} does not use WeCom", code="wecom_not_enabled")
        return await self.sync_store(store_id)

    # ---- syncing -------------------------------------------------------------------------------

    async def reconcile(self) -> list[StoreSync]:
        """Sync every store that uses WeCom, or did and still has a join way."""
        async with self.pool.acquire() as conn:
            stores = [r["store_id"] for r in await conn.fetch(sql.WECOM_STORES_TO_SYNC)]
        gate = asyncio.Semaphore(SYNC_CONCURRENCY)

        async def one(store_id: str) -> StoreSync:
            async with gate:
                return await self.sync_store(store_id)

        return list(await asyncio.gather(*(one(s) for s in stores)))

    async def sync_store(self, store_id: str) -> StoreSync:
        """Make WeCom's join way and our tables agree for one store (one sync at a time each)."""
        lock = self._locks.setdefault(store_id, asyncio.Lock())
        async with lock:
            try:
                return await self._sync(store_id)
            except WeComError as exc:
                log.warning("wecom: store %s not synced: %s", store_id, exc)
                async with self.pool.acquire() as conn:
                    await conn.execute(sql.WECOM_SYNC_FAILED, store_id, str(exc))
                return StoreSync(store_id, enabled=True, error=str(exc), errcode=exc.errcode)

    async def _sync(self, store_id: str) -> StoreSync:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(sql.WECOM_STORE, store_id)
            if row is None:
                raise NotFound(f"store {store_id!r} does not use WeCom", code="wecom_not_enabled")
            chats = await conn.fetch(sql.WECOM_CHATS, store_id)
        config_id: str | None = row["config_id"]
        if not (row["enabled"] and row["store_active"]):
            return await self._remove(store_id, config_id)
        result = StoreSync(store_id, enabled=True)
        way: JoinWay | None = None
        if config_id:
            try:
                way = await self.client.get_join_way(config_id)
            except WeComError as exc:
                if exc.errcode != 40058:  # anything but "no such config": try again later
                    raise
                log.warning(
                    "wecom: join way of store %s is gone in WeCom; making another", store_id
                )
        known = {c["chat_id"] for c in chats}
        if way is not None:
            # Chats WeCom opened by itself (auto_create_room) join the store's pool.
            for chat in way.chat_id_list:
                if chat not in known:
                    async with self.pool.acquire() as conn:
                        if await conn.fetchval(sql.WECOM_ADD_CHAT, chat, store_id, True):
                            result.adopted.append(chat)
            if result.adopted:
                for chat in result.adopted:
                    await self.count(chat)
                async with self.pool.acquire() as conn:
                    chats = await conn.fetch(sql.WECOM_CHATS, store_id)
        wanted = self._chat_list(chats)
        if not wanted:
            raise WeComError(
                "sync", 0, "every chat is dismissed", meaning="the store has no usable WeCom chat"
            )
        state = f"hm{row['id']}"
        name = room_base_name(row["store_name"] or store_id)
        if way is None:
            new = JoinWay(
                chat_id_list=wanted,
                state=state,
                room_base_name=name,
                room_base_id=len(chats) + 1,
                remark=f"Huoma {store_id}"[:30],
            )
            config_id = await self.client.add_join_way(new)
            way = await self.client.get_join_way(config_id)
            result.created = True
        elif (way.chat_id_list, way.state, way.auto_create_room, way.room_base_name) != (
            wanted,
            state,
            1,
            name,
        ):
            way.chat_id_list, way.state, way.auto_create_room = wanted, state, 1
            way.room_base_name = name
            await self.client.update_join_way(way)
            result.updated = True
        assert config_id is not None
        result.config_id, result.qr_code, result.chat_ids = config_id, way.qr_code, wanted
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.WECOM_SYNCED, store_id, config_id, way.qr_code, wanted)
            changed = await conn.fetchrow(
                sql.WECOM_UPSERT_GROUP,
                group_id_of(store_id),
                store_id,
                f"{row['store_name'] or store_id} 企业微信群",
                way.qr_code,
            )
            if changed is not None:  # a new or changed group of this store: patch the store
                await notify_stores(conn, [store_id], self.settings.patch_max_stores, "wecom")
        return result

    def _chat_list(self, chats: Sequence[asyncpg.Record]) -> list[str]:
        """Up to five chats that are not full, in order; when every one is full, the newest
        stays (a join way needs one, and WeCom opens the next chat when it is full)."""
        capacity = self.settings.wecom_room_capacity
        alive = [c for c in chats if not c["dismissed"]]
        room = [c["chat_id"] for c in alive if (c["member_count"] or 0) < capacity]
        if not room and alive:
            room = [alive[-1]["chat_id"]]
        return room[:MAX_CHATS]

    async def _remove(self, store_id: str, config_id: str | None) -> StoreSync:
        result = StoreSync(store_id, enabled=False)
        if config_id:
            try:
                await self.client.del_join_way(config_id)
            except WeComError as exc:
                if exc.errcode != 40058:  # already gone is what we wanted
                    raise
            result.deleted = True
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.WECOM_FORGET_JOIN_WAY, store_id)
            if await conn.fetchval(sql.WECOM_RETIRE_GROUP, group_id_of(store_id)) is not None:
                await notify_stores(conn, [store_id], self.settings.patch_max_stores, "wecom")
        return result

    # ---- members -------------------------------------------------------------------------------

    async def count(self, chat_id: str) -> str | None:
        """Read a chat's members from WeCom (groupchat/get, the authority): its member count,
        and its customers' joins with the join way's state they came through. Returns the
        store whose pool may need syncing (the chat filled up), or None."""
        started = datetime.now(UTC)
        chat = await self.client.groupchat_get(chat_id)
        members = chat.get("member_list") or []
        customers = [m for m in members if int(m.get("type") or 0) == 2]
        async with self.pool.acquire() as conn, conn.transaction():
            store_id = await conn.fetchval(
                sql.WECOM_COUNTED,
                chat_id,
                len(members),
                str(chat.get("member_version") or ""),
                started,
            )
            owner = store_id or await conn.fetchval(sql.WECOM_CHAT_OWNER, chat_id)
            await conn.execute(
                sql.WECOM_RECORD_JOINS,
                chat_id,
                owner,
                [self.member_hash(str(m.get("userid") or "")) for m in customers],
                [int(m.get("join_time") or time.time()) for m in customers],
                [str(m.get("state") or "")[:STATE_MAX] for m in customers],
                [int(m.get("join_scene") or 0) for m in customers],
                JOIN_ATTRIBUTION_S,
            )
        if store_id is not None and len(members) >= self.settings.wecom_room_capacity:
            return str(store_id)
        return None

    async def adopt_by_state(self, chat_id: str) -> str | None:
        """A chat we do not know: if a customer came in through one of our join ways, it is that
        store's (WeCom opened it); returns the store, or None."""
        chat = await self.client.groupchat_get(chat_id)
        for m in chat.get("member_list") or []:
            state = str(m.get("state") or "")
            if not state:
                continue
            async with self.pool.acquire() as conn:
                store_id = await conn.fetchval(sql.WECOM_STORE_OF_STATE, state)
                if store_id is not None and await conn.fetchval(
                    sql.WECOM_ADD_CHAT, chat_id, store_id, True
                ):
                    return str(store_id)
        return None
