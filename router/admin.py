"""The admin API (bearer token): for now, reporting a group's member count."""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta

import asyncpg
import orjson
from aiohttp import BodyPartReader, web

from router import sql
from router.errors import BadInput, HuomaError, NotFound, Unauthorized, Unavailable
from router.handlers import JSON
from router.importer import KINDS, import_file
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


_TRUE = ("1", "true", "yes")


async def _upload_body(request: web.Request, max_bytes: int) -> tuple[str | None, bytes]:
    """The uploaded file: the first file part of a multipart form, or the raw body (its name
    from ?filename=)."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.filename:
                data = bytearray()
                while chunk := await part.read_chunk():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise HuomaError(
                            f"the file is larger than {max_bytes} bytes",
                            code="payload_too_large",
                            status=413,
                        )
                return part.filename, bytes(data)
        raise BadInput("the form has no file", code="no_file")
    return request.query.get("filename"), await request.read()


async def upload(request: web.Request) -> web.Response:
    """POST /admin/api/uploads/{kind}[?dry_run=1]: validate every row, then write all or nothing."""
    actor = authorize(request)
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise NotFound(f"no upload kind {kind!r}; use {', '.join(KINDS)}", code="unknown_kind")
    settings = request.app[SETTINGS]
    filename, data = await _upload_body(request, settings.import_max_bytes)
    dry_run = request.query.get("dry_run", "").lower() in _TRUE
    try:
        summary = await import_file(
            request.app[POOL],
            kind,
            data,
            filename,
            timezone=settings.timezone,
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            dry_run=dry_run,
            wechat_lifetime=timedelta(hours=settings.wechat_qr_lifetime_h),
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise Unavailable(
            f"the database did not answer: {exc}", code="database_unavailable"
        ) from exc
    log.info("admin: %s uploaded %s (%s): %s", actor, kind, filename, summary.as_dict())
    return web.Response(
        body=orjson.dumps(summary.as_dict()),
        content_type=JSON,
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/api/uploads/{kind}", upload, name="admin_upload")
    app.router.add_post(
        "/admin/api/groups/{group_id}/member-count", set_member_count, name="admin_member_count"
    )
