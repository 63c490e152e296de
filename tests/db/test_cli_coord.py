"""`huoma import stores FILE --coord SOURCE`: a file without a coord column names its source."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from router.settings import Settings
from tests.db.test_cli import run

pytestmark = pytest.mark.db

NO_COORD = "store_id,name,city,address,lat,lng\nhk-1,时代广场店,香港,x,22.2804,114.1867\n"


async def test_import_takes_the_file_s_coordinate_source_as_an_option(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    f = tmp_path / "stores.csv"
    f.write_text(NO_COORD, encoding="utf-8")
    refused = run(["import", "stores", str(f)], settings)
    assert refused.returncode == 1
    assert "文件没有坐标来源（coord）列" in refused.stderr
    unknown = run(["import", "stores", str(f), "--coord", "北斗"], settings)
    assert unknown.returncode == 2
    assert "坐标来源「北斗」无法识别" in unknown.stderr
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0
    out = run(["import", "stores", str(f), "--coord", "高德"], settings)
    assert out.returncode == 0, out.stderr
    row = await pool.fetchrow("SELECT source_coord, coord_provider FROM stores")
    assert (row["source_coord"], row["coord_provider"]) == ("gcj02", "amap")
