"""`huoma import group-pictures ZIP`, run as a real process: a ZIP with a bad entry writes
nothing and says why; a good one replaces and adds."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import asyncpg
import pytest

from router.ops.ocr import available
from router.settings import Settings
from tests.conftest import group_row, seed, store_row
from tests.db.test_cli import run
from tests.pictures import screenshot

pytestmark = pytest.mark.db


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


async def test_the_cli_imports_a_zip_of_pictures_all_or_nothing(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    await seed(pool, [store_row("S1"), store_row("S2")], [group_row("G1", "S1")])
    good = {
        "G1.png": screenshot("https://weixin.qq.com/g/CliG1"),
        "S2.jpg": screenshot("https://weixin.qq.com/g/CliS2", "JPEG"),
    }
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(zip_of({**good, "S1.png": screenshot("https://example.com/promo")}))
    out = run(["import", "group-pictures", str(bad_zip), "--no-ocr"], settings)
    assert out.returncode == 1, out.stderr
    assert "S1.png" in out.stderr and "网页链接" in out.stderr
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE qr_payload LIKE '%Cli%'") == 0

    good_zip = tmp_path / "good.zip"
    good_zip.write_bytes(zip_of(good))
    # With OCR when the extra is installed: its process is spawned from `python -m router.cli`
    # (which must not run the command a second time in it) and stopped with the command.
    dry = run(["import", "group-pictures", str(good_zip), "--dry-run"], settings)
    assert dry.returncode == 0, dry.stderr
    answer = json.loads(dry.stdout)
    assert answer["dry_run"] is True
    wanted = "read" if available() else "not_installed"
    assert {p["ocr"] for p in answer["pictures"]} == {wanted}
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE qr_payload LIKE '%Cli%'") == 0
    out = run(["import", "group-pictures", str(good_zip), "--no-ocr"], settings)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert (body["inserted"], body["updated"]) == (1, 1)
    assert await pool.fetchval("SELECT qr_payload FROM groups WHERE group_id = 'G1'") == (
        "https://weixin.qq.com/g/CliG1"
    )
    assert await pool.fetchval("SELECT count(*) FROM groups WHERE store_id = 'S2'") == 1
