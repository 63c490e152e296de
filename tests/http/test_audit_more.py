"""The audit trail of the changes issues 17b, 18 and 19 added: groups from pictures and their ZIP,
campaign copy, print jobs, accounts and API tokens. Each record names who (the account, the
token), and none holds a password, a token or a group code's text; dry runs, refusals and failed
sign-ins record nothing."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import asyncpg
import pytest

from tests.accounts import PASSWORD, make_account, sign_in
from tests.conftest import ADMIN_TOKEN, AUTH, group_row, seed, store_row
from tests.pictures import qr_image

pytestmark = pytest.mark.db

ADDED = "https://weixin.qq.com/g/AuditAddedCodeText01"
REPLACED = "https://weixin.qq.com/g/AuditReplacedCodeText02"
ZIPPED = (
    "https://weixin.qq.com/g/AuditZipCodeText03",
    "https://weixin.qq.com/g/AuditZipCodeText04",
)
FIELDS = {"name": "周末福利群", "member_count": "12", "expires_at": "2099-01-01T00:00:00+08:00"}
NEW_PASSWORD = "a brand new password 42"


def png(payload: str) -> bytes:
    buf = io.BytesIO()
    qr_image(payload).save(buf, format="PNG")
    return buf.getvalue()


def pictures_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, payload in files.items():
            archive.writestr(name, png(payload))
    return buf.getvalue()


async def records(client: Any, **query: str) -> list[dict[str, Any]]:
    response = await client.get("/admin/api/audit", params=query, headers=AUTH)
    assert response.status == 200, await response.text()
    out: list[dict[str, Any]] = (await response.json())["records"]
    return out


async def _count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM audit_log"))


async def test_groups_from_pictures_and_their_zip_are_recorded_without_the_code(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2")],
        [group_row("G1", "S1", member_count="5"), group_row("G2", "S2")],
    )
    client = await make_client()
    add = "/admin/api/stores/S1/groups/from-picture"
    # A dry run shows what would be written and records nothing.
    r = await client.post(
        add,
        params={"dry_run": "1", "filename": "card.png", **FIELDS},
        data=png(ADDED),
        headers=AUTH,
    )
    assert r.status == 200, await r.text()
    assert await _count(pool) == 0
    r = await client.post(
        add, params={"filename": "card.png", **FIELDS}, data=png(ADDED), headers=AUTH
    )
    assert r.status == 200, await r.text()
    new_id = (await r.json())["group_id"]
    r = await client.post(
        "/admin/api/groups/G1/code-from-picture",
        params={"filename": "new.png", "member_count": "40"},
        data=png(REPLACED),
        headers=AUTH,
    )
    assert r.status == 200, await r.text()
    # A code another group holds is refused: nothing recorded.
    r = await client.post(
        "/admin/api/groups/G2/code-from-picture",
        params={"filename": "dup.png", **FIELDS},
        data=png(REPLACED),
        headers=AUTH,
    )
    assert r.status == 409, await r.text()
    r = await client.post(
        "/admin/api/group-pictures",
        params={"filename": "weekly.zip", "ocr": "0"},
        data=pictures_zip({"G2.png": ZIPPED[0], "S1.png": ZIPPED[1]}),
        headers=AUTH,
    )
    assert r.status == 200, await r.text()

    (added,) = await records(client, kind="group.picture_add")
    assert added["actor"] == "token#1"
    assert added["store_id"] == "S1" and added["target"] == new_id
    assert added["summary"].startswith(f"group {new_id} added from picture card.png: ")
    assert "name 周末福利群" in added["summary"] and "member_count 12" in added["summary"]
    (replaced,) = await records(client, kind="group.code_replace")
    assert replaced["store_id"] == "S1" and replaced["target"] == "G1"
    assert "member_count 5 -> 40" in replaced["summary"]
    assert replaced["details"]["old"]["member_count"] == 5
    assert replaced["details"]["new"]["member_count"] == 40
    zipped = await records(client, kind="upload.group_pictures")
    by_store = {z["store_id"]: z for z in zipped}
    assert set(by_store) == {"S1", "S2", None}
    assert "G2 (code replaced)" in by_store["S2"]["summary"]
    assert "(new)" in by_store["S1"]["summary"]
    whole = by_store[None]
    assert whole["target"] == "weekly.zip"
    assert whole["details"] == {"pictures": 2, "added": 1, "replaced": 1, "stores": 2}
    # The per-store view shows them with the store's other changes.
    r = await client.get("/admin/api/stores/S1/audit", headers=AUTH)
    kinds = {rec["kind"] for rec in (await r.json())["records"]}
    assert kinds == {"group.picture_add", "group.code_replace", "upload.group_pictures"}

    stored = json.dumps([dict(r) for r in await pool.fetch("SELECT * FROM audit_log")], default=str)
    for code in (ADDED, REPLACED, *ZIPPED):
        assert code.rsplit("/", 1)[1] not in stored


async def test_campaign_copy_and_print_jobs_are_recorded(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1", "S1")])
    await pool.execute("INSERT INTO entries (code, kind, store_id) VALUES ('door1', 'store', 'S1')")
    client = await make_client()
    for text in ("周末特惠", ""):
        r = await client.put(
            "/admin/api/entries/door1/campaign", json={"campaign": text}, headers=AUTH
        )
        assert r.status == 200, await r.text()
    r = await client.put("/admin/api/entries/nope/campaign", json={"campaign": "x"}, headers=AUTH)
    assert r.status == 404
    r = await client.post("/admin/api/print-jobs", json={"size": "a5"}, headers=AUTH)
    assert r.status == 202, await r.text()
    job = (await r.json())["id"]

    campaign = await records(client, kind="entry.campaign")
    assert [c["summary"] for c in campaign] == [
        "entry door1 campaign: '周末特惠' -> ''",
        "entry door1 campaign: '' -> '周末特惠'",
    ]
    assert {c["store_id"] for c in campaign} == {"S1"}
    assert campaign[1]["details"] == {"old": "", "new": "周末特惠"}
    (printed,) = await records(client, kind="print_job")
    assert printed["target"] == str(job) and printed["actor"] == "token#1"
    assert printed["summary"] == f"print job {job}: every active store's sheets, size a5"


async def test_accounts_and_tokens_are_recorded_without_passwords_or_tokens(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(rate_admin_failures_per_ip=0)
    # The changes are made by a signed-in admin: its name is who.
    await make_account(pool, "boss", "admin")
    csrf = await sign_in(client, "boss")
    r = await client.post(
        "/admin/api/accounts",
        json={"username": "mei", "password": PASSWORD, "role": "viewer"},
        headers=csrf,
    )
    assert r.status == 201, await r.text()
    for change in (
        {"role": "editor", "regions": ["上海"]},
        {"password": NEW_PASSWORD},
        {"disabled": True},
        {"disabled": False},
    ):
        r = await client.patch("/admin/api/accounts/mei", json=change, headers=csrf)
        assert r.status == 200, (change, await r.text())
    r = await client.post(
        "/admin/api/tokens",
        json={"name": "etl", "role": "editor", "regions": ["北京"]},
        headers=csrf,
    )
    assert r.status == 201, await r.text()
    token = (await r.json())["token"]
    assert (await client.delete("/admin/api/tokens/etl", headers=csrf)).status == 200
    # Refusals and failed sign-ins record nothing.
    before = await _count(pool)
    r = await client.post(
        "/admin/api/accounts",
        json={"username": "mei", "password": PASSWORD, "role": "viewer"},
        headers=csrf,
    )
    assert r.status == 409
    assert (await client.delete("/admin/api/tokens/etl", headers=csrf)).status == 404
    assert (await client.patch("/admin/api/accounts/nope", json={}, headers=csrf)).status == 404
    stranger = await make_client(rate_admin_failures_per_ip=0)
    r = await stranger.post(
        "/admin/api/session", json={"username": "mei", "password": "a wrong password"}
    )
    assert r.status == 401
    assert await _count(pool) == before

    rows = await records(client)
    assert {r["actor"] for r in rows} == {"boss"}
    assert [(r["kind"], r["target"], r["summary"]) for r in reversed(rows)] == [
        ("account.create", "mei", "account mei created: role viewer, regions (every region)"),
        (
            "account.change",
            "mei",
            "account mei: role viewer -> editor, regions (every region) -> 上海",
        ),
        ("account.reset", "mei", "account mei: password reset"),
        ("account.disable", "mei", "account mei: disabled False -> True"),
        ("account.enable", "mei", "account mei: disabled True -> False"),
        ("token.create", "etl", "API token etl created: role editor, regions 北京"),
        ("token.delete", "etl", "API token etl deleted (role editor, regions 北京)"),
    ]
    stored = json.dumps([dict(r) for r in await pool.fetch("SELECT * FROM audit_log")], default=str)
    for secret in (PASSWORD, NEW_PASSWORD, token, ADMIN_TOKEN, "argon2"):
        assert secret not in stored


async def test_a_password_reset_that_ends_sessions_says_how_many(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await make_account(pool, "mei", "viewer")
    for _ in range(2):
        await sign_in(await make_client(), "mei")
    client = await make_client()
    r = await client.patch("/admin/api/accounts/mei", json={"password": NEW_PASSWORD}, headers=AUTH)
    assert r.status == 200, await r.text()
    (reset,) = await records(client, kind="account.reset")
    assert reset["summary"] == "account mei: password reset, 2 session(s) ended"
    assert reset["details"]["sessions_ended"] == 2
