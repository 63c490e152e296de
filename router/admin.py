"""The admin API (bearer token): for now, reporting a group's member count."""

from __future__ import annotations

import hmac
import logging

import asyncpg
import orjson
from aiohttp import web

from router import sql
from router.errors import BadInput, HuomaError, NotFound, Unauthorized, Unavailable
from router.handlers import JSON
from router.keys import POOL, SETTINGS

log = logging.getLogger("huoma.admin")

MAX_MEMBER_COUNT = 100_000


def authorize(request: web.Request) -> str:
    """The actor (which configured token, by position; never the token itself), or an error."""
    tokens = request.app[SETTINGS].admin_tokens
    if not tokens:
        raise HuomaError(
            "the admin API is closed: no HUOMA_ADMIN_TOKENS configured",
            code="admin_closed",
            status=403,
        )
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("send Authorization: Bearer <token>", code="unauthorized")
    actor = None
    for i, token in enumerate(tokens, start=1):
        # Compare against every token, always: timing reveals neither a match nor which one.
        if hmac.compare_digest(given.strip().encode(), token.encode()):
            actor = f"token#{i}"
    if actor is None:
        log.warning(
            "admin: rejected token from %s for %s %s", request.remote, request.method, request.path
        )
        raise Unauthorized("the token is not valid", code="unauthorized")
    log.info("admin: %s %s %s from %s", actor, request.method, request.path, request.remote)
    return actor


async def _json_body(request: web.Request) -> dict[str, object]:
    if request.content_type != "application/json":
        raise HuomaError("send application/json", code="unsupported_media_type", status=415)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise BadInput("the body is not valid JSON", code="bad_json") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object", code="bad_json")
    return body


async def set_member_count(request: web.Request) -> web.Response:
    authorize(request)
    group_id = request.match_info["group_id"]
    body = await _json_body(request)
    count = body.get("member_count")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_MEMBER_COUNT:
        raise BadInput(
            f"member_count must be a whole number from 0 to {MAX_MEMBER_COUNT}",
            code="bad_member_count",
        )
    try:
        async with request.app[POOL].acquire() as conn, conn.transaction():
            pk = await conn.fetchval(sql.SET_MEMBER_COUNT, group_id, count)
            if pk is None:
                raise NotFound(f"no group {group_id!r}", code="group_not_found")
            # Delivered at commit to every worker, which patches its overlay at once.
            await conn.execute(sql.NOTIFY_MEMBERS, f"{pk}:{count}")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise Unavailable(
            f"the database did not answer: {exc}", code="database_unavailable"
        ) from exc
    return web.Response(
        body=orjson.dumps({"group_id": group_id, "member_count": count}),
        content_type=JSON,
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(
        "/admin/api/groups/{group_id}/member-count", set_member_count, name="admin_member_count"
    )
