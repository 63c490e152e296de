"""Group codes from pictures for a principal limited to regions: its ZIP names only its regions'
groups and stores (another region's are answered as if they did not exist, by file name or by
sheet, and nothing is written), and a code another region's group uses is refused without naming
that group. An unlimited principal still sees the name."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import asyncpg
import pytest

from tests.accounts import make_token
from tests.conftest import AUTH, group_row, seed, store_row
from tests.pictures import qr_image

pytestmark = pytest.mark.db

BJ_CODE = "https://weixin.qq.com/g/BeijingGroupCode01"
SH_NEW = "https://weixin.qq.com/g/ShanghaiNewCode02"
BJ_MARKS = ("BJ1", "BJG1", "北京店")


def png(payload: str) -> bytes:
    buf = io.BytesIO()
    qr_image(payload).save(buf, format="PNG")
    return buf.getvalue()


def pictures_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


async def _world(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [
            store_row("SH1", city="上海"),
            store_row("BJ1", name="北京店", city="北京", lat=39.9, lng=116.4),
        ],
        [group_row("SHG1", "SH1"), group_row("BJG1", "BJ1", qr_payload=BJ_CODE)],
    )


async def _groups(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT group_id, store_id, qr_payload FROM groups ORDER BY group_id")
    return [(r["group_id"], r["store_id"], r["qr_payload"]) for r in rows]


async def _zip(client: Any, headers: dict[str, str], files: dict[str, bytes]) -> Any:
    return await client.post(
        "/admin/api/group-pictures",
        params={"filename": "weekly.zip", "ocr": "0"},
        data=pictures_zip(files),
        headers=headers,
    )


async def test_a_regional_zip_cannot_name_another_regions_groups_or_stores(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _world(pool)
    before = await _groups(pool)
    editor = await make_token(pool, "editor-sh", "editor", ("上海",))
    client = await make_client()
    # By file name: another region's group and store are neither a group nor a store.
    r = await _zip(client, editor, {"BJG1.png": png(SH_NEW), "BJ1.png": png(SH_NEW + "x")})
    assert r.status == 422, await r.text()
    errors = (await r.json())["error"]["errors"]
    assert {(e["column"], e["value"]) for e in errors} == {
        ("picture", "BJ1.png"),
        ("picture", "BJG1.png"),
    }
    assert all("neither a group id nor a store id" in e["message"] for e in errors)
    # By sheet: another region's store takes no new group; another region's group id cannot be
    # taken over by naming one's own store.
    for sheet, wrong in (
        (b"picture,store_id\na.png,BJ1\n", ("store_id", "BJ1")),
        (b"picture,group_id,store_id\na.png,BJG1,SH1\n", ("group_id", "BJG1")),
    ):
        r = await _zip(client, editor, {"map.csv": sheet, "a.png": png(SH_NEW)})
        assert r.status == 422, await r.text()
        errors = (await r.json())["error"]["errors"]
        assert [(e["row"], e["column"], e["value"]) for e in errors] == [(2, *wrong)]
        assert "北京店" not in await r.text()
    assert await _groups(pool) == before
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0

    # Its own region's group goes through, recorded under the token's name.
    r = await _zip(client, editor, {"SHG1.png": png(SH_NEW)})
    assert r.status == 200, await r.text()
    text = await r.text()
    assert not any(mark in text for mark in BJ_MARKS), text
    assert await pool.fetchval("SELECT qr_payload FROM groups WHERE group_id = 'SHG1'") == SH_NEW
    actors = await pool.fetch("SELECT DISTINCT actor FROM audit_log")
    assert [a["actor"] for a in actors] == ["token:editor-sh"]


async def test_a_code_of_another_regions_group_is_refused_without_naming_it(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _world(pool)
    editor = await make_token(pool, "editor-sh", "editor", ("上海",))
    client = await make_client()
    fields = {"name": "群", "member_count": "3", "expires_at": "2099-01-01T00:00:00+08:00"}
    for path in (
        "/admin/api/groups/SHG1/code-from-picture",
        "/admin/api/stores/SH1/groups/from-picture",
    ):
        r = await client.post(path, params=fields, data=png(BJ_CODE), headers=editor)
        assert r.status == 409, await r.text()
        text = await r.text()
        assert "another group's" in text and not any(m in text for m in BJ_MARKS), text
        # An admin of every region is told which group holds it.
        r = await client.post(path, params=fields, data=png(BJ_CODE), headers=AUTH)
        assert r.status == 409 and "BJG1" in await r.text()
    r = await _zip(client, editor, {"SHG1.png": png(BJ_CODE)})
    assert r.status == 422, await r.text()
    text = await r.text()
    assert "another group's" in text and not any(m in text for m in BJ_MARKS), text
    r = await _zip(client, AUTH, {"SHG1.png": png(BJ_CODE)})
    assert r.status == 422 and "BJG1" in await r.text()
