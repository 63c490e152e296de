"""Advisory locks have a key each (an upload never waits behind a funnel rollup), and a database
timeout says what timed out, to the client and in the log."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import router
from router.settings import Settings
from router.store import sql
from tests.conftest import AUTH, seed, store_row

STORES_CSV = "store_id,name,city,address,lat,lng,coord\nS9,新店,上海,人民路 9 号,31.2,121.4,gcj02\n"


def test_every_advisory_lock_has_a_key_of_its_own_from_one_enum() -> None:
    keys = [int(k) for k in sql.AdvisoryLock]
    assert len(set(keys)) == len(keys)
    # Every statement taking an advisory lock, anywhere in the code or the migrations, takes one
    # of the enum's keys, and no two statements share one.
    statements = {
        name: value
        for name, value in vars(sql).items()
        if isinstance(value, str) and "advisory" in value
    }
    assert set(statements) == {
        "LOCK_MIGRATIONS",
        "TRY_KEEPER_LOCK",
        "LOCK_IMPORTS",
        "LOCK_FUNNEL",
        "CLAIM_WECHAT_REFRESH",
    }
    used = [int(re.findall(r"advisory\w*\((\d+)\)", s)[0]) for s in statements.values()]
    assert sorted(used) == sorted(keys)
    assert sql.LOCK_IMPORTS != sql.LOCK_FUNNEL
    root = Path(inspect.getfile(router)).parent
    for path in [*root.rglob("*.py"), *root.rglob("*.sql")]:
        if path.is_relative_to(root / "store" / "sql"):  # the statements themselves
            continue
        assert "advisory" not in path.read_text(encoding="utf-8").lower(), path


@contextlib.asynccontextmanager
async def holding(db_url: str, *statements: str) -> AsyncIterator[None]:
    """Another session running `statements` in a transaction it keeps open (a rollup's lock, a
    migration's table lock) until the block ends."""
    conn = await asyncpg.connect(db_url)
    tx = conn.transaction()
    await tx.start()
    try:
        for statement in statements:
            await conn.execute(statement)
        yield
    finally:
        await tx.rollback()
        await conn.close()


async def upload_stores(client: Any) -> Any:
    return await client.post(
        "/admin/api/uploads/stores",
        data=STORES_CSV.encode(),
        params={"filename": "stores.csv"},
        headers=AUTH,
    )


@pytest.mark.db
async def test_an_upload_goes_through_while_a_funnel_rollup_holds_its_lock(
    pool: asyncpg.Pool, make_client: Any, db_url: str
) -> None:
    # A second is far less than a rollup may take: an upload waiting for it would time out.
    client = await make_client(db_timeout_s=1.0)
    async with holding(db_url, sql.LOCK_FUNNEL):
        response = await upload_stores(client)
        assert response.status == 200, await response.text()
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = 'S9'") == "新店"


@pytest.mark.db
async def test_an_upload_that_times_out_says_so_and_is_logged_as_a_failed_upload(
    pool: asyncpg.Pool, make_client: Any, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(db_timeout_s=0.5)
    # Another upload holds the imports lock for longer than this one may wait.
    async with holding(db_url, sql.LOCK_IMPORTS):
        response = await upload_stores(client)
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "database_unavailable"
    assert error["message"].startswith("门店上传超时")
    assert "The upload of stores timed out" in error["message"]
    assert "HUOMA_DB_TIMEOUT_S" in error["message"]
    assert (
        "upload of stores timed out (by token#1, file 'stores.csv'): the database did not "
        "finish it within HUOMA_DB_TIMEOUT_S" in caplog.text
    )
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


@pytest.mark.db
@pytest.mark.parametrize(
    ("path", "locked", "changes", "zh", "en", "limit"),
    [
        (
            "/admin/api/funnel",
            "scan_events",
            {"funnel_timeout_s": 0.5},
            "漏斗查询超时",
            "The funnel query timed out",
            "HUOMA_FUNNEL_TIMEOUT_S",
        ),
        (
            "/admin/api/health",
            "stores",
            {"db_timeout_s": 0.5},
            "群健康查询超时",
            "The group health query timed out",
            "HUOMA_DB_TIMEOUT_S",
        ),
        (
            "/admin/api/alerts",
            "alerts",
            {"db_timeout_s": 0.5},
            "告警列表查询超时",
            "The alert list timed out",
            "HUOMA_DB_TIMEOUT_S",
        ),
    ],
)
async def test_every_admin_timeout_names_its_operation(
    pool: asyncpg.Pool,
    make_client: Any,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
    path: str,
    locked: str,
    changes: dict[str, float],
    zh: str,
    en: str,
    limit: str,
) -> None:
    await seed(pool, [store_row("S1")])
    client = await make_client(**changes)
    # (Table names are the test's own constants.)
    async with holding(db_url, f"LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE"):
        response = await client.get(path, headers=AUTH)
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "database_unavailable"
    assert error["message"].startswith(zh) and en in error["message"] and limit in error["message"]
    assert f"{en[4:]}: the database did not finish it within {limit}" in caplog.text


@pytest.mark.db
async def test_the_cli_import_says_what_timed_out(
    pool: asyncpg.Pool, settings: Settings, db_url: str, tmp_path: Path
) -> None:
    csv = tmp_path / "stores.csv"
    csv.write_text(STORES_CSV, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUOMA_")}
    environ.update(
        HUOMA_DATABASE_URL=db_url,
        HUOMA_SECRET=str(settings.secret),
        HUOMA_DATA_DIR=str(tmp_path),
        HUOMA_DB_TIMEOUT_S="0.5",
    )
    async with holding(db_url, sql.LOCK_IMPORTS):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "router.cli.main",
            "import",
            "stores",
            str(csv),
            env=environ,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
    stderr = err.decode()
    assert process.returncode == 2, stderr
    assert "huoma: 门店上传超时" in stderr and "The upload of stores timed out" in stderr
    assert "Traceback" not in stderr
