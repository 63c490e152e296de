"""Admin uploads: XLSX (what ops use), CSV and JSON through one path, dry runs, hostile files."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import openpyxl
import pytest

from tests.conftest import ADMIN_TOKEN, seed, store_row

pytestmark = pytest.mark.db

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
STORE_HEADER = ["store_id", "name", "city", "address", "lat", "lng", "coord"]


def workbook(rows: list[list[Any]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def post(client: Any, kind: str, data: bytes, filename: str, **params: str) -> Any:
    return await client.post(
        f"/admin/api/uploads/{kind}",
        data=data,
        params={"filename": filename, **params},
        headers=AUTH,
    )


async def test_an_xlsx_with_errors_in_several_rows_reports_them_all_and_writes_nothing(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    data = workbook(
        [
            STORE_HEADER,
            ["S1", "人民广场店", "上海", "人民大道 1 号", 31.2304, 121.4737, "gcj02"],
            ["S2", None, "上海", "x", 31.2, 121.4, "gcj02"],
            ["S3", "坏", "上海", "x", 95, 121.4, "gcj02"],
            [None, None, None, None, None, None, None],
            ["S4", "坏系统", "上海", "x", 31.2, 121.4, "utm"],
        ]
    )
    response = await post(client, "stores", data, "stores.xlsx")
    assert response.status == 422
    body = await response.json()
    assert body["error"]["code"] == "import_rejected"
    assert [(e["row"], e["column"]) for e in body["error"]["errors"]] == [
        (3, "name"),
        (4, "lat"),
        (6, "coord"),
    ]
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


async def test_a_good_xlsx_is_imported_with_excel_number_and_date_cells(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    await post(
        client,
        "stores",
        workbook([STORE_HEADER, [1001, "店", "上海", "x", 31.2, 121.4, "GCJ-02"]]),
        "s.xlsx",
    )
    data = workbook(
        [
            ["group_id", "store_id", "name", "qr_payload", "capacity", "expires_at"],
            ["G1", 1001, "群", "https://weixin.qq.com/g/X", 200.0, datetime(2030, 1, 2, 18, 30)],
        ]
    )
    dry = await post(client, "groups", data, "groups.xlsx", dry_run="1")
    assert (dry.status, (await dry.json())["dry_run"], (await dry.json())["inserted"]) == (
        200,
        True,
        1,
    )
    assert await pool.fetchval("SELECT count(*) FROM groups") == 0
    response = await post(client, "groups", data, "groups.xlsx")
    assert response.status == 200, await response.text()
    row = await pool.fetchrow("SELECT store_id, capacity, expires_at FROM groups")
    assert (row["store_id"], row["capacity"]) == ("1001", 200)
    assert row["expires_at"].isoformat() == "2030-01-02T10:30:00+00:00"


async def test_csv_in_gb18030_and_json_go_through_the_same_checks(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    csv = (
        "store_id,name,city,address,lat,lng,coord\n"
        "S1,静安寺店,上海,南京西路,31.22,121.44,gcj02\n"
        "S2,,上海,x,abc,121.4,gcj02\n"
        "S3,徐家汇店,上海,x,31.19,121.43,北斗\n"
        "S1,重复,上海,x,31.2,121.4,gcj02\n"
    )
    response = await post(client, "stores", csv.encode("gb18030"), "stores.csv")
    assert response.status == 422
    assert [(e["row"], e["column"]) for e in (await response.json())["error"]["errors"]] == [
        (3, "name"),
        (3, "lat"),
        (4, "coord"),
        (5, "store_id"),
    ]
    rows = [
        {
            "store_id": "S1",
            "name": "a",
            "city": "上海",
            "address": "",
            "lat": 31.2,
            "lng": 121.4,
            "coord": "gcj02",
        },
        {
            "store_id": "S2",
            "name": "b",
            "city": "",
            "address": "",
            "lat": 31.2,
            "lng": 200,
            "coord": "gcj02",
        },
        {
            "store_id": "S3",
            "name": "c",
            "city": "上海",
            "address": "",
            "lat": 0,
            "lng": 0,
            "coord": "wgs84",
        },
    ]
    response = await post(client, "stores", json.dumps(rows).encode(), "stores.json")
    assert response.status == 422
    assert [(e["row"], e["column"]) for e in (await response.json())["error"]["errors"]] == [
        (2, "city"),
        (2, "lng"),
        (3, "lat"),
    ]
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


async def test_a_browser_form_upload_works_too(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client()
    form = aiohttp.FormData()
    form.add_field(
        "file",
        workbook([STORE_HEADER, ["S1", "店", "上海", "x", 31.2, 121.4, "gcj02"]]),
        filename="门店.xlsx",
    )
    response = await client.post("/admin/api/uploads/stores", data=form, headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await response.json())["inserted"] == 1


async def test_a_zip_bomb_dressed_as_a_workbook_is_refused(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (5 * 1024 * 1024))
    response = await post(client, "stores", buf.getvalue(), "stores.xlsx")
    assert response.status == 422
    assert "refused" in (await response.json())["error"]["message"]


@pytest.mark.parametrize("data", [b"PK\x03\x04 not really a zip", b"PK\x03\x04" + b"\0" * 100])
async def test_a_broken_workbook_is_a_clear_error(
    pool: asyncpg.Pool, make_client: Any, data: bytes
) -> None:
    client = await make_client()
    response = await post(client, "stores", data, "stores.xlsx")
    assert response.status == 422
    assert "XLSX" in (await response.json())["error"]["message"]


async def test_an_empty_sheet_and_an_old_xls_are_clear_errors(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    assert (
        "empty"
        in (await (await post(client, "stores", workbook([]), "s.xlsx")).json())["error"]["message"]
    )
    assert (
        ".xlsx"
        in (await (await post(client, "stores", b"\xd0\xcf\x11\xe0", "s.xls")).json())["error"][
            "message"
        ]
    )


async def test_an_oversized_upload_is_refused(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client(import_max_bytes=1000)
    response = await post(client, "stores", b"x" * 2000, "s.csv")
    assert response.status in (413, 422)
    assert (await response.json())["error"]["code"] in ("payload_too_large", "import_rejected")


async def test_a_body_past_the_servers_own_bound_says_the_limit_ops_set(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    # An ops trial sent 21 MB and read only "Request Entity Too Large".
    client = await make_client(import_max_bytes=1000)
    for body in (b"x" * (1024**2 + 70_000), b"x" * 2000):  # aiohttp's bound, then Huoma's own
        response = await client.post(
            "/admin/api/uploads/stores",
            data=io.BytesIO(body),
            params={"filename": "s.csv"},
            headers=AUTH,
        )
        error = (await response.json())["error"]
        assert response.status in (413, 422) and error["code"] in (
            "payload_too_large",
            "import_rejected",
        )
        text = error["message"] if error["code"] == "payload_too_large" else str(error["errors"])
        assert "文件太大" in text and "HUOMA_IMPORT_MAX_BYTES" in text and "1000 bytes" in text
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


@pytest.mark.parametrize(
    ("headers", "status"), [({}, 401), ({"Authorization": "Bearer nope-nope-nope-nope"}, 401)]
)
async def test_uploads_need_a_valid_token(
    pool: asyncpg.Pool, make_client: Any, headers: dict[str, str], status: int
) -> None:
    client = await make_client()
    response = await client.post("/admin/api/uploads/stores", data=b"x", headers=headers)
    assert response.status == status
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


async def test_an_unknown_upload_kind_is_404(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client()
    response = await post(client, "planets", b"x", "p.csv")
    assert (response.status, (await response.json())["error"]["code"]) == (404, "unknown_kind")


async def test_entry_codes_are_validated_and_pin_only_real_stores(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")])
    client = await make_client()
    bad = workbook(
        [
            ["code", "kind", "store_id", "label"],
            ["counter-1", "counter", None, "收银台"],
            ["bad code!", "poster", None, ""],
            ["s1", "store", None, ""],
            ["p1", "poster", "S1", ""],
            ["x", "flyer", None, ""],
        ]
    )
    response = await post(client, "entries", bad, "entries.xlsx")
    assert [(e["row"], e["column"]) for e in (await response.json())["error"]["errors"]] == [
        (3, "code"),
        (4, "store_id"),
        (5, "store_id"),
        (6, "kind"),
    ]
    good = workbook(
        [
            ["code", "kind", "store_id", "label"],
            ["counter-1", "counter", None, "收银台"],
            ["s1-counter", "store", "S1", "S1 收银台"],
        ]
    )
    assert (await post(client, "entries", good, "entries.xlsx")).status == 200
    rows = await pool.fetch("SELECT code, kind, store_id FROM entries ORDER BY code")
    assert [(r["code"], r["kind"], r["store_id"]) for r in rows] == [
        ("counter-1", "counter", None),
        ("s1-counter", "store", "S1"),
    ]
    unknown = workbook([["code", "kind", "store_id"], ["s9", "store", "S9"]])
    response = await post(client, "entries", unknown, "entries.xlsx")
    assert [(e["row"], e["value"]) for e in (await response.json())["error"]["errors"]] == [
        (2, "S9")
    ]


async def test_an_unreadable_multipart_form_is_a_clear_400(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    """Found by schemathesis: both were 500s."""
    client = await make_client()
    for content_type, body in [
        ("multipart/form-data", b"\x89PNG\r\n"),  # no boundary
        ("multipart/form-data; boundary=b1", b"--b1\r\n2559662--b1--\r\n"),  # broken part headers
    ]:
        response = await client.post(
            "/admin/api/uploads/stores",
            data=body,
            headers={**AUTH, "Content-Type": content_type},
        )
        assert response.status == 400, await response.text()
        assert (await response.json())["error"]["code"] == "bad_form"


async def test_an_uploads_name_never_reaches_the_filesystem(
    pool: asyncpg.Pool, make_client: Any, settings: Any
) -> None:
    """Uploads are parsed in memory and written to PostgreSQL only; their names pick a format."""
    client = await make_client()
    before = _files(Path(settings.data_dir))
    for name in ["../../../tmp/huoma-owned.xlsx", "/etc/cron.d/x.xlsx", "..\\..\\x.xlsx"]:
        form = aiohttp.FormData()
        form.add_field(
            "file",
            workbook([STORE_HEADER, ["S1", "店", "上海", "x", 31.2, 121.4, "gcj02"]]),
            filename=name,
        )
        response = await client.post("/admin/api/uploads/stores", data=form, headers=AUTH)
        assert response.status == 200, await response.text()
    assert not _files(Path("/tmp"), "huoma-owned*") and not _files(Path("/etc/cron.d"), "x.xlsx")
    assert not [p for p in _files(Path(settings.data_dir)) - before if "xlsx" in p.name]


def _files(root: Path, pattern: str = "**/*") -> set[Path]:
    return set(root.glob(pattern)) if root.exists() else set()


# ---- encodings: named in the answer, shown as read, chosen by ops when the guess is wrong -------

HONG_KONG_ROWS = [
    ["HK001", "銅鑼灣店", "香港", "銅鑼灣軒尼詩道500號", "22.2800", "114.1830", "wgs84"],
    ["HK002", "旺角店", "香港", "旺角彌敦道688號", "22.3193", "114.1694", "wgs84"],
    ["HK003", "尖沙咀店", "香港", "尖沙咀廣東道30號", "22.2976", "114.1722", "wgs84"],
]
SHANGHAI_ROWS = [
    ["SH001", "人民广场店", "上海", "黄浦区人民大道120号", "31.2304", "121.4737", "gcj02"],
    ["SH002", "徐家汇店", "上海", "徐汇区漕溪北路1111号", "31.1955", "121.4365", "gcj02"],
]


def csv_lines(rows: list[list[str]]) -> str:
    return "".join(",".join(r) + "\r\n" for r in [STORE_HEADER, *rows])


@pytest.mark.parametrize(
    ("rows", "codec", "encoding"),
    [
        (HONG_KONG_ROWS, "big5", "big5"),
        (SHANGHAI_ROWS, "gb18030", "gb18030"),
        (HONG_KONG_ROWS, "utf-16", "utf-16"),
        (SHANGHAI_ROWS, "utf-8-sig", "utf-8"),
    ],
)
async def test_a_dry_run_names_the_encoding_and_shows_the_rows_as_read(
    pool: asyncpg.Pool, make_client: Any, rows: list[list[str]], codec: str, encoding: str
) -> None:
    client = await make_client()
    data = csv_lines(rows).encode(codec)
    response = await post(client, "stores", data, "门店.csv", dry_run="1")
    assert response.status == 200, await response.text()
    summary = await response.json()
    assert (summary["format"], summary["encoding"]) == ("csv", encoding)
    assert summary["preview"]["columns"] == STORE_HEADER
    assert summary["preview"]["rows"] == [
        {"row": n, "values": dict(zip(STORE_HEADER, r, strict=True))}
        for n, r in enumerate(rows, start=2)
    ]
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0
    response = await post(client, "stores", data, "门店.csv")
    assert response.status == 200
    names = [r["name"] for r in await pool.fetch("SELECT name FROM stores ORDER BY store_id")]
    assert names == [r[1] for r in rows]


async def test_the_preview_is_the_first_five_rows_and_a_workbook_has_no_encoding(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    rows = [[f"S{i}", f"店{i}", "上海", "路", "31.2", "121.4", "gcj02"] for i in range(8)]
    summary = await (
        await post(client, "stores", workbook([STORE_HEADER, *rows]), "s.xlsx", dry_run="1")
    ).json()
    assert (summary["format"], summary["encoding"]) == ("xlsx", None)
    assert [r["row"] for r in summary["preview"]["rows"]] == [2, 3, 4, 5, 6]
    assert summary["preview"]["rows"][0]["values"]["name"] == "店0"


async def test_ops_can_name_the_encoding_and_a_wrong_one_is_a_clear_422(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    data = csv_lines(HONG_KONG_ROWS).encode("big5")
    named = await (await post(client, "stores", data, "s.csv", dry_run="1", encoding="big5")).json()
    assert named["encoding"] == "big5"
    assert named["preview"]["rows"][0]["values"]["name"] == "銅鑼灣店"
    # Named wrongly but decodable (Big5 as GBK has no bad byte): refused, with what fits, never
    # imported as garbage (an ops trial imported 簧苧芖┍ that way).
    for wrong in ("GBK", "utf-16"):
        response = await post(client, "stores", data, "s.csv", encoding=wrong)
        assert response.status == 422, wrong
        error = (await response.json())["error"]
        assert error["code"] == "wrong_encoding"
        assert "automatic detection reads it as big5" in error["errors"][0]["message"]
    response = await post(client, "stores", data, "s.csv", dry_run="1", encoding="utf-8")
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "wrong_encoding"
    message = error["errors"][0]["message"]
    assert (
        message.startswith("文件不是 UTF-8 编码：")
        and "the file is not utf-8 text: byte 0x" in message
    )
    response = await post(client, "stores", data, "s.csv", encoding="latin-1")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_encoding"
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


async def test_text_in_no_known_encoding_is_refused_with_a_stable_code(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    data = "store_id,name,address\nS1,渋谷店,東京都渋谷区道玄坂二丁目\n".encode("shift_jis")
    response = await post(client, "stores", data, "s.csv", dry_run="1")
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "unknown_encoding"
    assert "neither UTF-8 nor GB18030, Big5 or UTF-16" in error["errors"][0]["message"]
