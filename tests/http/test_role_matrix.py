"""Every operation of /openapi.yaml under /admin/api, tried by every role, limited to a region or
not, and by nobody: a viewer cannot change, an editor cannot manage accounts, a principal limited
to a region neither sees nor touches another region's stores (answered 404, as if they did not
exist), and its lists never name them.

The matrix below says, independently of the code, what each operation needs. It must cover the
document exactly: a new operation without a row here fails the test, so none can be forgotten.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import asyncpg
import pytest
import yaml

from tests.accounts import make_account, make_token, sign_in
from tests.conftest import AUTH, group_row, seed, store_row
from tests.pictures import qr_image

pytestmark = pytest.mark.db

PREFIX = "/admin/api"
ROLES = ("viewer", "editor", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
# The store's own page (/link/...): only a store link reaches it, never an account or a token.
STORE_LINK = "store_link"

# Two regions: the limited principals are of 上海; everything of 北京 must stay invisible to them.
OWN = {"store_id": "SH1", "group_id": "SHG1", "code": "shentry"}
OTHER = {"store_id": "BJ1", "group_id": "BJG1", "code": "bjentry"}
OTHER_MARKS = ("BJ1", "BJG1", "bjentry", "北京店")
STORES_CSV = "store_id,name,city,address,lat,lng,coord\n{store_id},店,{city},x,31.2,121.4,gcj02\n"
GROUPS_CSV = "group_id,store_id,name,qr_payload\nNEWG,{store_id},g,https://weixin.qq.com/g/NEWG\n"


@dataclass(frozen=True)
class Row:
    needs: str | None  # None: anyone (signing in)
    body: Any = None  # JSON, or bytes for an upload
    # The same request aimed at the other region (a body naming its store), when not in the path.
    other_body: Any = None
    query: dict[str, str] = field(default_factory=dict)


def _upload(kind: str, city: str, store_id: str) -> bytes:
    template = STORES_CSV if kind == "stores" else GROUPS_CSV
    return template.format(store_id=store_id, city=city).encode()


def _picture(payload: str) -> bytes:
    buf = io.BytesIO()
    qr_image(payload).save(buf, format="PNG")
    return buf.getvalue()


def _zip(name: str, payload: str) -> bytes:
    """A ZIP of one group picture named by a group id (replaces that group's code)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(f"{name}.png", _picture(payload))
    return buf.getvalue()


# Every value typed, so no picture waits for a reading of its card; nothing written.
PICTURE_QUERY = {
    "filename": "card.png",
    "dry_run": "1",
    "name": "新群",
    "member_count": "3",
    "expires_at": "2099-01-01T00:00:00+08:00",
}


MATRIX: dict[tuple[str, str], Row] = {
    ("POST", "/session"): Row(None, {"username": "nobody", "password": "wrong password"}),
    ("GET", "/session"): Row("viewer"),
    ("DELETE", "/session"): Row("viewer"),
    ("GET", "/accounts"): Row("admin"),
    ("POST", "/accounts"): Row(
        "admin", {"username": "new-one", "password": "a long password", "role": "viewer"}
    ),
    ("PATCH", "/accounts/{username}"): Row("admin", {"role": "viewer"}),
    ("GET", "/tokens"): Row("admin"),
    ("POST", "/tokens"): Row("admin", {"name": "new-token", "role": "viewer"}),
    ("DELETE", "/tokens/{name}"): Row("admin"),
    ("GET", "/funnel"): Row("viewer"),
    ("GET", "/funnel.csv"): Row("viewer"),
    ("GET", "/alerts"): Row("viewer"),
    ("GET", "/entries"): Row("viewer"),
    ("POST", "/entries"): Row(
        "editor", {"kind": "store", "store_id": "SH1"}, {"kind": "store", "store_id": "BJ1"}
    ),
    ("GET", "/entries/{code}/qr.{fmt}"): Row("viewer"),
    ("GET", "/health"): Row("viewer"),
    ("GET", "/stores/{store_id}/groups"): Row("viewer"),
    ("PUT", "/stores/{store_id}/order"): Row("editor", {"group_ids": ["{group_id}"]}),
    ("POST", "/groups/{group_id}/retire"): Row("editor"),
    ("POST", "/groups/{group_id}/restore"): Row("editor"),
    ("GET", "/templates/{kind}.{fmt}"): Row("viewer"),
    ("GET", "/exports/{kind}.{fmt}"): Row("viewer"),
    ("POST", "/uploads/{kind}"): Row(
        "editor",
        _upload("stores", "上海", "SH9"),
        _upload("stores", "北京", "BJ1"),
        {"filename": "s.csv", "dry_run": "1"},
    ),
    ("POST", "/groups/{group_id}/member-count"): Row("editor", {"member_count": 3}),
    ("GET", "/stores/{store_id}/wecom"): Row("viewer"),
    ("PUT", "/stores/{store_id}/wecom"): Row("editor", {"chat_ids": []}),
    ("DELETE", "/stores/{store_id}/wecom"): Row("editor"),
    ("PUT", "/entries/{code}/campaign"): Row("editor", {"campaign": "周末特惠"}),
    ("GET", "/entries/{code}/sheet.pdf"): Row("viewer"),
    ("GET", "/stores/{store_id}/sheet.pdf"): Row("viewer"),
    # All stores' sheets reach every region: an admin of every region.
    ("POST", "/print-jobs"): Row("admin", {"size": "a6"}),
    ("GET", "/print-jobs/{job}"): Row("admin"),
    ("GET", "/print-jobs/{job}/sheets.pdf"): Row("admin"),
    ("GET", "/audit"): Row("admin"),
    ("GET", "/stores/{store_id}/audit"): Row("viewer"),
    ("GET", "/settings"): Row("admin"),
    ("PUT", "/settings/{name}"): Row("admin", {"value": 600}),
    ("DELETE", "/settings/{name}"): Row("admin"),
    ("POST", "/stores/{store_id}/groups/from-picture"): Row(
        "editor", _picture("https://weixin.qq.com/g/MatrixAdd01"), query=PICTURE_QUERY
    ),
    ("POST", "/groups/{group_id}/code-from-picture"): Row(
        "editor", _picture("https://weixin.qq.com/g/MatrixReplace01"), query=PICTURE_QUERY
    ),
    ("POST", "/group-pictures"): Row(
        "editor",
        _zip("SHG1", "https://weixin.qq.com/g/MatrixZipSH01"),
        _zip("BJG1", "https://weixin.qq.com/g/MatrixZipBJ01"),
        {"filename": "pictures.zip", "dry_run": "1", "ocr": "0"},
    ),
    ("POST", "/store-links"): Row("editor", {"store_ids": ["SH1"]}, {"store_ids": ["BJ1"]}),
    ("GET", "/store-links/{store_id}/qr.png"): Row("editor"),
    # Every store's links at once: an admin of every region.
    ("POST", "/store-links/revoke-all"): Row("admin"),
    ("POST", "/store-links/{store_id}/revoke"): Row("editor"),
    ("GET", "/link/store"): Row(STORE_LINK),
    ("POST", "/link/groups/{group_id}/code"): Row(
        STORE_LINK, {"qr_payload": "https://weixin.qq.com/g/MatrixLink01"}
    ),
    ("POST", "/link/groups/{group_id}/full"): Row(STORE_LINK),
    # The brand is every region's: an admin of every region.
    ("GET", "/brand"): Row("admin"),
    ("PUT", "/brand"): Row("admin", {"offer": "进群领3张8折券"}),
    ("POST", "/brand/logo"): Row("admin", _picture("https://example.com/logo")),
}

SCOPED = ("{store_id}", "{group_id}", "{code}")
JOB = "9000"
NOT_FOUND = {"store_not_found", "group_not_found", "entry_not_found"}


def documented() -> set[tuple[str, str]]:
    spec = yaml.safe_load(resources.files("router.web").joinpath("openapi.yaml").read_text())
    return {
        (method.upper(), path.removeprefix(PREFIX))
        for path, item in spec["paths"].items()
        if path.startswith(PREFIX + "/")
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }


def test_the_matrix_covers_every_documented_operation_and_nothing_else() -> None:
    assert set(MATRIX) == documented()


def test_the_code_declares_what_the_matrix_says() -> None:
    from router.ops.app import OPERATIONS

    declared = {(op.method, op.path): op.needs for op in OPERATIONS}
    assert {k: (None if v is None else v.value) for k, v in declared.items()} == {
        k: row.needs for k, row in MATRIX.items()
    }


def _path(template: str, ids: dict[str, str]) -> str:
    path = template.replace("{kind}", "stores").replace("{fmt}", "csv")
    path = path.replace("/settings/{name}", "/settings/alert_cooldown_s")
    path = path.replace("{username}", "target").replace("{name}", "victim")
    path = path.replace("{job}", JOB)
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return PREFIX + path


def _body(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {
            k: [ids["group_id"] if v == "{group_id}" else v for v in value]
            if isinstance(value, list)
            else value
            for k, value in body.items()
        }
    return body


async def _send(
    client: Any, method: str, template: str, row: Row, headers: dict[str, str], other: bool
) -> Any:
    ids = OTHER if other else OWN
    body = row.other_body if other and row.other_body is not None else row.body
    kwargs: dict[str, Any] = {"headers": headers, "params": row.query}
    if isinstance(body, bytes):
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = _body(body, ids)
    return await client.request(method, _path(template, ids), **kwargs)


async def _world(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [
            store_row("SH1", city="上海"),
            store_row("BJ1", name="北京店", city="北京", lat=39.9, lng=116.4),
        ],
        [group_row("SHG1", "SH1"), group_row("BJG1", "BJ1")],
    )
    await pool.execute(
        "INSERT INTO entries (code, kind, store_id) VALUES ('shentry', 'store', 'SH1'), "
        "('bjentry', 'store', 'BJ1')"
    )
    await pool.execute(
        "INSERT INTO alerts (kind, store_id, message) VALUES ('low', 'SH1', 'sh'), "
        "('low', 'BJ1', 'bj')"
    )
    # A print job of all stores, so its rows reach a real one (print jobs outlive a test).
    await pool.execute(
        "INSERT INTO print_jobs (id, size, requested_by) VALUES ($1, 'a6', 'tests') "
        "ON CONFLICT (id) DO NOTHING",
        int(JOB),
    )
    # Audit records of both stores: the per-store view shows one store's only.
    await pool.execute(
        "INSERT INTO audit_log (actor, kind, store_id, target, summary) VALUES "
        "('tests', 'group.retire', 'SH1', 'SHG1', 'group SHG1 state: active -> retired'), "
        "('tests', 'group.retire', 'BJ1', 'BJG1', 'group BJG1 state: active -> retired')"
    )


@pytest.mark.parametrize("via", ["token", "session"])
async def test_every_operation_with_every_role_and_region(
    pool: asyncpg.Pool, make_client: Any, via: str
) -> None:
    await _world(pool)
    await make_account(pool, "target", "viewer")
    principals: dict[str, tuple[str, tuple[str, ...], Any, dict[str, str]]] = {}
    for role in ROLES:
        for regions in ((), ("上海",)):
            name = f"{role}-{'sh' if regions else 'all'}"
            client = await make_client(rate_admin_failures_per_ip=0)
            if via == "token":
                headers = await make_token(pool, name, role, regions)
            else:
                await make_account(pool, name, role, regions)
                headers = await sign_in(client, name)
            principals[name] = (role, regions, client, headers)
    nobody = await make_client(rate_admin_failures_per_ip=0)
    checked = 0
    # Signing out last: it ends the sessions the other rows use.
    order = sorted(MATRIX.items(), key=lambda kv: kv[0] == ("DELETE", "/session"))
    for (method, template), row in order:
        op = f"{method} {template}"
        if row.needs is None:
            response = await _send(nobody, method, template, row, {}, other=False)
            assert response.status == 401, op  # a wrong password, answered without a principal
            continue
        response = await _send(nobody, method, template, row, {}, other=False)
        assert response.status == 401, op
        for name, (role, regions, client, headers) in principals.items():
            who = f"{op} as {name} ({via})"
            await pool.execute(
                "INSERT INTO api_tokens (name, token_hash, role) VALUES ('victim', "
                "sha256('victim'::bytea), 'viewer') ON CONFLICT (name) DO NOTHING"
            )
            # Signing out has no other region to aim at (and ends the session).
            for other in (False,) if template == "/session" else (False, True):
                response = await _send(client, method, template, row, headers, other)
                status = response.status
                # PDFs and PNGs too: read as text only to look for the other region's marks.
                text = (await response.read()).decode("utf-8", "replace")
                assert status < 500, (who, text)
                if (
                    row.needs == STORE_LINK
                    or RANK[role] < RANK[row.needs]
                    or (row.needs == "admin" and regions)
                ):
                    # Admin operations reach every region: an admin limited to some may not.
                    # A store's own page: no account or token, whatever its role.
                    assert status == 403, (who, other, text)
                    assert (await response.json())["error"]["code"] == "forbidden", who
                    continue
                assert status not in (401, 403), (who, other, text)
                aimed_elsewhere = other and (
                    any(s in template for s in SCOPED) or row.other_body is not None
                )
                code = (await response.json())["error"]["code"] if status >= 400 else None
                if regions and aimed_elsewhere:
                    # Another region's store: as if it did not exist.
                    assert status in (404, 422), (who, text)
                    if status == 404:
                        assert code in NOT_FOUND, (who, text)
                elif regions:
                    assert code not in NOT_FOUND, (who, text)
                    for mark in OTHER_MARKS:
                        assert mark not in text, (who, mark, text[:500])
                elif other and any(s in template for s in SCOPED):
                    assert code not in NOT_FOUND, (who, text)
                checked += 1
    assert checked > 6 * (len(MATRIX) - 1)


async def test_an_unlimited_principal_sees_every_region_in_the_lists(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """The other half of the leak check: the marks the regional rows must not show are there."""
    await _world(pool)
    client = await make_client()
    for path in ("/health", "/entries", "/alerts", "/exports/stores.csv", "/exports/groups.csv"):
        text = await (await client.get(PREFIX + path, headers=AUTH)).text()
        assert any(mark in text for mark in OTHER_MARKS), path


async def test_a_store_link_reaches_its_own_page_and_no_other_operation(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """The other side of the store_link rows: a store link (of 上海's store) is refused every
    operation of the ops API but its store's own page, whatever it names."""
    await _world(pool)
    client = await make_client(
        rate_admin_failures_per_ip=0,
        rate_store_link_per_minute=10_000,
        rate_store_link_burst=10_000,
    )
    r = await client.post(
        PREFIX + "/store-links", json={"store_ids": ["SH1"], "lang": "en"}, headers=AUTH
    )
    assert r.status == 200, await r.text()
    rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    token = rows[0]["link"].split("#t=", 1)[1]
    link = {"Authorization": f"StoreLink {token}"}
    reached = 0
    for (method, template), row in MATRIX.items():
        if row.needs is None:
            continue
        for other in (False, True):
            response = await _send(client, method, template, row, link, other)
            who = f"{method} {template} by a store link (other={other})"
            text = (await response.read()).decode("utf-8", "replace")
            assert response.status < 500, (who, text)
            if row.needs != STORE_LINK:
                assert response.status == 403, (who, text)
                assert (await response.json())["error"]["code"] == "forbidden", who
                continue
            assert response.status not in (401, 403), (who, text)
            if other and "{group_id}" in template:
                # Another store's group: as if it did not exist (the answer names only what
                # was asked).
                assert response.status == 404, (who, text)
                assert (await response.json())["error"]["code"] == "group_not_found", who
            else:
                for mark in OTHER_MARKS:
                    assert mark not in text, (who, mark, text[:500])
            reached += 1
    assert reached == 2 * len([r for r in MATRIX.values() if r.needs == STORE_LINK])
