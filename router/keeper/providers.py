"""Group providers: who makes a new group when a store's pool runs low.

`HUOMA_GROUP_PROVIDER` chooses one. A provider creates a group, or says it cannot now. (Member
counts do not come from providers: uploads, the admin API and WeCom's callbacks report them.)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoreRef:
    store_id: str
    name: str
    city: str


@dataclass(frozen=True, slots=True)
class NewGroup:
    group_id: str
    name: str
    qr_payload: str
    capacity: int
    expires_at: datetime | None
    source: str


class GroupProvider(Protocol):
    name: str

    async def create_group(self, store: StoreRef, now: datetime) -> NewGroup | None:
        """A new group for the store, or None when this provider cannot make one now (ops are
        alerted and an upload is awaited)."""


class SimulatedProvider:
    """Generated groups with personal-WeChat-style codes: demos and load tests."""

    name = "simulated"

    def __init__(self, lifetime: timedelta, capacity: int = 200) -> None:
        self.lifetime = lifetime
        self.capacity = capacity

    async def create_group(self, store: StoreRef, now: datetime) -> NewGroup | None:
        token = secrets.token_hex(8).upper()
        return NewGroup(
            group_id=f"{store.store_id}-SIM-{token}",
            name=f"{store.name} 福利群 {token[:4]}",
            qr_payload=f"https://weixin.qq.com/g/SIM{token}",
            capacity=self.capacity,
            expires_at=now + self.lifetime,
            source=self.name,
        )


class OpsProvider:
    """Ops create groups in WeChat and upload them; Huoma raises an alert and waits."""

    name = "ops"

    async def create_group(self, store: StoreRef, now: datetime) -> NewGroup | None:
        return None


def make_provider(name: str, wechat_lifetime: timedelta) -> GroupProvider:
    if name == "simulated":
        return SimulatedProvider(wechat_lifetime)
    if name == "ops":
        return OpsProvider()
    raise ValueError(f"unknown group provider {name!r}")
