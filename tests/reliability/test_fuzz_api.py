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
from tests.accounts import PASSWORD, make_account
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


def schemathesis(
    base: str, report: Path, *headers: str, extra: tuple[str, ...] = ()
) -> dict[str, object]:
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
    command += list(extra)
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


async def _session_headers(pool: asyncpg.Pool, base: str) -> list[str]:
    """An admin account signed in over HTTP: its cookie and CSRF token as headers."""
    import aiohttp

    await make_account(pool, "fuzz-admin", "admin")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            base + "/admin/api/session", json={"username": "fuzz-admin", "password": PASSWORD}
        ) as r,
    ):
        assert r.status == 200
        csrf = (await r.json())["csrf_token"]
        cookie = r.cookies["hm_session"].value
    return [f"Cookie: hm_session={cookie}", f"X-CSRF-Token: {csrf}"]


@pytest.mark.parametrize("as_who", ["token", "nobody", "session"])
async def test_every_operation_answers_as_documented_whatever_it_is_sent(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server], as_who: str
) -> None:
    await seed_something(pool)
    # Failed logins are limited per address; fuzzing from one address would otherwise meet 429s
    # (documented, and tested on their own) instead of the operations' logic.
    server = Server(settings, 2, HUOMA_RATE_ADMIN_FAILURES_PER_IP="0")
    servers.append(server)
    await server.wait_ready(2)
    name = {"token": "with-token", "nobody": "without-token", "session": "with-session"}[as_who]
    ARTIFACTS_ROOT.joinpath("reliability").mkdir(parents=True, exist_ok=True)
    report = ARTIFACTS_ROOT / "reliability" / f"schemathesis-{name}.json"
    headers: list[str] = []
    extra: tuple[str, ...] = ()
    if as_who == "token":
        headers = [f"Authorization: Bearer {ADMIN_TOKEN}"]
    elif as_who == "session":
        headers = await _session_headers(pool, server.base)
        # Signing out would end the session the rest of the run uses (it is fuzzed above).
        extra = ("--exclude-operation-id", "signOut")
    result = schemathesis(server.base, report, *headers, extra=extra)
    operations = result["operations"]
    cases = result["test_cases"]
    assert isinstance(operations, dict) and isinstance(cases, dict)
    assert operations["tested"] == operations["selected"] >= 30
    assert operations["total"] - operations["selected"] == len(extra) // 2
    assert cases["generated"] > 500 and cases["with_failures"] == 0
    assert "Traceback" not in server.log.read_text()
