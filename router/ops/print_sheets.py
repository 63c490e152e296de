"""Codes ready to print (PDF): one entry code's or one store's sheet at once, all stores' sheets
as a background job (router.keeper.print_jobs) downloaded when it is done. Every answer says when
the public base URL is a loopback or private address (phones could not open the codes)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from router.errors import BadInput, HuomaError, NotFound
from router.keeper.print_jobs import base_url_warning
from router.keeper.sheets import Sheet, SheetError, SheetSize, find_font, render_sheets
from router.keys import BRAND, POOL, PRINCIPAL, SETTINGS
from router.ops import trail
from router.ops.handlers import json_body, json_response
from router.store import sql
from router.store.db import Operation

SHEET = Operation("印刷台卡生成", "print sheet")
PRINT_JOB = Operation("全部门店台卡任务", "all stores' print job")
WARNING_HEADER = "X-Huoma-Warning"


def _size(raw: object) -> SheetSize:
    try:
        return SheetSize(str(raw or "a6").lower())
    except ValueError:
        raise BadInput(
            "size 只能是 a6（台卡）或 a5（海报） / size is a6 or a5", code="bad_size"
        ) from None


async def _pdf(request: web.Request, sheet: Sheet, size: SheetSize, name: str) -> web.Response:
    settings = request.config_dict[SETTINGS]
    brand = request.config_dict[BRAND].current()
    try:
        font = find_font(settings.print_font)
    except SheetError as exc:
        raise HuomaError(str(exc), code="no_print_font", status=409) from None
    body = await asyncio.to_thread(render_sheets, brand, [sheet], size, font)
    headers = {
        "Content-Type": "application/pdf",
        "Content-Disposition": f'attachment; filename="{name}-{size.value}.pdf"',
        "Cache-Control": "no-store",
    }
    warning = base_url_warning(settings.base_url)
    if warning:
        headers[WARNING_HEADER] = warning.split(" / ", 1)[1]
    return web.Response(body=body, headers=headers)


async def entry_sheet(request: web.Request) -> web.Response:
    """GET /entries/{code}/sheet.pdf?size=a6|a5"""
    code = request.match_info["code"]
    size = _size(request.query.get("size"))
    row = await request.config_dict[POOL].fetchrow(sql.SHEET_ENTRY, code)
    if row is None:
        raise NotFound(f"no entry code {code!r}", code="entry_not_found")
    base = request.config_dict[SETTINGS].base_url
    sheet = Sheet(f"{base}/s/{code}", code, row["store_name"] or "", row["label"])
    return await _pdf(request, sheet, size, f"huoma-entry-{code}")


async def store_sheet(request: web.Request) -> web.Response:
    """GET /stores/{store_id}/sheet.pdf?size=a6|a5: the store's pinned entry code."""
    store_id = request.match_info["store_id"]
    size = _size(request.query.get("size"))
    row = await request.config_dict[POOL].fetchrow(sql.SHEET_STORE, store_id)
    if row is None:
        raise NotFound(f"no store {store_id!r}", code="store_not_found")
    if row["code"] is None:
        raise NotFound(
            f"门店 {store_id} 还没有门店入口码：先创建一个（kind=store），或生成全部门店台卡 / "
            f"store {store_id} has no store entry code yet: create one (kind store), or run the "
            "all-stores print job, which makes them",
            code="no_store_entry",
        )
    base = request.config_dict[SETTINGS].base_url
    sheet = Sheet(f"{base}/s/{row['code']}", row["code"], row["store_name"])
    return await _pdf(request, sheet, size, f"huoma-store-{row['code']}")


def _job_json(row: Any, warning: str) -> dict[str, Any]:
    job = row["id"]
    return {
        "id": job,
        "size": row["size"],
        "status": row["status"],
        "created_at": row["created_at"].isoformat(),
        "started_at": row["started_at"].isoformat() if row["started_at"] else None,
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        "pages": row["pages"],
        "error": row["error"],
        "download": f"/admin/api/print-jobs/{job}/sheets.pdf" if row["status"] == "done" else None,
        "warning": warning or None,
    }


async def create_job(request: web.Request) -> web.Response:
    """POST /print-jobs {"size": "a6"|"a5"}: all active stores' sheets, made in the background."""
    body = await json_body(request)
    size = _size(body.get("size"))
    settings = request.config_dict[SETTINGS]
    actor = request[PRINCIPAL].actor
    async with request.config_dict[POOL].acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.CREATE_PRINT_JOB, size.value, actor)
        await trail.print_job_created(conn, actor, row["id"], size.value)
    return json_response(_job_json(row, base_url_warning(settings.base_url)), status=202)


def _job_id(request: web.Request) -> int:
    raw = request.match_info["job"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"no print job {raw[:20]!r}", code="print_job_not_found")
    return int(raw)


async def get_job(request: web.Request) -> web.Response:
    """GET /print-jobs/{job}"""
    row = await request.config_dict[POOL].fetchrow(sql.GET_PRINT_JOB, _job_id(request))
    if row is None:
        raise NotFound("no such print job", code="print_job_not_found")
    warning = base_url_warning(request.config_dict[SETTINGS].base_url)
    return json_response(_job_json(row, warning))


async def download_job(request: web.Request) -> web.Response:
    """GET /print-jobs/{job}/sheets.pdf: 409 until it is done."""
    job = _job_id(request)
    row = await request.config_dict[POOL].fetchrow(sql.GET_PRINT_JOB_PDF, job)
    if row is None:
        raise NotFound("no such print job", code="print_job_not_found")
    if row["status"] != "done":
        raise HuomaError(
            f"台卡还在生成（{row['status']}） / the sheets are not ready ({row['status']})",
            code="print_job_not_ready",
            status=409,
        )
    return web.Response(
        body=row["pdf"],
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="huoma-stores-{job}.pdf"',
            "Cache-Control": "no-store",
        },
    )
