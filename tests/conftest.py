"""Shared fixtures: a real PostgreSQL per test session, settings built in code, row factories."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import settings as hypothesis_settings

from router.ops.uploads import Table, import_table
from router.scan.qr import qr_signature
from router.settings import Settings
from router.store.db import EmbeddedPostgres, create_pool, migrate
from router.web.app import create_app

# Property tests explore new inputs on every local run; CI (CI=true) runs a fixed, derandomized set,
# so a landing never hinges on the luck of a draw. What a local run finds becomes a named test.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

TEST_SECRET = "test-secret-0123456789abcdef"
ADMIN_TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """HUOMA_TEST_DATABASE_URL when set, else an embedded server in a temporary directory."""
    url = os.environ.get("HUOMA_TEST_DATABASE_URL")
    if url:
        yield url
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    embedded.start()
    try:
        yield embedded.admin_url()
    finally:
        embedded.stop()


def _with_database(url: str, name: str) -> str:
    """The same server URL, pointing at another database (keeps ?host=... for sockets)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database for this session, migrated; dropped at the end."""
    # Safe identifier: letters, digits and underscores we generate ourselves.
    name = f"huoma_test_{secrets.token_hex(6)}"

    async def create() -> None:
        conn = await asyncpg.connect(pg_admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        conn = await asyncpg.connect(_with_database(pg_admin_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(pg_admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        yield _with_database(pg_admin_url, name)
    finally:
        asyncio.run(drop())


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path,
        secret=TEST_SECRET,
        admin_tokens=(ADMIN_TOKEN,),
        access_log=False,
        public_base_url="http://huoma.test",
        db_pool_min=0,
        db_pool_max=4,
        # Tests send many scans from one address and visitor; the limits have their own tests.
        rate_route_per_ip=0,
        rate_route_per_visitor=0,
        rate_picker_per_ip=0,
        rate_picks_per_visitor=0,
        rate_picks_per_ip=0,
        # A scan waits at most this long for a lease (50 ms by default): several test runs share
        # this machine's cores, so a database round trip can take longer here. A bound, not a
        # timing: a scan that gets its lease sooner goes on at once.
        lease_wait_s=1.0,
    )


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session database, emptied before each test."""
    p = await create_pool(settings)
    async with p.acquire() as conn:
        await conn.execute(
            "TRUNCATE stores, groups, entries, scan_events, alerts, funnel_daily, funnel_days, "
            "qr_images, wecom_stores, wecom_chats, wecom_callbacks, group_joins, "
            "audit_log, ops_settings, wechat_tickets, geocode_cache "
            "RESTART IDENTITY CASCADE"
        )
        await conn.execute("UPDATE funnel_state SET last_seq = 0")
        await conn.execute(
            "TRUNCATE accounts, sessions, api_tokens, signin_failures RESTART IDENTITY CASCADE"
        )
        await conn.execute("TRUNCATE brand_logos")
    try:
        yield p
    finally:
        try:
            await asyncio.wait_for(p.close(), 10)
        except TimeoutError:
            # A test that kept a connection must not hang the suite; it fails on its own.
            p.terminate()


# ---- row factories: every column filled with a sensible default --------------------------


def store_row(store_id: str = "S1", **overrides: Any) -> dict[str, str]:
    row = {
        "store_id": store_id,
        "name": f"Store {store_id}",
        "city": "上海",
        "address": "人民路 1 号",
        "lat": "31.2304",
        "lng": "121.4737",
        "coord": "gcj02",
    }
    row.update({k: str(v) for k, v in overrides.items()})
    return row


def group_row(group_id: str = "G1", store_id: str = "S1", **overrides: Any) -> dict[str, str]:
    row = {
        "group_id": group_id,
        "store_id": store_id,
        "name": f"Group {group_id}",
        "qr_payload": f"https://weixin.qq.com/g/TEST{group_id}",
    }
    row.update({k: str(v) for k, v in overrides.items()})
    return row


def table(rows: list[dict[str, str]]) -> Table:
    columns: dict[str, None] = {}
    for r in rows:
        for c in r:
            columns.setdefault(c, None)
    return Table(tuple(columns), [(i + 2, r) for i, r in enumerate(rows)])


async def seed(
    pool: asyncpg.Pool,
    stores: list[dict[str, str]],
    groups: list[dict[str, str]] | None = None,
) -> None:
    await import_table(pool, "stores", table(stores), timezone="Asia/Shanghai")
    if groups:
        await import_table(pool, "groups", table(groups), timezone="Asia/Shanghai")


@pytest.fixture
def make_client(aiohttp_client: Any, settings: Settings) -> Any:
    """Start the real app (real database, real HTTP) once the test has seeded its data."""

    async def start(**changes: Any) -> TestClient[web.Request, web.Application]:
        client: TestClient[web.Request, web.Application] = await aiohttp_client(
            create_app(settings.with_(**changes))
        )
        return client

    return start


# ---- the admin API's door ------------------------------------------------------------------------

WRONG_TOKEN = {"Authorization": "Bearer wrong-token-0123456789"}


async def assert_needs_a_valid_token(client: Any, method: str, path: str) -> None:
    """Without a token, and with a wrong one, the endpoint answers 401 unauthorized."""
    for headers in ({}, WRONG_TOKEN):
        response = await client.request(method, path, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"


# ---- helpers for tests that scan --------------------------------------------------------------


def qr_path(qr_url: str) -> str:
    """The path and query of an absolute QR image URL, for the test client."""
    parts = urlsplit(qr_url)
    return f"{parts.path}?{parts.query}"


def expired_qr_path(qr_url: str) -> str:
    """The same image link as the test deployment signs it, but for a moment already past."""
    parts = urlsplit(qr_url)
    pk = int(parts.path.removeprefix("/qr/").removesuffix(".png"))
    version = int(dict(p.split("=", 1) for p in parts.query.split("&"))["v"])
    past = int(time.time()) - 5
    sig = qr_signature(TEST_SECRET.encode(), pk, version, past)
    return f"{parts.path}?v={version}&e={past}&s={sig}"


HERE = "/api/v1/route?store=S1"


async def scan(client: Any, url: str = HERE, visitor: str | None = None) -> dict[str, Any]:
    """One scan by a fresh visitor (no cookies), or by `visitor` when given."""
    client.session.cookie_jar.clear()
    full = url + (f"&vid={visitor}" if visitor else "")
    response = await client.get(full)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def eventually(check: Any, within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


# ---- a real headless Chromium (Debian's) for the page tests --------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_PRESENT = Path(CHROMIUM).exists()
ARTIFACTS_ROOT = Path(__file__).resolve().parent.parent / "test-artifacts"
# As root in a container, with a closed network: no sandbox, no background traffic to Google.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    if not CHROMIUM_PRESENT:
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run bash tests/run (it installs it)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def servers() -> Iterator[list[Any]]:
    """`tests.serving.Server`s a test started; each is stopped (SIGTERM) at the end."""
    started: list[Any] = []
    yield started
    for s in started:
        s.stop()
