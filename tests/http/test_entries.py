"""Entry codes for ops: create (generated or chosen, pinned or not), list, print as PNG and SVG."""

from __future__ import annotations

import io
import re
from typing import Any

import asyncpg
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from tests.conftest import ADMIN_TOKEN, assert_needs_a_valid_token, eventually, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BASE = "https://hm.example.com"


def decode_png(data: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    assert len(found) == 1
    return str(found[0].text)


def decode_svg(data: bytes) -> str:
    """Rasterise the SVG's module squares (qrcode writes one rectangle per module) and decode."""
    text = data.decode()
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', text).group(1))  # type: ignore[union-attr]
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x1, y1, x2, y2 in re.findall(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H[\d.]+z", text):
        draw.rectangle(
            (float(x1) * scale, float(y1) * scale, float(x2) * scale - 1, float(y2) * scale - 1),
            fill=0,
        )
    assert 'fill="white"' in text  # the quiet zone prints white on any poster
    return decode_png(_png(image))


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


async def test_ops_create_list_and_print_entry_codes(pool: asyncpg.Pool, make_client: Any) -> None:
    await seed(pool, [store_row("S1", name="人民广场店")])
    client = await make_client(public_base_url=BASE)
    response = await client.post(
        "/admin/api/entries", json={"kind": "counter", "label": "所有门店收银台"}, headers=AUTH
    )
    assert response.status == 201
    counter = await response.json()
    assert re.fullmatch(r"[2-9a-hjkmnp-z]{8}", counter["code"])
    assert counter["url"] == f"{BASE}/s/{counter['code']}"
    assert (counter["kind"], counter["store_id"], counter["label"]) == (
        "counter",
        None,
        "所有门店收银台",
    )

    response = await client.post(
        "/admin/api/entries",
        json={"code": "S1-desk", "kind": "store", "store_id": "S1"},
        headers=AUTH,
    )
    assert response.status == 201
    pinned = await response.json()
    assert (pinned["code"], pinned["store_name"]) == ("S1-desk", "人民广场店")

    listed = await (await client.get("/admin/api/entries", headers=AUTH)).json()
    assert listed["total"] == 2
    assert {e["code"] for e in listed["entries"]} == {counter["code"], "S1-desk"}
    found = await (await client.get("/admin/api/entries?q=desk", headers=AUTH)).json()
    assert [e["code"] for e in found["entries"]] == ["S1-desk"]

    png = await client.get(pinned["qr_png"], headers=AUTH)
    assert png.status == 200 and png.content_type == "image/png"
    assert decode_png(await png.read()) == f"{BASE}/s/S1-desk"
    svg = await client.get(pinned["qr_svg"], headers=AUTH)
    assert svg.status == 200 and svg.content_type == "image/svg+xml"
    assert decode_svg(await svg.read()) == f"{BASE}/s/S1-desk"

    # The printed code works: once every worker has the new entry (within a moment), it routes
    # a customer without a location to the pinned store.
    async def routes_to_s1() -> bool:
        answer = await (await client.get("/api/v1/route?entry=S1-desk")).json()
        return answer["store"] is not None and answer["store"]["id"] == "S1"

    await eventually(routes_to_s1)
    assert (await client.get("/s/S1-desk")).status == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "store"}, 400, "bad_entry"),
        ({"kind": "store", "store_id": "S9"}, 400, "bad_entry"),
        ({"kind": "poster", "store_id": "S1"}, 400, "bad_entry"),
        ({"kind": "flyer"}, 400, "bad_entry"),
        ({"kind": "counter", "code": "有空格 的码"}, 400, "bad_entry"),
        ({"kind": 3}, 400, "bad_entry"),
        ({"kind": "counter", "code": "TAKEN"}, 409, "entry_exists"),
    ],
)
async def test_bad_entry_codes_are_refused_clearly(
    pool: asyncpg.Pool, make_client: Any, body: dict[str, Any], status: int, code: str
) -> None:
    await seed(pool, [store_row("S1")])
    await pool.execute("INSERT INTO entries (code, kind) VALUES ('TAKEN', 'poster')")
    client = await make_client()
    response = await client.post("/admin/api/entries", json=body, headers=AUTH)
    assert response.status == status
    error = (await response.json())["error"]
    assert error["code"] == code
    assert error["message"]
    assert await pool.fetchval("SELECT count(*) FROM entries") == 1


async def test_entry_qr_codes_exist_only_for_real_entries(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await pool.execute("INSERT INTO entries (code, kind) VALUES ('P1', 'poster')")
    client = await make_client()
    response = await client.get("/admin/api/entries/NOPE/qr.png", headers=AUTH)
    assert (response.status, (await response.json())["error"]["code"]) == (404, "entry_not_found")
    response = await client.get("/admin/api/entries/P1/qr.gif", headers=AUTH)
    assert (response.status, (await response.json())["error"]["code"]) == (404, "unknown_format")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/api/entries"),
        ("POST", "/admin/api/entries"),
        ("GET", "/admin/api/entries/P1/qr.png"),
        ("GET", "/admin/api/entries/P1/qr.svg"),
    ],
)
async def test_entry_endpoints_need_a_valid_token(
    pool: asyncpg.Pool, make_client: Any, method: str, path: str
) -> None:
    await assert_needs_a_valid_token(await make_client(), method, path)
