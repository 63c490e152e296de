"""All stores' print sheets at once, in the background: an ops request records a job
(`print_jobs`); one worker claims it (`FOR UPDATE SKIP LOCKED`), gives every active store without
a pinned entry code one, and renders the sheets in a separate process, so no serving worker's
event loop or request waits on reportlab; the PDF is stored with the job and downloaded when done.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import multiprocessing
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web

from router.brand import Brand
from router.keeper.sheets import Sheet, SheetError, SheetSize, find_font, render_sheets
from router.keys import BRAND, POOL, SETTINGS
from router.runtime.loops import running
from router.settings import Settings
from router.store import sql
from router.store.db import DB_ERRORS

log = logging.getLogger(__name__)

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud or typed from paper
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def base_url_warning(base_url: str) -> str:
    """A warning when printed codes would open a loopback or private address (phones cannot
    reach it); "" when the base URL is public."""
    host = urlsplit(base_url).hostname or ""
    private = host in ("localhost", "") or host.endswith((".local", ".localhost", ".internal"))
    try:
        ip = ipaddress.ip_address(host)
        private = ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified
    except ValueError:
        pass
    if not private:
        return ""
    return (
        f"公开地址 {base_url} 是本机或内网地址，顾客手机扫码打不开；"
        "请先设置 HUOMA_PUBLIC_BASE_URL / "
        f"the public base URL {base_url} is a loopback or private address: customers' phones "
        "cannot open these codes; set HUOMA_PUBLIC_BASE_URL first"
    )


async def store_sheets(conn: asyncpg.Connection, settings: Settings) -> list[Sheet]:
    """Every active store's sheet, giving a pinned entry code to each store without one."""
    rows = await conn.fetch(sql.SHEET_STORES, settings.print_max_stores)
    missing = [r["store_id"] for r in rows if r["code"] is None]
    if missing:
        await conn.execute(sql.CREATE_STORE_ENTRIES, [new_code() for _ in missing], missing)
        rows = await conn.fetch(sql.SHEET_STORES, settings.print_max_stores)
    base = settings.base_url
    return [Sheet(f"{base}/s/{r['code']}", r["code"], r["store_name"]) for r in rows if r["code"]]


def _render(brand: Brand, sheets: list[Sheet], size: SheetSize, font: str) -> bytes:
    return render_sheets(brand, sheets, size, font, title=f"{brand.name} {size.value.upper()}")


async def run_one(
    pool: asyncpg.Pool, settings: Settings, brand: Brand, executor: ProcessPoolExecutor
) -> int | None:
    """Claim and make one job; its id, or None when there was none to claim."""
    row = await pool.fetchrow(sql.CLAIM_PRINT_JOB, settings.print_job_timeout_s)
    if row is None:
        return None
    job, size = int(row["id"]), SheetSize(row["size"])
    try:
        font = find_font(settings.print_font)
        async with pool.acquire() as conn, conn.transaction():
            sheets = await store_sheets(conn, settings)
        loop = asyncio.get_running_loop()
        pdf = await asyncio.wait_for(
            loop.run_in_executor(executor, _render, brand, sheets, size, font),
            settings.print_job_timeout_s,
        )
    except (SheetError, TimeoutError, OSError, ValueError) as exc:
        log.warning("print job %d failed: %s", job, exc)
        await pool.execute(sql.FAIL_PRINT_JOB, job, str(exc)[:500] or type(exc).__name__)
        return job
    await pool.execute(sql.FINISH_PRINT_JOB, job, len(sheets), pdf)
    log.info("print job %d: %d sheets, %d bytes", job, len(sheets), len(pdf))
    return job


async def job_loop(app: web.Application, executor: ProcessPoolExecutor) -> None:
    settings = app[SETTINGS]
    while True:
        try:
            while await run_one(app[POOL], settings, app[BRAND].current(), executor):
                pass
        except DB_ERRORS as exc:
            log.warning("print jobs: database unavailable (%s)", exc)
        await asyncio.sleep(settings.print_poll_s)


async def print_jobs(app: web.Application) -> AsyncIterator[None]:
    """The worker's print job loop, its rendering process started only when a job comes."""
    # spawn: a fresh interpreter, not a fork of a process holding an event loop and sockets.
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        async with running(lambda: job_loop(app, executor), "print-jobs"):
            yield
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
