"""Ops accounts and API tokens for tests: made straight in the database, signed in over HTTP."""

from __future__ import annotations

from typing import Any

import asyncpg

from router.ops.auth import digest, hash_password
from router.store import sql

PASSWORD = "correct horse battery"


async def make_account(
    pool: asyncpg.Pool,
    username: str,
    role: str,
    regions: tuple[str, ...] = (),
    password: str = PASSWORD,
) -> None:
    row = await pool.fetchrow(
        sql.CREATE_ACCOUNT, username, hash_password(password), role, list(regions)
    )
    assert row is not None, username


async def make_token(
    pool: asyncpg.Pool, name: str, role: str, regions: tuple[str, ...] = ()
) -> dict[str, str]:
    """A named API token; the Authorization header that sends it."""
    token = f"hm_test_{name}_0123456789abcdef"
    await pool.execute(sql.CREATE_API_KEY, name, digest(token), role, list(regions), "tests")
    return {"Authorization": f"Bearer {token}"}


async def sign_in(client: Any, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign the client's cookie jar in; the header every change must then carry."""
    response = await client.post(
        "/admin/api/session", json={"username": username, "password": password}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    return {"X-CSRF-Token": body["csrf_token"]}
