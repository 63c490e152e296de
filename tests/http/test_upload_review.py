"""Issue 16 through the admin API: the warnings, the confirmation token that accepts them (missing,
malformed, for another file, for other warnings, expired), and the dry run's changes, paged."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from router.ops.uploads.confirm import Confirm, ConfirmationError, check, issue
from router.ops.uploads.model import RowError
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HEADER = "store_id,name,city,address,lng,lat,coord\r\n"
GOOD = "SH002,徐家汇店,上海,徐汇区漕溪北路1111号,121.4365,31.1955,gcj02\r\n"
SWAPPED = "ks-1,喀什店,喀什,x,39.4704,75.9897,gcj02\r\n"


async def post(client: Any, data: str, **params: str) -> Any:
    return await client.post(
        "/admin/api/uploads/stores",
        data=data.encode(),
        params={"filename": "门店.csv", **params},
        headers=AUTH,
    )


async def test_a_file_with_warnings_commits_only_with_its_dry_runs_token(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    data = HEADER + GOOD + SWAPPED
    dry = await post(client, data, dry_run="1")
    assert dry.status == 200, await dry.text()
    summary = await dry.json()
    assert [(w["row"], w["code"]) for w in summary["warnings"]] == [(3, "swapped_coordinates")]
    assert summary["warnings_grouped"][0]["message"].startswith("第3行")
    token = summary["confirm_token"]
    assert token

    # Missing token: 409, nothing written, the warnings said again.
    missing = await post(client, data)
    assert missing.status == 409
    error = (await missing.json())["error"]
    assert error["code"] == "confirmation_required"
    assert [w["code"] for w in error["warnings"]] == ["swapped_coordinates"]
    # Malformed: 400.
    bad = await post(client, data, confirm="not-a-token")
    assert (bad.status, (await bad.json())["error"]["code"]) == (400, "bad_confirmation")
    # The token of this file on a changed file: 409 mismatch.
    changed = await post(client, data.replace("喀什店", "喀什老店"), confirm=token)
    assert (changed.status, (await changed.json())["error"]["code"]) == (
        409,
        "confirmation_mismatch",
    )
    # Another option (another coordinate source for the file) is another file too.
    other = await post(client, data, confirm=token, encoding="utf-8")
    assert (await other.json())["error"]["code"] == "confirmation_mismatch"
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0

    ok = await post(client, data, confirm=token)
    assert ok.status == 200, await ok.text()
    assert await pool.fetchval("SELECT count(*) FROM stores") == 2
    # The same file again changes nothing: what was accepted is not questioned again.
    again = await post(client, data)
    assert again.status == 200, await again.text()
    assert (await again.json())["warnings"] == []


async def test_a_file_without_warnings_commits_without_a_token(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    response = await post(client, HEADER + GOOD)
    assert response.status == 200
    assert (await response.json())["warnings"] == []


async def test_a_token_goes_stale_when_the_warnings_change_under_it(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    # The template's example row: new at the dry run; by the commit a real SH001 exists, so the
    # warning now says it would overwrite it: the token named other warnings.
    client = await make_client()
    example = (
        "store_id,name,city,address,lat,lng,coord\r\n"
        "SH001,人民广场店,上海,黄浦区人民大道 120 号,31.230416,121.473701,gcj02\r\n"
    )
    dry = await (await post(client, example, dry_run="1")).json()
    [warning] = dry["warnings"]
    assert warning["code"] == "template_example"
    assert "示例行" in warning["message"] and "覆盖" not in warning["message"]
    real = "SH001,真实的店,上海,黄浦区人民大道200号,121.4737,31.2304,gcj02\r\n"
    assert (await post(client, HEADER + real)).status == 200
    stale = await post(client, example, confirm=dry["confirm_token"])
    assert (stale.status, (await stale.json())["error"]["code"]) == (409, "confirmation_mismatch")
    again = await (await post(client, example, dry_run="1")).json()
    assert "会覆盖已有的「SH001」" in again["warnings"][0]["message"]
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = 'SH001'") == "真实的店"


def test_an_expired_token_is_refused_and_a_fresh_one_accepted() -> None:
    warnings = [RowError(2, "lat", "1,2", "swapped", "swapped_coordinates", "填反了")]
    dry = Confirm(b"s" * 32, ttl_s=60, now=1_000_000)
    token = issue(dry, "file", warnings)
    check(Confirm(b"s" * 32, 60, token, now=1_000_059), "file", warnings)
    with pytest.raises(ConfirmationError) as caught:
        check(Confirm(b"s" * 32, 60, token, now=1_000_061), "file", warnings)
    assert caught.value.code == "confirmation_expired"
    with pytest.raises(ConfirmationError) as caught:
        check(Confirm(b"t" * 32, 60, token, now=1_000_001), "file", warnings)
    assert caught.value.code == "confirmation_mismatch"


async def test_the_dry_run_shows_each_stores_change_paged(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    first = HEADER + "".join(
        f"S{i:04d},店{i},上海,地址{i},121.{4000 + i},31.{2000 + i},gcj02\r\n" for i in range(300)
    )
    assert (await post(client, first)).status == 200
    second = HEADER + "".join(
        f"S{i:04d},{'新店' if i == 7 else '店'}{i},上海,地址{i},121.{4000 + i},31.{2000 + i},gcj02\r\n"
        for i in range(301)
    )
    dry = await (await post(client, second, dry_run="1", changes_limit="50")).json()
    changes = dry["changes"]
    assert changes["counts"] == {"added": 1, "changed": 1, "unchanged": 299, "warned": 0}
    assert (changes["total"], len(changes["items"])) == (301, 50)
    assert changes["items"][7] == {
        "kind": "store",
        "id": "S0007",
        "row": 9,
        "status": "changed",
        "fields": {"name": {"old": "店7", "new": "新店7"}},
        "warnings": [],
    }
    last = await (
        await post(client, second, dry_run="1", changes_offset="300", changes_limit="50")
    ).json()
    assert [(c["id"], c["status"]) for c in last["changes"]["items"]] == [("S0300", "added")]
    only = await (await post(client, second, dry_run="1", changes="changed")).json()
    assert [c["id"] for c in only["changes"]["items"]] == ["S0007"]
    bad = await post(client, second, dry_run="1", changes="nope")
    assert (bad.status, (await bad.json())["error"]["code"]) == (400, "bad_changes")


async def test_the_dry_run_shows_each_groups_change(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client()
    assert (await post(client, HEADER + GOOD)).status == 200
    groups = "group_id,store_id,name,qr_payload,capacity\r\n"
    first = groups + "G1,SH002,一群,https://weixin.qq.com/g/AAAA,150\r\n"
    response = await client.post(
        "/admin/api/uploads/groups", data=first.encode(), params={"filename": "g.csv"}, headers=AUTH
    )
    assert response.status == 200
    second = groups + (
        "G1,SH002,一群,https://weixin.qq.com/g/AAAA,180\r\n"
        "G2,SH002,二群,https://weixin.qq.com/g/BBBB,\r\n"
    )
    dry = await client.post(
        "/admin/api/uploads/groups",
        data=second.encode(),
        params={"filename": "g.csv", "dry_run": "1"},
        headers=AUTH,
    )
    items = (await dry.json())["changes"]["items"]
    assert [(c["kind"], c["id"], c["status"]) for c in items] == [
        ("group", "G1", "changed"),
        ("group", "G2", "added"),
    ]
    assert items[0]["fields"] == {"capacity": {"old": 150, "new": 180}}
