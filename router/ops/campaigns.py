"""PUT /admin/api/entries/{code}/campaign: an entry code's campaign copy, shown on the customer
page above the store (a poster's own offer). Every worker shows it after its catalogue reload."""

from __future__ import annotations

import logging
import re

from aiohttp import web

from router.errors import BadInput, NotFound
from router.keys import POOL, PRINCIPAL
from router.ops import trail
from router.ops.handlers import json_body, json_response
from router.store import sql
from router.store.db import Operation

log = logging.getLogger(__name__)

CAMPAIGN = Operation("入口码活动文案设置", "entry code campaign copy")
MAX_CAMPAIGN = 40  # characters; the migration's check says the same
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


async def set_campaign(request: web.Request) -> web.Response:
    """Body {"campaign": "..."}; "" removes it."""
    code = request.match_info["code"]
    body = await json_body(request)
    text = body.get("campaign")
    if not isinstance(text, str):
        raise BadInput('campaign must be a string ("" for none)', code="bad_campaign")
    text = text.strip()
    if len(text) > MAX_CAMPAIGN or _CONTROL.search(text):
        raise BadInput(
            f"活动文案最多 {MAX_CAMPAIGN} 个字，不能换行 / campaign copy is at most "
            f"{MAX_CAMPAIGN} characters on one line",
            code="bad_campaign",
        )
    pool = request.config_dict[POOL]
    actor = request[PRINCIPAL].actor
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(sql.ENTRY_FOR_AUDIT, code)
        row = await conn.fetchrow(sql.SET_ENTRY_CAMPAIGN, code, text)
        if before is None or row is None:
            raise NotFound(f"no entry code {code!r}", code="entry_not_found")
        await trail.campaign_set(conn, actor, code, before, row["campaign"])
        await conn.execute(sql.NOTIFY_CATALOGUE, "entries")
    log.info("admin: %s set the campaign of entry code %s", actor, code)
    return json_response({"code": row["code"], "campaign": row["campaign"]})
