"""The `huoma` command, run as a real process against the test database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from geo.distance import haversine_m
from router.cli import demo
from router.ops import exports
from router.ops.uploads import validate_groups, validate_stores
from router.settings import Settings
from tests.conftest import seed, store_row
from tests.fake_wecom import CORP_ID, SECRET, FakeWeCom

HUOMA = [sys.executable, "-m", "router.cli"]


def run(
    args: list[str], settings: Settings | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUOMA_")}
    if settings is not None:
        environ["HUOMA_DATABASE_URL"] = str(settings.database_url)
        environ["HUOMA_SECRET"] = settings.secret
        environ["HUOMA_DATA_DIR"] = str(settings.data_dir)
    environ.update(env)
    return subprocess.run(
        [*HUOMA, *args], capture_output=True, text=True, env=environ, timeout=60, check=False
    )


def test_help_documents_every_command() -> None:
    out = run(["--help"])
    assert out.returncode == 0
    for command in ("serve", "demo", "import", "template", "migrate", "settings", "wecom"):
        assert command in out.stdout
    for command in ("serve", "demo", "import", "template"):
        sub = run([command, "--help"])
        assert sub.returncode == 0, sub.stderr


def test_settings_lists_every_variable_with_its_default() -> None:
    out = run(["settings"])
    assert out.returncode == 0
    assert "HUOMA_MAX_DISTANCE_M\n    default: 5000.0" in out.stdout
    names = [line for line in out.stdout.splitlines() if line.startswith("HUOMA_")]
    assert len(names) == len(Settings.__dataclass_fields__)


def test_a_bad_setting_stops_the_command_with_its_name() -> None:
    out = run(["migrate"], HUOMA_PORT="http")
    assert out.returncode == 2
    assert "HUOMA_PORT='http'" in out.stderr


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_bad_worker_counts_stop_before_anything_starts(command: str, tmp_path: Path) -> None:
    out = run([command, "--workers", "0"], HUOMA_DATA_DIR=str(tmp_path))
    assert (out.returncode, out.stderr.strip()) == (2, "huoma: --workers must be at least 1")
    out = run([command, "--workers", "2", "--port", "0"], HUOMA_DATA_DIR=str(tmp_path))
    assert (out.returncode, out.stderr.strip()) == (2, "huoma: --workers needs a fixed port, not 0")
    assert not (tmp_path / "pg").exists()  # no database was started for a command that cannot run


@pytest.mark.db
async def test_import_reports_every_bad_row_and_exits_1(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "stores.csv"
    bad.write_text(
        "store_id,name,city,address,lat,lng,coord\nS1,,上海,x,31,121,gcj02\nS2,b,上海,x,31,999,gcj02\n",
        encoding="utf-8",
    )
    out = run(["import", "stores", str(bad)], settings)
    assert out.returncode == 1
    assert "第2行 name：必填，不能为空 / row 2 name: is required" in out.stderr
    assert "row 3 lng '999': " in out.stderr
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


@pytest.mark.db
async def test_import_groups_repeated_problems_in_the_language_asked(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    rows = "".join(f"S{n},店,上海,x,31,121,火星\r\n" for n in range(50))
    bad = tmp_path / "门店.csv"
    bad.write_text("门店清单\r\n门店编号,门店名称,城市,地址,纬度,经度,坐标系\r\n" + rows)
    zh = run(["import", "stores", str(bad), "--lang", "zh"], settings)
    assert zh.returncode == 1
    lines = zh.stderr.splitlines()
    assert lines[0].startswith("import rejected: 50 处错误（1 类）")
    assert lines[1:] == [
        # The column as the file wrote it (坐标系), not the field's name (coord).
        "  第3-52行 坐标系「火星」：坐标来源「火星」无法识别，请填：高德、腾讯、百度、GPS（WGS-84、谷歌地球）、GCJ-02（火星坐标）、BD-09"
    ]
    en = run(["import", "stores", str(bad), "--lang", "en"], settings)
    assert en.stderr.splitlines()[1].startswith("  rows 3-52 坐标系 '火星': ")
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


@pytest.mark.parametrize(("lang", "first"), [("zh", "门店编号"), ("en", "Store Number")])
def test_template_writes_the_same_file_the_api_gives(tmp_path: Path, lang: str, first: str) -> None:
    target = tmp_path / f"t-{lang}.csv"
    out = run(["template", "stores", "--format", "csv", "--lang", lang, "-o", str(target)])
    assert out.returncode == 0, out.stderr
    assert target.read_bytes() == exports.template("stores", "csv", lang)
    assert target.read_text("utf-8-sig").startswith(first)
    xlsx = run(["template", "groups", "-o", str(tmp_path / "g.xlsx")])
    assert xlsx.returncode == 0
    assert (tmp_path / "g.xlsx").read_bytes()[:2] == b"PK"


@pytest.mark.db
async def test_import_writes_a_good_file_and_prints_a_summary(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "stores.csv"
    good.write_bytes(
        "store_id,name,city,address,lat,lng,coord\r\nS1,静安店,上海,x,31.22,121.44,bd09\r\n".encode(
            "gb18030"
        )
    )
    dry = run(["import", "stores", str(good), "--dry-run"], settings)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] is True
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0
    out = run(["import", "stores", str(good)], settings)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["inserted"] == 1
    assert await pool.fetchval("SELECT source_coord FROM stores") == "bd09"


@pytest.mark.db
async def test_import_names_the_encoding_it_read_and_takes_one_named(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    big5 = tmp_path / "香港.csv"
    big5.write_bytes(
        "store_id,name,city,address,lat,lng,coord\n"
        "HK001,銅鑼灣店,香港,銅鑼灣軒尼詩道500號,22.28,114.183,wgs84\n"
        "HK002,旺角店,香港,旺角彌敦道688號,22.3193,114.1694,wgs84\n".encode("big5")
    )
    dry = run(["import", "stores", str(big5), "--dry-run"], settings)
    assert dry.returncode == 0, dry.stderr
    summary = json.loads(dry.stdout)
    assert (summary["format"], summary["encoding"]) == ("csv", "big5")
    assert [r["values"]["name"] for r in summary["preview"]["rows"]] == ["銅鑼灣店", "旺角店"]
    wrong = run(["import", "stores", str(big5), "--encoding", "utf-8", "--dry-run"], settings)
    assert wrong.returncode == 1
    assert "file: 文件不是 UTF-8 编码：" in wrong.stderr
    assert "the file is not utf-8 text: byte 0x" in wrong.stderr
    bad = run(["import", "stores", str(big5), "--encoding", "latin-1"], settings)
    assert bad.returncode == 2 and "--encoding" in bad.stderr
    out = run(["import", "stores", str(big5), "--encoding", "big5"], settings)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["encoding"] == "big5"
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = 'HK001'") == "銅鑼灣店"


def test_import_of_a_missing_file_says_so() -> None:
    out = run(
        ["import", "stores", "/nonexistent/stores.csv"],
        HUOMA_DATABASE_URL="postgresql://127.0.0.1:1/x",
    )
    assert out.returncode == 2
    assert "cannot read /nonexistent/stores.csv" in out.stderr


def test_the_demo_brand_is_clustered_in_real_cities_and_passes_validation() -> None:
    stores, groups = demo.generate(3000)
    assert len(stores.rows) == 3000
    valid, errors, _ = validate_stores(stores)
    assert errors == [] and len(valid) == 3000
    valid_groups, errors, _ = validate_groups(
        groups, __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
    )
    assert errors == []
    per_store = {}
    for g in valid_groups:
        per_store[g.store_id] = per_store.get(g.store_id, 0) + 1
    assert set(per_store.values()) <= {2, 3} and len(per_store) == 3000
    centres = {name: (lat, lng) for name, lat, lng, _ in demo.CITIES}
    for s in valid:
        assert haversine_m(s.lat, s.lng, *centres[s.city]) < 13_000
    # Malls: many stores have a neighbour within 100 m.
    by_city: dict[str, list[tuple[float, float]]] = {}
    for s in valid:
        by_city.setdefault(s.city, []).append((s.lat, s.lng))
    close = sum(
        1
        for pts in by_city.values()
        for i, p in enumerate(pts)
        if any(haversine_m(*p, *q) < 100 for j, q in enumerate(pts) if j != i)
    )
    assert close > 1000
    assert demo.generate(50)[0].rows == demo.generate(50)[0].rows  # deterministic


@pytest.mark.db
async def test_wecom_sync_reconciles_every_store_and_says_which_failed(
    pool: asyncpg.Pool, settings: Settings, aiohttp_server: Any
) -> None:
    fake = FakeWeCom()
    server = await aiohttp_server(fake.app())
    await seed(pool, [store_row("S1"), store_row("S2")])
    chat = fake.new_chat()
    # Given their chats (as by the admin API), not synced yet; S2's chat is unknown to WeCom.
    await pool.execute("INSERT INTO wecom_stores (store_id) VALUES ('S1'), ('S2')")
    await pool.execute(
        "INSERT INTO wecom_chats (chat_id, store_id) VALUES ($1, 'S1'), ('wrGONE', 'S2')", chat
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUOMA_")}
    environ.update(
        HUOMA_DATABASE_URL=str(settings.database_url),
        HUOMA_SECRET=settings.secret,
        HUOMA_DATA_DIR=str(settings.data_dir),
        HUOMA_WECOM_CORP_ID=CORP_ID,
        HUOMA_WECOM_SECRET=SECRET,
        HUOMA_WECOM_CALLBACK_TOKEN="callback-token-of-the-app",
        HUOMA_WECOM_AES_KEY="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        HUOMA_WECOM_API_BASE=str(server.make_url("/cgi-bin")),
        HUOMA_WECOM_RETRIES="0",
    )
    # Asynchronously: the fake WeCom answers from this very event loop.
    process = await asyncio.create_subprocess_exec(
        *HUOMA, "wecom", "sync", env=environ, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert process.returncode == 1, text + err.decode()
    assert f"S1: created (chats {chat})" in text
    assert "S2: " in text and "parameter is not valid" in text
    assert text.strip().endswith("2 store(s) with WeCom, 1 failed")
    assert len(fake.join_ways) == 1
    assert SECRET not in text + err.decode()
    off = run(["wecom", "sync"], settings)
    assert (off.returncode, "not configured" in off.stderr) == (2, True)
