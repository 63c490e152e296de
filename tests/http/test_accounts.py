"""Ops accounts: password hashing, sessions (cookie, CSRF, idle and absolute expiry), the growing
sign-in waits, admins managing accounts and named tokens, regional lists and uploads."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from router.ops.auth import hash_password, needs_rehash, verify_password
from tests.accounts import PASSWORD, make_account, make_token, sign_in
from tests.conftest import AUTH, group_row, seed, store_row

pytestmark = pytest.mark.db


# ---- hashing ------------------------------------------------------------------------------------


def test_a_password_is_stored_as_an_argon2id_hash_that_only_the_password_verifies() -> None:
    stored = hash_password("s3cret-password")
    assert stored.startswith("$argon2id$")
    assert "s3cret-password" not in stored
    assert verify_password(stored, "s3cret-password")
    assert not verify_password(stored, "s3cret-passworD")
    assert not verify_password(stored, "")
    assert not verify_password("not a hash", "s3cret-password")
    # Salted: the same password hashes differently each time, and both verify.
    again = hash_password("s3cret-password")
    assert again != stored and verify_password(again, "s3cret-password")
    assert not needs_rehash(stored)


# ---- signing in ---------------------------------------------------------------------------------


async def test_sign_in_sets_a_strict_httponly_cookie_and_who_am_i_answers_the_account(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await make_account(pool, "ana", "editor", ("上海",))
    client = await make_client(admin_tokens=())
    response = await client.post(
        "/admin/api/session", json={"username": "ana", "password": PASSWORD}
    )
    assert response.status == 200
    body = await response.json()
    assert body["actor"] == "ana" and body["role"] == "editor" and body["regions"] == ["上海"]
    cookie = response.headers["Set-Cookie"]
    assert "hm_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/admin" in cookie
    # Plain HTTP from the machine itself (the test client): not Secure, or no browser sends it.
    assert "Secure" not in cookie
    me = await client.get("/admin/api/session")
    assert me.status == 200
    assert (await me.json())["csrf_token"] == body["csrf_token"]
    # Only a hash of the cookie is kept.
    token = response.cookies["hm_session"].value
    stored = await pool.fetchval("SELECT token_hash FROM sessions")
    assert token.encode() not in bytes(stored)


async def test_behind_a_proxy_the_session_cookie_is_secure(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await make_account(pool, "ana", "viewer")
    client = await make_client(trusted_proxies=("127.0.0.1/32",))
    response = await client.post(
        "/admin/api/session",
        json={"username": "ana", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert response.status == 200
    assert "Secure" in response.headers["Set-Cookie"]


async def test_a_change_with_a_session_needs_its_csrf_token(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    await make_account(pool, "ed", "editor")
    client = await make_client()
    csrf = await sign_in(client, "ed")
    path = "/admin/api/groups/G1/member-count"
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        refused = await client.post(path, json={"member_count": 3}, headers=headers)
        assert refused.status == 403
        assert (await refused.json())["error"]["code"] == "csrf_refused"
    assert await pool.fetchval("SELECT member_count FROM groups WHERE group_id = 'G1'") is None
    done = await client.post(path, json={"member_count": 3}, headers=csrf)
    assert done.status == 200
    # Reads need no token; a bearer token (no ambient credential) needs none either.
    assert (await client.get("/admin/api/health")).status == 200


async def test_a_session_ends_after_the_idle_timeout_and_after_the_absolute_one(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await make_account(pool, "vi", "viewer")
    client = await make_client(session_idle_s=600, session_max_s=3600)
    await sign_in(client, "vi")
    assert (await client.get("/admin/api/session")).status == 200
    # Idle for longer than the idle timeout: ended.
    await pool.execute("UPDATE sessions SET last_seen_at = now() - interval '601 seconds'")
    ended = await client.get("/admin/api/session")
    assert ended.status == 401 and (await ended.json())["error"]["code"] == "unauthorized"
    # Busy all along, but signed in longer ago than the absolute timeout: ended too.
    await pool.execute("DELETE FROM signin_failures")
    await sign_in(client, "vi")
    await pool.execute("UPDATE sessions SET created_at = now() - interval '3599 seconds'")
    assert (await client.get("/admin/api/session")).status == 200
    await pool.execute("UPDATE sessions SET created_at = now() - interval '3601 seconds'")
    assert (await client.get("/admin/api/session")).status == 401


async def test_signing_out_ends_the_session(pool: asyncpg.Pool, make_client: Any) -> None:
    await make_account(pool, "vi", "viewer")
    client = await make_client()
    csrf = await sign_in(client, "vi")
    out = await client.delete("/admin/api/session", headers=csrf)
    assert out.status == 200 and (await out.json())["signed_out"] is True
    assert await pool.fetchval("SELECT count(*) FROM sessions") == 0


async def _fail(client: Any, username: str, **kw: Any) -> Any:
    return await client.post(
        "/admin/api/session", json={"username": username, "password": "wrong password"}, **kw
    )


async def test_failed_sign_ins_wait_longer_each_time_per_address_and_per_account(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await make_account(pool, "ana", "admin")
    client = await make_client(
        signin_delay_s=2.0, signin_delay_max_s=16.0, trusted_proxies=("127.0.0.1/32",)
    )
    waits = []
    for _ in range(5):
        failed = await _fail(client, "ana", headers={"X-Forwarded-For": "198.51.100.1"})
        assert failed.status == 401
        assert (await failed.json())["error"]["code"] == "signin_failed"
        waits.append((await failed.json())["error"]["retry_after_s"])
        # Within the wait, even the right password is not tried: 429 with Retry-After.
        early = await client.post(
            "/admin/api/session",
            json={"username": "ana", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.1"},
        )
        assert early.status == 429 and int(early.headers["Retry-After"]) >= 1
        await pool.execute("UPDATE signin_failures SET wait_until = now()")  # the wait passes
    # Doubling from HUOMA_SIGNIN_DELAY_S, capped at HUOMA_SIGNIN_DELAY_MAX_S.
    assert [round(w) for w in waits] == [2, 4, 8, 16, 16]
    # Per account: another address trying the same account waits too...
    await _fail(client, "ana", headers={"X-Forwarded-For": "198.51.100.2"})
    other = await _fail(client, "ana", headers={"X-Forwarded-For": "198.51.100.3"})
    assert other.status == 429
    # ...and per address: the same address trying another (unknown) name waits too.
    await pool.execute("UPDATE signin_failures SET wait_until = now()")
    await _fail(client, "nobody", headers={"X-Forwarded-For": "198.51.100.4"})
    again = await _fail(client, "somebody", headers={"X-Forwarded-For": "198.51.100.4"})
    assert again.status == 429
    # Never a lockout: once the wait has passed, the right password signs in and clears the
    # account's count.
    await pool.execute("UPDATE signin_failures SET wait_until = now()")
    ok = await client.post(
        "/admin/api/session",
        json={"username": "ana", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.5"},
    )
    assert ok.status == 200
    assert await pool.fetchval("SELECT count(*) FROM signin_failures WHERE key = 'user:ana'") == 0


async def test_a_disabled_account_cannot_sign_in_and_loses_its_sessions(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await make_account(pool, "boss", "admin")
    await make_account(pool, "ed", "editor")
    admin, editor = await make_client(), await make_client()
    csrf = await sign_in(admin, "boss")
    await sign_in(editor, "ed")
    off = await admin.patch("/admin/api/accounts/ed", json={"disabled": True}, headers=csrf)
    assert off.status == 200 and (await off.json())["disabled"] is True
    assert (await editor.get("/admin/api/session")).status == 401
    again = await editor.post("/admin/api/session", json={"username": "ed", "password": PASSWORD})
    assert again.status == 401
    # An admin cannot lock themselves out.
    self_off = await admin.patch("/admin/api/accounts/boss", json={"disabled": True}, headers=csrf)
    assert self_off.status == 400


async def test_an_admin_creates_and_resets_accounts_and_makes_named_tokens(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await make_account(pool, "boss", "admin")
    client = await make_client()
    csrf = await sign_in(client, "boss")
    made = await client.post(
        "/admin/api/accounts",
        json={
            "username": "sh-ed",
            "password": "first-password",
            "role": "editor",
            "regions": ["上海"],
        },
        headers=csrf,
    )
    assert made.status == 201
    assert (await made.json())["regions"] == ["上海"]
    twice = await client.post(
        "/admin/api/accounts",
        json={"username": "sh-ed", "password": "first-password", "role": "editor"},
        headers=csrf,
    )
    assert twice.status == 409
    short = await client.post(
        "/admin/api/accounts",
        json={"username": "x", "password": "short", "role": "editor"},
        headers=csrf,
    )
    assert short.status == 400 and (await short.json())["error"]["code"] == "bad_password"
    reset = await client.patch(
        "/admin/api/accounts/sh-ed", json={"password": "second-password"}, headers=csrf
    )
    assert reset.status == 200
    other = await make_client()
    await sign_in(other, "sh-ed", "second-password")
    listed = await (await client.get("/admin/api/accounts")).json()
    assert [a["username"] for a in listed["accounts"]] == ["boss", "sh-ed"]
    assert "password" not in str(listed)
    token = await client.post(
        "/admin/api/tokens", json={"name": "erp", "role": "viewer"}, headers=csrf
    )
    assert token.status == 201
    secret = (await token.json())["token"]
    bearer = {"Authorization": f"Bearer {secret}"}
    whoami = await (await other.get("/admin/api/session", headers=bearer)).json()
    assert whoami == {
        "actor": "token:erp",
        "kind": "token",
        "role": "viewer",
        "regions": [],
        "timezone": "Asia/Shanghai",  # the brand's, for the page's times
    }
    # A viewer token reads, never changes.
    assert (await other.get("/admin/api/health", headers=bearer)).status == 200
    refused = await other.post(
        "/admin/api/tokens", json={"name": "x", "role": "admin"}, headers=bearer
    )
    assert refused.status == 403
    assert secret not in str(await (await client.get("/admin/api/tokens")).json())
    gone = await client.delete("/admin/api/tokens/erp", headers=csrf)
    assert gone.status == 200
    assert (await other.get("/admin/api/session", headers=bearer)).status == 401


# ---- regions in lists and uploads ---------------------------------------------------------------

STORE_HEADER = "store_id,name,city,address,lat,lng,coord\n"


async def test_a_regional_editor_sees_and_uploads_only_its_regions_stores(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [store_row("SH1", city="上海"), store_row("BJ1", city="北京", lat=39.9, lng=116.4)],
        [group_row("G1", "SH1"), group_row("G2", "BJ1")],
    )
    await pool.execute(
        "INSERT INTO entries (code, kind, store_id) VALUES ('sh', 'store', 'SH1'), "
        "('bj', 'store', 'BJ1'), ('hall', 'counter', NULL)"
    )
    headers = await make_token(pool, "sh", "editor", ("上海",))
    client = await make_client()
    health = await (await client.get("/admin/api/health", headers=headers)).json()
    assert [s["store_id"] for s in health["stores"]] == ["SH1"]
    assert health["summary"]["stores"] == 1
    entries = await (await client.get("/admin/api/entries", headers=headers)).json()
    assert [e["code"] for e in entries["entries"]] == ["sh"]
    export = await client.get("/admin/api/exports/stores.csv", headers=headers)
    text = (await export.read()).decode("utf-8-sig")
    assert "SH1" in text and "BJ1" not in text
    groups = await client.get("/admin/api/exports/groups.csv", headers=headers)
    assert "G2" not in (await groups.read()).decode("utf-8-sig")
    # A store of another region is answered as if it did not exist.
    for path in ("/admin/api/stores/BJ1/groups", "/admin/api/stores/NOPE/groups"):
        missing = await client.get(path, headers=headers)
        assert missing.status == 404
        assert (await missing.json())["error"]["code"] == "store_not_found"
    retire = await client.post("/admin/api/groups/G2/retire", headers=headers)
    assert retire.status == 404
    # Uploads to its region go through; a row of another region refuses the whole file.
    ok = await client.post(
        "/admin/api/uploads/stores",
        data=(STORE_HEADER + "SH2,新店,上海,x,31.2,121.4,gcj02\n").encode(),
        params={"filename": "s.csv"},
        headers=headers,
    )
    assert ok.status == 200, await ok.text()
    for body in (
        STORE_HEADER + "SH3,店,上海,x,31.2,121.4,gcj02\nBJ1,改名,北京,x,39.9,116.4,gcj02\n",
        STORE_HEADER + "SH1,搬家,北京,x,39.9,116.4,gcj02\n",
        STORE_HEADER + "NEW,新店,北京,x,39.9,116.4,gcj02\n",
    ):
        refused = await client.post(
            "/admin/api/uploads/stores",
            data=body.encode(),
            params={"filename": "s.csv"},
            headers=headers,
        )
        assert refused.status == 422, body
    assert await pool.fetchval("SELECT city FROM stores WHERE store_id = 'SH1'") == "上海"
    assert await pool.fetchval("SELECT count(*) FROM stores") == 3
    groups_file = "group_id,store_id,name,qr_payload\nG9,BJ1,g,https://weixin.qq.com/g/X9\n"
    refused = await client.post(
        "/admin/api/uploads/groups",
        data=groups_file.encode(),
        params={"filename": "g.csv"},
        headers=headers,
    )
    assert refused.status == 422
    assert "no such store" in await refused.text()
    # The admin token still sees everything.
    everything = await (await client.get("/admin/api/health", headers=AUTH)).json()
    assert {s["store_id"] for s in everything["stores"]} == {"SH1", "SH2", "BJ1"}


async def test_an_admin_resetting_its_own_password_stays_signed_in_only_where_it_did(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await make_account(pool, "boss", "admin")
    here, elsewhere = await make_client(), await make_client()
    csrf = await sign_in(here, "boss")
    await sign_in(elsewhere, "boss")
    reset = await here.patch(
        "/admin/api/accounts/boss", json={"password": "a new long password"}, headers=csrf
    )
    assert reset.status == 200
    assert (await here.get("/admin/api/session")).status == 200
    assert (await elsewhere.get("/admin/api/session")).status == 401
