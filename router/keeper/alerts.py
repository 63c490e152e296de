"""Alert delivery: open alerts are posted to a WeCom group robot as markdown, once each.

Raising an alert that is already open is a no-op (a partial unique index), so each condition is
posted once while it lasts. An alert raised again after it was resolved is posted only if the
same kind for the same store (and group) was not posted within HUOMA_ALERT_COOLDOWN_S; otherwise
it is recorded as suppressed. Only the keeper delivers, so the robot's limit (20 messages a
minute) is kept in this process.

The robot API: POST {"msgtype": "markdown", "markdown": {"content": ...}} to the webhook URL
(https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...); content is at most 4096 bytes of
UTF-8; the answer is {"errcode": 0, "errmsg": "ok"} on success.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import asyncpg
import orjson

from router.settings import Settings
from router.store import sql
from router.store.opsettings import OpsSettings, Webhook

log = logging.getLogger(__name__)

KIND_LOW = "low_groups"
KIND_FALLBACK = "on_fallback"
KIND_EXPIRING = "group_expiring"

# How each kind reads in the robot's message (ops read Chinese first).
LABELS = {
    KIND_FALLBACK: ('<font color="warning">兜底中</font>', "on fallback"),
    KIND_LOW: ('<font color="warning">可用群不足</font>', "low on groups"),
    KIND_EXPIRING: ('<font color="comment">群码将过期</font>', "group expiring"),
}

MAX_CONTENT_BYTES = 4096
POSTS_PER_MINUTE = 20
PENDING_PER_PASS = 500
GIVE_UP_AFTER_S = 86_400

# Characters WeCom's markdown would read as markup, replaced in text that ops typed.
_MARKUP = str.maketrans({"<": "‹", ">": "›", "*": "∗", "`": "'", "[": "(", "]": ")", "#": "＃"})


def _clean(text: str | None) -> str:
    return (text or "").translate(_MARKUP).replace("\n", " ")


def _line(alert: Any) -> str:
    zh, en = LABELS.get(alert["kind"], (alert["kind"], alert["kind"]))
    store = _clean(alert["store_id"] or "*")
    if alert["store_name"]:
        store += f" {_clean(alert['store_name'])}"
    return f"> {zh} ({en}) **{store}**: {_clean(alert['message'])}"


def compose(alerts: Sequence[Any], base_url: str) -> list[tuple[str, list[int]]]:
    """Markdown messages of at most MAX_CONTENT_BYTES each, with the alert ids each carries."""
    messages: list[tuple[str, list[int]]] = []
    footer = f"\n[活码控制台 Huoma console]({base_url}/admin)"
    lines: list[str] = []
    ids: list[int] = []

    def header(n: int) -> str:
        return f"**活码告警 Huoma alerts** ({n})\n"

    def size(candidate: list[str]) -> int:
        text = header(len(candidate)) + "\n".join(candidate) + footer
        return len(text.encode())

    for alert in alerts:
        line = _line(alert)
        limit = MAX_CONTENT_BYTES - len(header(999).encode()) - len(footer.encode()) - 1
        while len(line.encode()) > limit:  # one absurdly long message: cut it, never drop it
            line = line[: max(1, len(line) * 9 // 10)] + "…"
        if lines and size([*lines, line]) > MAX_CONTENT_BYTES:
            messages.append((header(len(lines)) + "\n".join(lines) + footer, ids))
            lines, ids = [], []
        lines.append(line)
        ids.append(alert["id"])
    if lines:
        messages.append((header(len(lines)) + "\n".join(lines) + footer, ids))
    return messages


class AlertSender:
    """Posts pending alerts to the webhooks; one per deployment (the keeper's). The webhooks, the
    cool-down and the expiry threshold are the settings ops own (`live`, read at every pass), the
    environment's when none is stored."""

    def __init__(self, settings: Settings, live: OpsSettings | None = None) -> None:
        self.settings = settings
        self.live = live if live is not None else OpsSettings(settings)
        # Posts per robot in the last minute: each robot has its own limit.
        self._posts: dict[str, collections.deque[float]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _budget(self, url: str) -> int:
        now = time.monotonic()
        posts = self._posts.setdefault(url, collections.deque())
        while posts and now - posts[0] >= 60.0:
            posts.popleft()
        return POSTS_PER_MINUTE - len(posts)

    async def _post(self, url: str, content: str) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.alert_timeout_s)
            )
        self._posts.setdefault(url, collections.deque()).append(time.monotonic())
        body = orjson.dumps({"msgtype": "markdown", "markdown": {"content": content}})
        try:
            async with self._session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json"},
            ) as response:
                answer = await response.read()
                if response.status != 200:
                    log.warning("alert webhook answered HTTP %d", response.status)
                    return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The URL holds the robot's key: never log it.
            log.warning("alert webhook unreachable: %s", type(exc).__name__)
            return False
        try:
            parsed = orjson.loads(answer)
        except orjson.JSONDecodeError:
            log.warning("alert webhook answered something that is not JSON")
            return False
        errcode = parsed.get("errcode") if isinstance(parsed, dict) else None
        if errcode != 0:
            log.warning(
                "alert webhook refused the message: errcode %s (%s)",
                errcode,
                parsed.get("errmsg") if isinstance(parsed, dict) else "",
            )
            return False
        return True

    async def deliver(self, conn: asyncpg.Connection) -> int:
        """Post what is pending (within each robot's rate) to every robot that serves its store
        (by region or city; a robot without regions serves all); returns how many alerts were
        sent. An alert is marked sent once every robot meant for it took it; until then it stays
        pending and is tried again next pass."""
        settings, live = self.settings, self.live
        await conn.execute(sql.GIVE_UP_ALERTS, GIVE_UP_AFTER_S)
        pending = await conn.fetch(sql.PENDING_ALERTS, live.alert_cooldown_s, PENDING_PER_PASS)
        cooling = [a["id"] for a in pending if a["cooling"]]
        if cooling:
            await conn.execute(sql.SET_ALERT_DELIVERY, cooling, "suppressed")
        due = [a for a in pending if not a["cooling"]]
        if not due:
            return 0
        hooks = live.webhooks
        meant: dict[int, list[Webhook]] = {
            a["id"]: [w for w in hooks if w.serves(a["store_region"], a["store_city"])] for a in due
        }
        nobody = [i for i, ws in meant.items() if not ws]
        if nobody:
            await conn.execute(sql.SET_ALERT_DELIVERY, nobody, "off")
        took: dict[int, int] = collections.Counter()
        for hook in hooks:
            mine = [a for a in due if hook in meant[a["id"]]]
            for content, ids in compose(mine, settings.base_url):
                if self._budget(hook.url) <= 0:
                    break  # the rest waits for the next sweep
                if not await self._post(hook.url, content):
                    break  # kept pending: the next sweep tries again
                for i in ids:
                    took[i] += 1
        sent = [i for i, ws in meant.items() if ws and took[i] == len(ws)]
        if sent:
            await conn.execute(sql.SET_ALERT_DELIVERY, sent, "sent")
        return len(sent)


async def raise_expiring(conn: asyncpg.Connection, settings: Settings, expiry_h: float) -> None:
    window = expiry_h * 3600.0
    await conn.execute(sql.RAISE_EXPIRING_ALERTS, window, KIND_EXPIRING, settings.timezone)
    await conn.execute(sql.RESOLVE_EXPIRING_ALERTS, window, KIND_EXPIRING)


async def drain(sender: AlertSender) -> None:
    """Close the sender's connection without waiting on a webhook that hangs."""
    try:
        await asyncio.wait_for(sender.close(), 2.0)
    except TimeoutError:
        log.warning("alert webhook session did not close in time")
