"""Schemathesis against /openapi.yaml: every public and admin operation, with and without the admin
token, over real HTTP to `huoma serve`. No 5xx, no undocumented status or content type, and no
answer that breaks its schema. Counts land in test-artifacts/reliability/schemathesis-*.json.

The seed is fixed so that CI is repeatable; set HUOMA_FUZZ_SEED (and HUOMA_FUZZ_EXAMPLES) to look
further locally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import asyncpg
import pytest

from router.ops.uploads import import_file
from router.settings import Settings
from tests.conftest import ADMIN_TOKEN, ARTIFACTS_ROOT, group_row, seed, store_row
from tests.serving import Server

pytestmark = [pytest.mark.db, pytest.mark.slow]

SEED = os.environ.get("HUOMA_FUZZ_SEED", "20261123")
EXAMPLES = os.environ.get("HUOMA_FUZZ_EXAMPLES", "30")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def schemathesis(base: str, report: Path, *headers: str) -> dict[str, object]:
    """One schemathesis run; its JSON report, and its own output when it fails."""
    spec = resources.files("router.web").joinpath("openapi.yaml")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(spec),
        "--url",
        base,
        "--checks",
        CHECKS,
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    for h in headers:
        command += ["--header", h]
    # Run beside its report: schemathesis keeps a cache (.schemathesis/) in its working directory.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=report.parent
    )
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    result: dict[str, object] = json.loads(report.read_text())
    return result


async def seed_something(pool: asyncpg.Pool) -> None:
    await seed(pool, [store_row("S1"), store_row("S2")], [group_row("G1"), group_row("G2", "S2")])
    fallbacks = b"store_id,name,qr_payload\n*,brand,https://weixin.qq.com/g/BRAND\n"
    await import_file(
        pool,
        "fallbacks",
        fallbacks,
        "f.csv",
        timezone="Asia/Shanghai",
        max_bytes=10**6,
        max_rows=10,
    )
    await pool.execute("INSERT INTO entries (code, kind, store_id) VALUES ('desk', 'store', 'S1')")


@pytest.mark.parametrize("with_token", [True, False], ids=["with-token", "without-token"])
async def test_every_operation_answers_as_documented_whatever_it_is_sent(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server], with_token: bool
) -> None:
    await seed_something(pool)
    # Failed logins are limited per address; fuzzing from one address would otherwise meet 429s
    # (documented, and tested on their own) instead of the operations' logic.
    server = Server(settings, 2, HUOMA_RATE_ADMIN_FAILURES_PER_IP="0")
    servers.append(server)
    await server.wait_ready(2)
    name = "with-token" if with_token else "without-token"
    ARTIFACTS_ROOT.joinpath("reliability").mkdir(parents=True, exist_ok=True)
    report = ARTIFACTS_ROOT / "reliability" / f"schemathesis-{name}.json"
    headers = [f"Authorization: Bearer {ADMIN_TOKEN}"] if with_token else []
    result = schemathesis(server.base, report, *headers)
    operations = result["operations"]
    cases = result["test_cases"]
    assert isinstance(operations, dict) and isinstance(cases, dict)
    assert operations["tested"] == operations["total"] >= 30
    assert cases["generated"] > 500 and cases["with_failures"] == 0
    assert "Traceback" not in server.log.read_text()
