"""Group codes from pictures over the admin API: add a group to a store, replace a group's code
(position and history kept, the old image link dead), every refusal, and a ZIP of pictures with a
bad entry (nothing written)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.conftest import ADMIN_TOKEN, group_row, seed, store_row
from tests.pictures import screenshot

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NEW = "https://weixin.qq.com/g/NewCodeFromAPicture01"


def form(picture: bytes, filename: str = "card.png", **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for k, v in fields.items():
        data.add_field(k, v)
    data.add_field("file", picture, filename=filename, content_type="image/png")
    return data


async def _stores(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2")],
        [group_row("G1", "S1"), group_row("G2", "S1"), group_row("G3", "S2")],
    )


async def test_a_group_is_added_to_a_store_from_a_picture_after_a_dry_run(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _stores(pool)
    client = await make_client()
    picture = screenshot(NEW, "JPEG", angle=8, quality=60)
    dry = await client.post(
        "/admin/api/stores/S1/groups/from-picture",
        params={"dry_run": "1"},
        data=form(picture, "card.jpg"),
        headers=AUTH,
    )
    assert dry.status == 200, await dry.text()
    body = await dry.json()
    assert body["dry_run"] is True and body["action"] == "add"
    assert body["code"] == {
        "kind": "wechat_group",
        "kind_words": "微信群二维码 / WeChat group code",
        "payload": NEW,
    }
    assert body["values"]["expiry_source"] in ("validity_line", "upload")
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE qr_payload = $1", NEW) == 0

    saved = await client.post(
        "/admin/api/stores/S1/groups/from-picture",
        data=form(
            picture, "card.jpg", name="周末福利群", member_count="12", expires_at="12月7日前"
        ),
        headers=AUTH,
    )
    assert saved.status == 200, await saved.text()
    body = await saved.json()
    assert body["values"]["name"] == "周末福利群"  # typed values win over any reading
    assert body["values"]["member_count"] == 12
    assert body["values"]["expiry_source"] == "expires_at"
    row = await pool.fetchrow(
        "SELECT store_id, name, member_count, position, state FROM groups WHERE group_id = $1",
        body["group_id"],
    )
    assert row["store_id"] == "S1" and row["name"] == "周末福利群" and row["member_count"] == 12
    positions = await pool.fetch(
        "SELECT position FROM groups WHERE store_id = 'S1' ORDER BY position"
    )
    assert row["position"] == max(p["position"] for p in positions)  # after the store's groups


async def test_a_groups_code_is_replaced_keeping_its_position_and_killing_the_old_image(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _stores(pool)
    client = await make_client()
    before = await pool.fetchrow(
        "SELECT id, position, qr_version, name FROM groups WHERE group_id = 'G1'"
    )
    response = await client.post(
        "/admin/api/groups/G1/code-from-picture", data=form(screenshot(NEW, "WEBP")), headers=AUTH
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["action"] == "replace" and body["group_id"] == "G1" and body["store_id"] == "S1"
    after = await pool.fetchrow(
        "SELECT id, position, qr_version, qr_payload, name, expires_at FROM groups "
        "WHERE group_id = 'G1'"
    )
    assert after["id"] == before["id"] and after["position"] == before["position"]
    assert after["qr_payload"] == NEW
    assert after["qr_version"] == before["qr_version"] + 1  # signed links of the old code die
    assert after["expires_at"] is not None
    assert body["values"]["sources"].get("name") in ("stored", "ocr")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("wxp://f2f0PaymentCode", "wrong_code_kind"),
        ("https://example.com/promo", "wrong_code_kind"),
        ("https://u.wechat.com/PersonalCard", "wrong_code_kind"),
    ],
)
async def test_a_code_of_a_kind_the_slot_cannot_take_is_refused(
    pool: asyncpg.Pool, make_client: Any, payload: str, code: str
) -> None:
    await _stores(pool)
    client = await make_client()
    response = await client.post(
        "/admin/api/stores/S1/groups/from-picture", data=form(screenshot(payload)), headers=AUTH
    )
    assert response.status == 422
    assert (await response.json())["error"]["code"] == code
    assert await pool.fetchval("SELECT count(*) FROM groups") == 3


async def test_a_code_already_used_by_another_group_is_refused(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _stores(pool)
    client = await make_client()
    used = "https://weixin.qq.com/g/TESTG3"  # G3's code (tests.conftest.group_row)
    for path in (
        "/admin/api/stores/S1/groups/from-picture",
        "/admin/api/groups/G1/code-from-picture",
    ):
        response = await client.post(path, data=form(screenshot(used)), headers=AUTH)
        assert response.status == 409
        error = (await response.json())["error"]
        assert error["code"] == "code_in_use" and "G3" in error["message"]


async def test_pictures_without_one_usable_code_are_refused_with_their_reason(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _stores(pool)
    client = await make_client(picture_max_bytes=20_000)
    cases = [
        (b"GIF89a not really", "not_a_picture", 422),
        (screenshot(NEW, "JPEG", quality=95), "payload_too_large", 413),
    ]
    for data, code, status in cases:
        response = await client.post(
            "/admin/api/groups/G1/code-from-picture", data=form(data), headers=AUTH
        )
        assert response.status == status, await response.text()
        assert (await response.json())["error"]["code"] == code
    client = await make_client()
    missing = await client.post(
        "/admin/api/stores/NOPE/groups/from-picture", data=form(screenshot(NEW)), headers=AUTH
    )
    assert missing.status == 404
    no_file = await client.post(
        "/admin/api/stores/S1/groups/from-picture",
        data=aiohttp.FormData({"name": "x"}, default_to_multipart=True),
        headers=AUTH,
    )
    assert no_file.status == 400
    bad_date = await client.post(
        "/admin/api/stores/S1/groups/from-picture",
        data=form(screenshot(NEW), expires_at="next week"),
        headers=AUTH,
    )
    assert bad_date.status == 422
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE qr_payload = $1", NEW) == 0


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


async def test_a_zip_named_by_group_and_store_ids_replaces_and_adds_all_or_nothing(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _stores(pool)
    client = await make_client()
    good = {
        "G1.png": screenshot("https://weixin.qq.com/g/ZipG1"),
        "refresh/G3.jpg": screenshot("https://weixin.qq.com/g/ZipG3", "JPEG"),
        "S2.webp": screenshot("https://weixin.qq.com/g/ZipNewS2", "WEBP"),
    }
    bad = {**good, "G2.png": screenshot("wxp://payme"), "S9.png": screenshot(NEW)}
    response = await client.post(
        "/admin/api/group-pictures",
        data=zip_of(bad),
        params={"filename": "w.zip", "ocr": "0"},
        headers=AUTH,
    )
    assert response.status == 422
    errors = (await response.json())["error"]["errors"]
    assert {(e["value"], e["column"]) for e in errors} == {
        ("G2.png", "picture"),
        ("S9.png", "picture"),
    }
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE qr_payload LIKE '%Zip%'") == 0

    dry = await client.post(
        "/admin/api/group-pictures",
        data=zip_of(good),
        params={"dry_run": "1", "ocr": "false"},
        headers=AUTH,
    )
    assert dry.status == 200, await dry.text()
    assert (await dry.json())["inserted"] == 1
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE qr_payload LIKE '%Zip%'") == 0

    done = await client.post(
        "/admin/api/group-pictures", data=zip_of(good), params={"ocr": "0"}, headers=AUTH
    )
    assert done.status == 200, await done.text()
    body = await done.json()
    assert (body["inserted"], body["updated"]) == (1, 2)
    assert {p["picture"]: p["action"] for p in body["pictures"]} == {
        "G1.png": "replace",
        "refresh/G3.jpg": "replace",
        "S2.webp": "add",
    }
    assert await pool.fetchval("SELECT qr_payload FROM groups WHERE group_id = 'G3'") == (
        "https://weixin.qq.com/g/ZipG3"
    )


async def test_a_zip_with_a_sheet_maps_pictures_to_stores_and_groups(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _stores(pool)
    client = await make_client()
    sheet = (
        "picture,group_id,store_id,name,expires_at\n"
        "a.png,G2,,,\n"
        "b.png,S2-weekend,S2,周末群,12月7日前\n"
    ).encode()
    files = {
        "map.csv": sheet,
        "a.png": screenshot("https://weixin.qq.com/g/SheetA"),
        "b.png": screenshot("https://weixin.qq.com/g/SheetB"),
    }
    response = await client.post(
        "/admin/api/group-pictures", data=zip_of(files), params={"ocr": "no"}, headers=AUTH
    )
    assert response.status == 200, await response.text()
    row = await pool.fetchrow(
        "SELECT store_id, name, expires_at FROM groups WHERE group_id = 'S2-weekend'"
    )
    assert row["store_id"] == "S2" and row["name"] == "周末群" and row["expires_at"] is not None
    assert await pool.fetchval("SELECT qr_payload FROM groups WHERE group_id = 'G2'") == (
        "https://weixin.qq.com/g/SheetA"
    )


async def test_a_zip_bomb_and_too_many_entries_are_refused_before_unpacking(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await _stores(pool)
    client = await make_client(picture_zip_max_unzipped=5_000_000, picture_zip_max_entries=3)
    bomb = zip_of({"G1.png": b"\0" * 50_000_000})
    assert len(bomb) < 200_000
    response = await client.post("/admin/api/group-pictures", data=bomb, headers=AUTH)
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "zip_too_large"
    many = zip_of({f"G{i}.png": b"x" for i in range(5)})
    response = await client.post("/admin/api/group-pictures", data=many, headers=AUTH)
    assert (await response.json())["error"]["code"] == "zip_too_large"
    response = await client.post("/admin/api/group-pictures", data=b"not a zip", headers=AUTH)
    assert (await response.json())["error"]["code"] == "bad_zip"
