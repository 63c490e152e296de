"""The ops API of group codes from pictures: thin handlers over `router.ops.pictures` (one
picture) and `router.ops.picture_zip` (a ZIP of them). Each reads the form, calls one action and
answers its result; the rules live in those modules."""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from router.errors import BadInput, TooLarge
from router.keys import DB_CONTEXT, POOL, PRINCIPAL, SETTINGS
from router.ops import trail
from router.ops.handlers import json_response
from router.ops.ocr import OcrService
from router.ops.picture_zip import ZIP_OPERATION, import_picture_zip
from router.ops.pictures import Typed, add_group_from_picture, replace_group_code, typed_from_text
from router.ops.uploads import ImportRejected
from router.ops.uploads.model import RowError
from router.params import flag_param
from router.settings import Settings
from router.store import sql
from router.store.db import Operation

log = logging.getLogger("huoma.admin")

OCR = web.AppKey("ocr", OcrService)
SETTINGS_KEY = web.AppKey("picture_settings", Settings)

ADD = Operation("从图片添加群", "group from a picture")
REPLACE = Operation("从图片换码", "group code from a picture")
ZIP = ZIP_OPERATION

FIELDS = ("group_id", "name", "member_count", "expires_at", "qr_created_at")
FIELD_MAX_BYTES = 1_000


async def ocr_context(app: web.Application) -> AsyncIterator[None]:
    """The ops app's OCR service: its process starts on the first picture, stops with the app."""
    settings = app[SETTINGS_KEY]
    service = OcrService(timeout_s=settings.ocr_timeout_s, queue=settings.ocr_queue)
    app[OCR] = service
    yield
    service.close()


def _ocr(request: web.Request) -> OcrService | None:
    return request.app.get(OCR)


async def _form(
    request: web.Request, max_bytes: int, setting: str = "HUOMA_PICTURE_MAX_BYTES"
) -> tuple[str | None, bytes, dict[str, str]]:
    """The picture (the first file part, or the raw body) and the typed fields (form fields, or
    the query string for a raw body)."""
    fields: dict[str, str] = {k: request.query[k] for k in FIELDS if k in request.query}
    if not request.content_type.startswith("multipart/"):
        data = await request.read()
        if len(data) > max_bytes:
            raise TooLarge(max_bytes, setting)
        return request.query.get("filename"), data, fields
    filename: str | None = None
    data_out: bytes | None = None
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.filename and data_out is None:
                buf = bytearray()
                while chunk := await part.read_chunk():
                    buf.extend(chunk)
                    if len(buf) > max_bytes:
                        raise TooLarge(max_bytes, setting)
                filename, data_out = part.filename, bytes(buf)
            elif part.name in FIELDS:
                value = bytearray()
                while chunk := await part.read_chunk():  # bounded: a field is a short text
                    value.extend(chunk)
                    if len(value) > FIELD_MAX_BYTES:
                        raise BadInput(
                            f"字段 {part.name} 太长 / field {part.name} is too long",
                            code="bad_form",
                        )
                fields[part.name] = value.decode("utf-8", "replace")
            else:
                await part.release()  # a part nobody asked for: skipped, not kept
    except (ValueError, HttpProcessingError) as exc:
        raise BadInput(
            f"表单无法读取 / the multipart form could not be read ({type(exc).__name__})",
            code="bad_form",
        ) from exc
    if data_out is None:
        raise BadInput("表单里没有文件 / the form has no file", code="no_file")
    return filename, data_out, fields


def _typed(fields: dict[str, str], settings: Settings) -> Typed:
    now = datetime.now(UTC)
    typed, problems = typed_from_text(fields, zoneinfo.ZoneInfo(settings.timezone), now)
    if problems:
        raise ImportRejected([RowError(0, c, v, m) for c, v, m in problems])
    return typed


async def add_from_picture(request: web.Request) -> web.Response:
    """POST /admin/api/stores/{store_id}/groups/from-picture[?dry_run=1]: a new group of the
    store from the picture of its code; a dry run writes nothing and shows what was read."""
    principal = request[PRINCIPAL]
    actor = principal.actor
    store_id = request.match_info["store_id"]
    dry_run = flag_param(request.query, "dry_run")
    settings = request.config_dict[SETTINGS]
    filename, data, fields = await _form(request, settings.picture_max_bytes)
    request[DB_CONTEXT] = f"by {actor}, store {store_id!r}, picture {filename!r}"
    result = await add_group_from_picture(
        request.config_dict[POOL],
        settings,
        _ocr(request),
        store_id=store_id,
        picture=data,
        typed=_typed(fields, settings),
        regions=principal.region_list(),
        dry_run=dry_run,
        audit=trail.picture_audit(actor, "add", filename),
    )
    if not dry_run:
        log.info(
            "admin: %s added group %s to store %s from a picture", actor, result.group_id, store_id
        )
    return json_response(result.as_dict())


async def replace_from_picture(request: web.Request) -> web.Response:
    """POST /admin/api/groups/{group_id}/code-from-picture[?dry_run=1]: the group's new code from
    a picture; its id, position and history stay."""
    principal = request[PRINCIPAL]
    actor = principal.actor
    group_id = request.match_info["group_id"]
    dry_run = flag_param(request.query, "dry_run")
    settings = request.config_dict[SETTINGS]
    filename, data, fields = await _form(request, settings.picture_max_bytes)
    request[DB_CONTEXT] = f"by {actor}, group {group_id!r}, picture {filename!r}"
    pool = request.config_dict[POOL]
    before = await pool.fetchrow(sql.GROUP_BEFORE_PICTURE, group_id)
    result = await replace_group_code(
        pool,
        settings,
        _ocr(request),
        group_id=group_id,
        picture=data,
        typed=_typed(fields, settings),
        regions=principal.region_list(),
        dry_run=dry_run,
        audit=trail.picture_audit(actor, "replace", filename, before),
    )
    if not dry_run:
        log.info("admin: %s replaced the code of group %s from a picture", actor, group_id)
    return json_response(result.as_dict())


async def upload_picture_zip(request: web.Request) -> web.Response:
    """POST /admin/api/group-pictures[?dry_run=1]: a ZIP of pictures named by group or store id,
    or with a sheet mapping them; all or nothing, like every upload."""
    principal = request[PRINCIPAL]
    actor = principal.actor
    dry_run = flag_param(request.query, "dry_run")
    use_ocr = flag_param(request.query, "ocr", default=True)
    settings = request.config_dict[SETTINGS]
    filename, data, _ = await _form(
        request, settings.picture_zip_max_bytes, "HUOMA_PICTURE_ZIP_MAX_BYTES"
    )
    request[DB_CONTEXT] = f"by {actor}, file {filename!r}" + (", dry run" if dry_run else "")
    result = await import_picture_zip(
        request.config_dict[POOL],
        settings,
        _ocr(request),
        data,
        dry_run=dry_run,
        use_ocr=use_ocr,
        regions=principal.region_list(),
        audit=trail.picture_zip_audit(actor, filename),
    )
    log.info("admin: %s uploaded group pictures (%s): %s", actor, filename, result.counts())
    return json_response(result.as_dict())
