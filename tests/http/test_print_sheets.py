"""Codes ready to print: an entry code's and a store's PDF sheet (A6 table tent, A5 poster) with
the brand, the call to action, the store's name and a short code; all stores' sheets as a
background job downloaded when done; a warning when the public base URL is loopback or private.
Each PDF is rendered back to pixels (pdftoppm) and its code decoded (zxing-cpp). One printed
sheet is kept in test-artifacts/print/."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import zxingcpp
from PIL import Image

from router.keeper.print_jobs import base_url_warning
from router.keeper.sheets import MM, SheetError, find_font
from tests.conftest import ADMIN_TOKEN, ARTIFACTS_ROOT, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ARTIFACTS = ARTIFACTS_ROOT / "print"


def pages_of(pdf: bytes, tmp: Path, dpi: int = 150) -> list[Image.Image]:
    """The PDF's pages as pictures, as a printer would put them on paper."""
    source = tmp / "sheet.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(source), str(tmp / "page")], check=True)
    return [Image.open(p) for p in sorted(tmp.glob("page*.png"))]


def pdf_text(pdf: bytes, tmp: Path) -> str:
    source = tmp / "text.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


def page_size_mm(pdf: bytes, tmp: Path) -> tuple[int, int]:
    source = tmp / "info.pdf"
    source.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(source)], check=True, capture_output=True, text=True)
    line = next(x for x in info.stdout.splitlines() if x.startswith("Page size:"))
    w, h = (float(v) for v in line.split(":")[1].split("pts")[0].split(" x "))
    return round(w / MM), round(h / MM)


def decoded(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


@pytest.fixture
async def shop(pool: asyncpg.Pool) -> None:
    await seed(
        pool,
        [
            store_row("S1", name="人民广场店"),
            store_row("S2", name="来福士店"),
            store_row("S3", name="国贸店", city="北京"),
        ],
    )
    await pool.execute(
        "INSERT INTO entries (code, kind, store_id, label) VALUES "
        "('S1-DESK', 'store', 'S1', '收银台'), ('POSTER-9', 'poster', NULL, '门口海报')"
    )


@pytest.mark.parametrize(("size", "mm"), [("a6", (105, 148)), ("a5", (148, 210))])
async def test_an_entry_codes_sheet_has_the_brand_the_call_and_a_code_that_scans(
    shop: None, make_client: Any, tmp_path: Path, size: str, mm: tuple[int, int]
) -> None:
    client = await make_client(brand_name="示例咖啡", brand_offer="进群领3张8折券")
    response = await client.get(f"/admin/api/entries/S1-DESK/sheet.pdf?size={size}", headers=AUTH)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "application/pdf"
    assert f"S1-DESK-{size}.pdf" in response.headers["Content-Disposition"]
    pdf = await response.read()
    assert page_size_mm(pdf, tmp_path) == mm
    text = pdf_text(pdf, tmp_path)
    for words in ("示例咖啡", "进群领3张8折券", "微信扫码", "人民广场店", "S1-DESK"):
        assert words in text, (words, text)
    (page,) = pages_of(pdf, tmp_path)
    assert decoded(page) == ["http://huoma.test/s/S1-DESK"]
    if size == "a6":
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "entry-S1-DESK-a6.pdf").write_bytes(pdf)
        page.save(ARTIFACTS / "entry-S1-DESK-a6.png")


async def test_the_code_keeps_its_quiet_zone_and_print_resolution(
    shop: None, make_client: Any, tmp_path: Path
) -> None:
    client = await make_client()
    pdf = await (await client.get("/admin/api/entries/POSTER-9/sheet.pdf", headers=AUTH)).read()
    (page,) = pages_of(pdf, tmp_path, dpi=300)
    found = zxingcpp.read_barcodes(page)
    assert [r.text for r in found] == ["http://huoma.test/s/POSTER-9"]
    pos = found[0].position
    left = min(pos.top_left.x, pos.bottom_left.x)
    right = max(pos.top_right.x, pos.bottom_right.x)
    top = min(pos.top_left.y, pos.top_right.y)
    side = right - left
    assert side > 300 * 50 / 25.4 * 0.75  # the code at least ~40 mm wide at 300 dpi
    # The quiet zone: 4 modules of white on every side of the symbol.
    module = side / 29  # version 3 at most for a URL this long (29 modules)
    grey = page.convert("L")
    margin = int(module * 3.5)
    for box in (
        (left - margin, top, left - 2, top + side),  # left
        (right + 2, top, right + margin, top + side),  # right
        (left, top - margin, right, top - 2),  # above
    ):
        assert grey.crop(box).getextrema()[0] > 200, box  # nothing dark in it


async def test_a_stores_sheet_uses_its_pinned_code_and_names_the_store(
    shop: None, make_client: Any, tmp_path: Path
) -> None:
    client = await make_client()
    response = await client.get("/admin/api/stores/S1/sheet.pdf?size=a5", headers=AUTH)
    assert response.status == 200
    pdf = await response.read()
    assert "人民广场店" in pdf_text(pdf, tmp_path)
    assert decoded(pages_of(pdf, tmp_path)[0]) == ["http://huoma.test/s/S1-DESK"]
    response = await client.get("/admin/api/stores/S2/sheet.pdf", headers=AUTH)
    assert (response.status, (await response.json())["error"]["code"]) == (404, "no_store_entry")
    response = await client.get("/admin/api/stores/NOPE/sheet.pdf", headers=AUTH)
    assert (response.status, (await response.json())["error"]["code"]) == (404, "store_not_found")
    response = await client.get("/admin/api/entries/S1-DESK/sheet.pdf?size=a4", headers=AUTH)
    assert (response.status, (await response.json())["error"]["code"]) == (400, "bad_size")
    response = await client.get("/admin/api/entries/S1-DESK/sheet.pdf")
    assert response.status == 401


async def test_all_stores_sheets_are_made_in_the_background_and_downloaded_when_done(
    shop: None, pool: asyncpg.Pool, make_client: Any, tmp_path: Path
) -> None:
    client = await make_client(print_poll_s=0.1)
    response = await client.post("/admin/api/print-jobs", json={"size": "a6"}, headers=AUTH)
    assert response.status == 202
    job = await response.json()
    assert job["status"] in ("pending", "running") and job["download"] is None
    early = await client.get(f"/admin/api/print-jobs/{job['id']}/sheets.pdf", headers=AUTH)
    if job["status"] != "done":
        assert early.status in (200, 409)
    for _ in range(600):
        state = await (await client.get(f"/admin/api/print-jobs/{job['id']}", headers=AUTH)).json()
        if state["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "done", state
    assert state["pages"] == 3
    response = await client.get(state["download"], headers=AUTH)
    assert response.status == 200
    pdf = await response.read()
    pages = pages_of(pdf, tmp_path)
    codes = [decoded(p)[0] for p in pages]
    assert codes[0] == "http://huoma.test/s/S1-DESK"  # S1 keeps its code
    # S2 and S3 had none: each got a pinned store code, which is what their page scans to.
    made = dict(await pool.fetch("SELECT store_id, code FROM entries WHERE kind = 'store'"))
    assert set(made) == {"S1", "S2", "S3"}
    assert codes == [f"http://huoma.test/s/{made[s]}" for s in ("S1", "S2", "S3")]
    text = pdf_text(pdf, tmp_path)
    assert all(name in text for name in ("人民广场店", "来福士店", "国贸店"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "all-stores-a6.pdf").write_bytes(pdf)
    for bad, code, status in [("/print-jobs/999999", "print_job_not_found", 404)]:
        response = await client.get("/admin/api" + bad, headers=AUTH)
        assert (response.status, (await response.json())["error"]["code"]) == (status, code)


async def test_a_job_not_done_is_not_downloadable(
    shop: None, pool: asyncpg.Pool, make_client: Any
) -> None:
    job = await pool.fetchval("INSERT INTO print_jobs (size) VALUES ('a5') RETURNING id")
    client = await make_client(print_poll_s=3600)  # nobody picks it up in this test
    response = await client.get(f"/admin/api/print-jobs/{job}/sheets.pdf", headers=AUTH)
    assert (response.status, (await response.json())["error"]["code"]) == (
        409,
        "print_job_not_ready",
    )


@pytest.mark.parametrize(
    ("base", "warned"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://192.168.1.20", True),
        ("http://10.0.0.5/huoma", True),
        ("http://[::1]:8080", True),
        ("http://huoma.local", True),
        ("https://huoma.example.com", False),
        ("https://8.8.8.8", False),
    ],
)
def test_a_loopback_or_private_base_url_is_warned_about(base: str, warned: bool) -> None:
    assert bool(base_url_warning(base)) is warned


async def test_the_warning_reaches_the_sheet_and_the_job(
    shop: None, make_client: Any, settings: Any
) -> None:
    client = await make_client(public_base_url="http://192.168.1.20:8080")
    response = await client.get("/admin/api/entries/POSTER-9/sheet.pdf", headers=AUTH)
    assert "private address" in response.headers["X-Huoma-Warning"]
    job = await (await client.post("/admin/api/print-jobs", json={}, headers=AUTH)).json()
    assert "HUOMA_PUBLIC_BASE_URL" in job["warning"]
    public = await make_client(public_base_url="https://huoma.example.com")
    response = await public.get("/admin/api/entries/POSTER-9/sheet.pdf", headers=AUTH)
    assert "X-Huoma-Warning" not in response.headers


def test_without_a_cjk_font_the_sheet_says_so(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match="fonts-wqy-zenhei"):
        find_font(str(tmp_path / "none.ttf"))


def test_the_logo_goes_on_the_sheet(tmp_path: Path) -> None:
    from router.brand import brand_from_settings
    from router.keeper.sheets import Sheet, SheetSize, render_sheets
    from router.settings import Settings

    logo = tmp_path / "logo.png"
    Image.new("RGB", (400, 400), "#00ff00").save(logo)
    brand = brand_from_settings(Settings(brand_logo_path=str(logo), brand_theme_colour="#000000"))
    pdf = render_sheets(brand, [Sheet("http://x.test/s/A", "A")], SheetSize.A6, find_font())
    (page,) = pages_of(pdf, tmp_path)
    band = page.convert("RGB").crop((0, 0, page.width, int(page.height * 0.14)))
    assert (0, 255, 0) in {c for _, c in band.getcolors(1_000_000)}  # the logo's green
    assert io.BytesIO(pdf).getvalue().startswith(b"%PDF")
