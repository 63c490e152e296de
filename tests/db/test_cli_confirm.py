"""`huoma import` and the confirmation protocol: a file with warnings is refused (exit 3) until
it is accepted with its dry run's token (--accept) or --yes."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from router.settings import Settings
from tests.db.test_cli import run

FILE = (
    "store_id,name,city,address,lng,lat,coord\r\n"
    "SH002,徐家汇店,上海,徐汇区漕溪北路1111号,121.4365,31.1955,gcj02\r\n"
    "ks-1,喀什店,喀什,x,39.4704,75.9897,gcj02\r\n"
)


async def test_import_with_warnings_needs_the_dry_runs_token_or_yes(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "stores.csv"
    path.write_text(FILE, encoding="utf-8")
    refused = run(["import", "stores", str(path)], settings)
    assert refused.returncode == 3
    assert "swapped_coordinates" in refused.stderr and "经纬度可能填反了" in refused.stderr
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0

    dry = run(["import", "stores", str(path), "--dry-run"], settings)
    assert dry.returncode == 0, dry.stderr
    token = json.loads(dry.stdout)["confirm_token"]
    wrong = run(["import", "stores", str(path), "--accept", token + "x"], settings)
    assert (wrong.returncode, "确认码" in wrong.stderr) == (3, True)
    done = run(["import", "stores", str(path), "--accept", token], settings)
    assert done.returncode == 0, done.stderr
    assert await pool.fetchval("SELECT count(*) FROM stores") == 2

    path.write_text(FILE.replace("喀什店", "喀什老店"), encoding="utf-8")
    yes = run(["import", "stores", str(path), "--yes"], settings)
    assert yes.returncode == 0, yes.stderr
    assert json.loads(yes.stdout)["warnings"][0]["code"] == "swapped_coordinates"
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = 'ks-1'") == "喀什老店"
