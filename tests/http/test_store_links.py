"""Store links: one store only, expiring, revocable, rate limited, never listed."""

from __future__ import annotations

import csv
import io
import re
import time
from typing import Any

import asyncpg
import qrcode
import zxingcpp
from PIL import Image

from router.ops.links import StoreLinkSigner
from tests.conftest import AUTH, TEST_SECRET, eventually, group_row, qr_path, scan, seed, store_row


def picture(payload: str) -> bytes:
    buf = io.BytesIO()
    qrcode.make(payload).save(buf, format="PNG")
    return buf.getvalue()


async def links(client: Any, *store_ids: str) -> dict[str, str]:
    response = await client.post(
        "/admin/api/store-links", json={"store_ids": list(store_ids)}, headers=AUTH
    )
    assert response.status == 200, await response.text()
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    return {r["store_id"]: r["link"] for r in rows}


def token_of(link: str) -> dict[str, str]:
    token = re.search(r"#t=(.+)$", link)
    assert token is not None and link.startswith("http://huoma.test/store/")
    return {"Authorization": f"StoreLink {token[1]}"}


async def seeded(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [store_row("S1"), store_row("S2", lat=31.3)],
        [group_row("G1"), group_row("G2", position=1), group_row("G3", "S2")],
    )


async def test_a_link_reaches_its_store_and_nothing_else(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    s1 = token_of((await links(client, "S1"))["S1"])
    page = await (await client.get("/admin/api/link/store", headers=s1)).json()
    assert page["store_id"] == "S1" and [g["group_id"] for g in page["groups"]] == ["G1", "G2"]
    # Another store's group is not there, whatever is asked of it.
    for path in ("/admin/api/link/groups/G3/full", "/admin/api/link/groups/NOPE/full"):
        response = await client.post(path, headers=s1)
        assert response.status == 404, path
    response = await client.post(
        "/admin/api/link/groups/G3/code", data=picture("https://weixin.qq.com/g/X"), headers=s1
    )
    assert response.status == 404
    # Nothing of the ops API: no lists, no uploads, no other store, no link issuing or listing.
    for method, path in [
        ("GET", "/admin/api/alerts"),
        ("GET", "/admin/api/stores/S1/groups"),
        ("GET", "/admin/api/stores/S2/groups"),
        ("GET", "/admin/api/exports/stores.csv"),
        ("POST", "/admin/api/uploads/groups"),
        ("POST", "/admin/api/groups/G3/retire"),
        ("POST", "/admin/api/store-links"),
        ("GET", "/admin/api/store-links/S1/qr.png"),
        ("POST", "/admin/api/store-links/revoke-all"),
        ("GET", "/admin/api/store-links"),
    ]:
        response = await client.request(method, path, headers=s1)
        assert response.status in (403, 405), (method, path, response.status)
    # ...and an admin token is not a store link.
    assert (await client.get("/admin/api/link/store", headers=AUTH)).status == 403


async def test_expired_forged_and_revoked_links_are_refused(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    signer = StoreLinkSigner(TEST_SECRET.encode())
    expired = {"Authorization": f"StoreLink {signer.sign('S1', 0, 0, int(time.time()) - 1)}"}
    forged = {"Authorization": f"StoreLink {StoreLinkSigner(b'other').sign('S1', 0, 0, 2**40)}"}
    for headers in (expired, forged):
        response = await client.get("/admin/api/link/store", headers=headers)
        assert response.status == 401
    first = await links(client, "S1", "S2")
    s1, s2 = token_of(first["S1"]), token_of(first["S2"])
    # One store's links revoked: that store's stop, the other's work.
    assert (await client.post("/admin/api/store-links/S1/revoke", headers=AUTH)).status == 200
    response = await client.get("/admin/api/link/store", headers=s1)
    assert response.status == 401 and (await response.json())["error"]["code"] == "link_revoked"
    assert (await client.get("/admin/api/link/store", headers=s2)).status == 200
    again = token_of((await links(client, "S1"))["S1"])
    assert (await client.get("/admin/api/link/store", headers=again)).status == 200
    # All at once.
    assert (await client.post("/admin/api/store-links/revoke-all", headers=AUTH)).status == 200
    for headers in (again, s2):
        assert (await client.get("/admin/api/link/store", headers=headers)).status == 401
    assert (await client.post("/admin/api/store-links/S9/revoke", headers=AUTH)).status == 404


async def test_a_leaked_link_is_rate_limited(pool: asyncpg.Pool, make_client: Any) -> None:
    await seeded(pool)
    client = await make_client(rate_store_link_per_minute=1, rate_store_link_burst=3)
    s1 = token_of((await links(client, "S1"))["S1"])
    statuses = [(await client.get("/admin/api/link/store", headers=s1)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_a_new_code_from_a_picture_patches_only_its_store(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client()
    s1 = token_of((await links(client, "S1"))["S1"])
    old = (await scan(client))["group"]
    assert old["id"] == "G1"
    url = "/admin/api/link/groups/G1/code"
    for data, code in [
        (b"not a picture", "not_a_picture"),
        (picture("https://example.com/pay"), "wrong_code_kind"),
        (picture("https://weixin.qq.com/g/TESTG3"), "code_in_use"),
    ]:
        response = await client.post(url, data=data, headers=s1)
        assert response.status in (409, 422) and (await response.json())["error"]["code"] == code
    response = await client.post(url, data=picture("https://weixin.qq.com/g/NEWCODE"), headers=s1)
    assert response.status == 200, await response.text()

    async def new_code() -> Any:
        answer = (await scan(client))["group"]
        return answer if answer["qr_url"] != old["qr_url"] else None

    answer = await eventually(new_code)
    image = await client.get(qr_path(answer["qr_url"]))
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(await image.read())))
    assert [r.text for r in decoded] == ["https://weixin.qq.com/g/NEWCODE"]
    assert (await client.get(qr_path(old["qr_url"]))).status in (404, 410)
    metrics = await (await client.get("/metrics")).text()
    assert 'huoma_catalogue_reloads_total{result="patch"} 1.0' in metrics
    # "This group is full": customers get the next group.
    assert (await client.post("/admin/api/link/groups/G1/full", headers=s1)).status == 200

    async def next_group() -> bool:
        return (await scan(client))["group"]["id"] == "G2"

    await eventually(next_group)


async def test_the_printable_qr_opens_the_store_page(pool: asyncpg.Pool, make_client: Any) -> None:
    await seeded(pool)
    client = await make_client()
    response = await client.get("/admin/api/store-links/S2/qr.png", headers=AUTH)
    assert response.status == 200 and response.content_type == "image/png"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(await response.read())))
    s2 = token_of(code.text)
    assert (await (await client.get("/admin/api/link/store", headers=s2)).json())["name"] == (
        "Store S2"
    )
    page = await client.get("/store/")
    assert page.status == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]


def two_codes() -> bytes:
    a = qrcode.make("https://weixin.qq.com/g/A").get_image().convert("RGB")
    b = qrcode.make("https://weixin.qq.com/g/B").get_image().convert("RGB")
    canvas = Image.new("RGB", (a.width + b.width + 40, max(a.height, b.height)), "white")
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width + 40, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()


def blank(size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), "white").save(buf, format="PNG")
    return buf.getvalue()


async def test_pictures_are_bounded_and_must_hold_exactly_one_code(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seeded(pool)
    client = await make_client(
        store_link_picture_max_pixels=250_000, store_link_picture_max_bytes=64 * 1024
    )
    s1 = token_of((await links(client, "S1"))["S1"])
    url = "/admin/api/link/groups/G1/code"
    for data, status, code in [
        (blank(100), 422, "no_code"),
        (two_codes(), 422, "several_codes"),
        (blank(600), 413, "picture_too_large"),  # 360,000 pixels: refused before decoding
        (b"\x89PNG" + b"\0" * (64 * 1024 + 1), 413, "payload_too_large"),
    ]:
        response = await client.post(url, data=data, headers=s1)
        assert response.status == status, await response.text()
        assert (await response.json())["error"]["code"] == code
    # Nothing changed.
    assert await pool.fetchval("SELECT qr_version FROM groups WHERE group_id = 'G1'") == 1
