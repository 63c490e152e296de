"""`huoma user add|reset|disable|enable`, run as a real process against the test database, and the
demo's admin account."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import asyncpg
import pytest

from router.cli.users import DEMO_ADMIN, ensure_demo_admin
from router.settings import Settings

pytestmark = pytest.mark.db

HUOMA = [sys.executable, "-m", "router.cli"]


def run(args: list[str], settings: Settings, stdin: str = "") -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUOMA_")}
    environ["HUOMA_DATABASE_URL"] = str(settings.database_url)
    environ["HUOMA_SECRET"] = settings.secret
    environ["HUOMA_DATA_DIR"] = str(settings.data_dir)
    return subprocess.run(
        [*HUOMA, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


async def _signs_in(client: Any, username: str, password: str) -> int:
    response = await client.post(
        "/admin/api/session", json={"username": username, "password": password}
    )
    await pool_clear_waits(client)
    return int(response.status)


async def pool_clear_waits(client: Any) -> None:
    """Failed sign-ins make the next one wait; these tests fail on purpose, then go on."""
    from router.keys import POOL

    await client.app[POOL].execute("DELETE FROM signin_failures")


async def test_the_first_admin_is_made_on_the_command_line_and_signs_in(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    out = run(["user", "add", "boss", "--role", "admin"], settings)
    assert out.returncode == 0, out.stderr
    assert "created admin boss (every region)" in out.stdout
    password = out.stdout.split("password: ")[1].strip()
    client = await make_client(admin_tokens=())
    assert await _signs_in(client, "boss", password) == 200
    # The same name twice is refused; a bad name or role never reaches the database.
    assert run(["user", "add", "boss", "--role", "admin"], settings).returncode == 2
    assert run(["user", "add", "bad name", "--role", "admin"], settings).returncode == 2
    assert run(["user", "add", "x", "--role", "owner"], settings).returncode == 2
    regional = run(
        ["user", "add", "sh", "--role", "editor", "--region", "上海", "--password-stdin"],
        settings,
        stdin="a long enough password\n",
    )
    assert regional.returncode == 0 and "password:" not in regional.stdout
    row = await pool.fetchrow("SELECT role, regions FROM accounts WHERE username = 'sh'")
    assert (row["role"], row["regions"]) == ("editor", ["上海"])


async def test_reset_and_disable_end_sessions_and_enable_lets_the_account_back_in(
    pool: asyncpg.Pool, settings: Settings, make_client: Any
) -> None:
    made = run(
        ["user", "add", "ed", "--role", "editor", "--password-stdin"],
        settings,
        stdin="first password\n",
    )
    assert made.returncode == 0, made.stderr
    client = await make_client()
    assert await _signs_in(client, "ed", "first password") == 200
    reset = run(["user", "reset", "ed", "--password-stdin"], settings, stdin="second password\n")
    assert reset.returncode == 0, reset.stderr
    assert (await client.get("/admin/api/session")).status == 401  # its session ended
    assert await _signs_in(client, "ed", "first password") == 401
    assert await _signs_in(client, "ed", "second password") == 200
    assert run(["user", "disable", "ed"], settings).returncode == 0
    assert (await client.get("/admin/api/session")).status == 401
    assert await _signs_in(client, "ed", "second password") == 401
    assert run(["user", "enable", "ed"], settings).returncode == 0
    assert await _signs_in(client, "ed", "second password") == 200
    missing = run(["user", "disable", "nobody"], settings)
    assert missing.returncode == 2 and "no account 'nobody'" in missing.stderr
    short = run(["user", "reset", "ed", "--password-stdin"], settings, stdin="short\n")
    assert short.returncode == 2


async def test_the_demo_makes_its_admin_once(pool: asyncpg.Pool, make_client: Any) -> None:
    assert await ensure_demo_admin(pool, "demo password 123") is True
    assert await ensure_demo_admin(pool, "another password") is False
    client = await make_client()
    assert await _signs_in(client, DEMO_ADMIN, "demo password 123") == 200


def test_help_documents_the_user_command() -> None:
    out = subprocess.run([*HUOMA, "user", "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0
    for action in ("add", "reset", "disable", "enable"):
        assert action in out.stdout
