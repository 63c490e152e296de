"""The `wecom` group provider: a store low on groups gets its WeCom join way, when ops gave it
WeCom chats (WeCom cannot open a customer group by API; it opens the next ones by itself)."""

from __future__ import annotations

from datetime import datetime

from router.errors import NotFound
from router.keeper.providers import NewGroup, StoreRef
from router.wecom.sync import WeComSync, group_id_of


class WeComProvider:
    name = "wecom"

    def __init__(self, sync: WeComSync) -> None:
        self.sync = sync

    async def create_group(self, store: StoreRef, now: datetime) -> NewGroup | None:
        try:
            result = await self.sync.sync_store(store.store_id)
        except NotFound:
            return None  # no WeCom chats for this store: ops are alerted to upload groups
        if result.error is not None or not result.qr_code:
            return None
        # The sync has written the group already; this tells the keeper what it is.
        return NewGroup(
            group_id=group_id_of(store.store_id),
            name=f"{store.name} 企业微信群",
            qr_payload=result.qr_code,
            capacity=2_000_000_000,
            expires_at=None,
            source=self.name,
        )
