"""`huoma user add|reset|disable|enable`: ops accounts from the command line (the first admin is
made here), and the demo's own admin account."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys

import asyncpg

from router.errors import HuomaError
from router.ops.accounts import check_name, check_regions, check_role
from router.ops.auth import check_password, hash_password
from router.store import sql

DEMO_ADMIN = "demo-admin"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    u = sub.add_parser(
        "user",
        help="ops accounts: add, reset a password, disable, enable",
        description="Ops accounts sign in on the ops page (/admin). Make the first admin here; "
        "admins then manage accounts on the page. A password is read from standard input with "
        "--password-stdin, else generated and printed once.",
    )
    usub = u.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", choices=("admin", "editor", "viewer"), required=True)
    add.add_argument(
        "--region",
        action="append",
        default=[],
        help="limit the account to this region (a store's region, else its city); repeat for "
        "several; none: every region",
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    reset = usub.add_parser("reset", help="set a new password (ends the account's sessions)")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    disable = usub.add_parser("disable", help="stop an account signing in (ends its sessions)")
    disable.add_argument("username")
    enable = usub.add_parser("enable", help="let a disabled account sign in again")
    enable.add_argument("username")


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password to set, and whether it was generated (then it is printed)."""
    if args.password_stdin:
        return check_password(sys.stdin.readline().rstrip("\r\n")), False
    return secrets.token_urlsafe(15), True


async def run_user(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    username = check_name(args.username)
    action = args.user_command
    if action == "add":
        role = check_role(args.role)
        regions = check_regions(list(args.region))
        password, generated = _password(args)
        hashed = await asyncio.to_thread(hash_password, password)
        if await pool.fetchrow(sql.CREATE_ACCOUNT, username, hashed, role, regions) is None:
            raise HuomaError(f"account {username!r} already exists (use `huoma user reset`)")
        where = ", ".join(regions) if regions else "every region"
        print(f"created {role} {username} ({where})")
    elif action == "reset":
        password, generated = _password(args)
        hashed = await asyncio.to_thread(hash_password, password)
        await _update(pool, username, None, hashed)
        print(f"new password set for {username}; its sessions have ended")
    else:
        generated = False
        password = ""
        await _update(pool, username, action == "disable", None)
        done = "disabled; its sessions have ended" if action == "disable" else "enabled"
        print(f"{username} {done}")
    if generated:
        print(f"password: {password}")
    return 0


async def _update(
    pool: asyncpg.Pool, username: str, disabled: bool | None, hashed: str | None
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.UPDATE_ACCOUNT, username, None, None, disabled, hashed)
        if row is None:
            raise HuomaError(f"no account {username!r}")
        if disabled or hashed is not None:
            await conn.execute(sql.DELETE_ACCOUNT_SESSIONS, row["id"], None)


async def ensure_demo_admin(pool: asyncpg.Pool, password: str) -> bool:
    """The demo's admin account, made once; True when made now."""
    hashed = await asyncio.to_thread(hash_password, password)
    made = await pool.fetchrow(sql.CREATE_ACCOUNT, DEMO_ADMIN, hashed, "admin", [])
    return made is not None
