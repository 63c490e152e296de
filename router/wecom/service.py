"""WeCom's parts of a running worker, built when HUOMA_WECOM_CORP_ID is set."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import asyncpg

from router.settings import Settings
from router.wecom.callbacks import CallbackReceiver
from router.wecom.client import WeComClient
from router.wecom.sync import WeComSync


@dataclass(slots=True)
class WeComService:
    session: aiohttp.ClientSession
    client: WeComClient
    sync: WeComSync
    receiver: CallbackReceiver

    async def close(self) -> None:
        await self.receiver.drain()
        await self.session.close()


def open_service(pool: asyncpg.Pool, settings: Settings) -> WeComService:
    session = aiohttp.ClientSession()
    client = WeComClient(
        session,
        corp_id=settings.wecom_corp_id,
        secret=settings.wecom_secret,
        api_base=settings.wecom_api_base,
        timeout_s=settings.wecom_timeout_s,
        retries=settings.wecom_retries,
    )
    sync = WeComSync(pool, client, settings)
    return WeComService(session, client, sync, CallbackReceiver(pool, sync, settings))
