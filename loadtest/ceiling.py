"""The ceiling benchmark: Huoma's scan path against the fastest this stack can go, same run, same
pinned core.

Measures requests/s and p50/p99 of (a) a bare aiohttp + uvloop handler returning a constant
orjson body shaped like a route answer (loadtest/bare.py), (b) Huoma's /api/v1/route, (c) Huoma's
QR image endpoint, (d) the same route question answered with one PostgreSQL query per request
(loadtest/sql_baseline.py: GiST KNN on `point`, haversine to pick). Every server, and PostgreSQL,
runs pinned to CPU 0; the load generator, wrk (C, event-driven: one thread issues well over
100k requests/s here, far beyond any of the servers, so it is never the bottleneck), runs pinned
to CPU 1. Each target gets a warm-up, then a timed run; the best of the rounds counts. Prints
(b)/(a), (c)/(a), (b)/(d) and ends with one line:

    route/ceiling=R qr/ceiling=R route/sql=R stores=N

    .venv/bin/python loadtest/ceiling.py [--stores 100000] [--seconds 10] [--rounds 2]
        [--data-dir DIR]   # keep the generated database there and reuse it next time
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import orjson

from geo.coords import gcj02_to_wgs84
from router.cli import demo
from router.ops.uploads import import_table
from router.settings import Settings
from router.store.db import EmbeddedPostgres, create_pool, migrate

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"bare": 18701, "huoma": 18702, "sql": 18703}
SERVER_CPU = "0"
LOAD_CPU = "1"
URLS = 5000


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = 0
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if match:
        errors += int(match.group(1))
    match = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if match:
        errors += sum(int(g) for g in match.groups())
    return Result(rps, p50, p99, errors)


def wrk(port: int, script: Path, seconds: int, connections: int) -> Result:
    command = [
        "taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
        "--latency", "-s", str(script), f"http://127.0.0.1:{port}",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def lua(paths: list[str], path: Path) -> Path:
    quoted = ",\n".join(f'  "{p}"' for p in paths)
    path.write_text(
        f"local paths = {{\n{quoted}\n}}\n"
        "local i = math.random(#paths)\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  if i > #paths then i = 1 end\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )
    return path


def pin_tree(pid: int) -> None:
    """Pin a process, its threads and its children to the servers' CPU."""
    subprocess.run(
        ["taskset", "-a", "-c", "-p", SERVER_CPU, str(pid)], capture_output=True, check=False
    )
    children = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    )
    for child in children.stdout.split():
        pin_tree(int(child))


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return bytes(r.read())


def wait_ready(url: str, proc: subprocess.Popen[bytes], within: float = 600.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a server exited early ({proc.args})")
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} not ready in {within:.0f} s")


async def load_brand(url: str, stores: int) -> None:
    settings = Settings(database_url=url)
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            have = await conn.fetchval("SELECT count(*) FROM stores")
        if have == stores:
            return
        async with pool.acquire() as conn:
            await conn.execute("TRUNCATE stores, groups, entries, scan_events CASCADE")
        store_table, group_table = demo.generate(stores)
        await import_table(pool, "stores", store_table, timezone=settings.timezone)
        await import_table(pool, "groups", group_table, timezone=settings.timezone)
    finally:
        await pool.close()


def route_paths(stores: int) -> list[str]:
    rng = random.Random(7)
    table, _ = demo.generate(stores)
    brand = [(float(v["lat"]), float(v["lng"])) for _, v in table.rows]
    paths = []
    for _ in range(URLS):
        lat, lng = rng.choice(brand)
        r, theta = 400 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        lat += r * math.cos(theta) / 111_320
        lng += r * math.sin(theta) / (111_320 * math.cos(math.radians(lat)))
        wlat, wlng = gcj02_to_wgs84(lat, lng)
        paths.append(f"/api/v1/route?lat={wlat:.6f}&lng={wlng:.6f}&coord=wgs84&acc=30")
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument(
        "--profile",
        type=Path,
        help="record a py-spy profile of Huoma during the first timed route run into this file "
        "(raw collapsed stacks; needs py-spy)",
    )
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"{tool} is missing: apt-get install wrk util-linux (loadtest/ceiling does)"
            )
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs 2 CPUs: one for the servers, one for wrk")

    temp = tempfile.TemporaryDirectory(prefix="huoma-ceiling-")
    data_dir = args.data_dir or Path(temp.name)
    pg = EmbeddedPostgres(data_dir)
    url = pg.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        started = time.perf_counter()
        asyncio.run(load_brand(url, args.stores))
        print(f"brand of {args.stores:,} stores ready in {time.perf_counter() - started:.0f} s")
        pid_file = data_dir.resolve() / "pg" / "postmaster.pid"
        pin_tree(int(pid_file.read_text().split()[0]))

        py = sys.executable
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HUOMA_")},
            "HUOMA_DATABASE_URL": url,
            "HUOMA_PORT": str(PORTS["huoma"]),
            "HUOMA_DATA_DIR": str(data_dir / "huoma"),
            "HUOMA_ACCESS_LOG": "false",
            "HUOMA_LOG_LEVEL": "warning",
            "HUOMA_GROUP_PROVIDER": "simulated",
            # The hot path, not rotation: no group fills during the benchmark.
            "HUOMA_DISPLAY_CAP": "100000000",
            # wrk is one address sending thousands of scans a second: no per-address limit.
            "HUOMA_RATE_ROUTE_PER_IP": "0",
            "HUOMA_RATE_ROUTE_PER_VISITOR": "0",
            "HUOMA_RATE_PICKS_PER_IP": "0",
        }
        pin = ["taskset", "-c", SERVER_CPU]
        procs.append(
            subprocess.Popen([*pin, py, str(ROOT / "loadtest/bare.py"), str(PORTS["bare"])])
        )
        procs.append(subprocess.Popen([*pin, py, "-m", "router.cli", "serve"], env=env))
        procs.append(
            subprocess.Popen(
                [*pin, py, str(ROOT / "loadtest/sql_baseline.py"), str(PORTS["sql"]), url]
            )
        )
        paths = route_paths(args.stores)
        wait_ready(f"http://127.0.0.1:{PORTS['bare']}/api/v1/route", procs[0])
        wait_ready(f"http://127.0.0.1:{PORTS['huoma']}/readyz", procs[1])
        wait_ready(f"http://127.0.0.1:{PORTS['sql']}{paths[0]}", procs[2])
        print(f"servers ready in {time.perf_counter() - started:.0f} s")

        qr = []
        for p in paths[:2000]:
            answer = orjson.loads(get(f"http://127.0.0.1:{PORTS['huoma']}{p}"))
            if answer.get("group"):
                qr_url = answer["group"]["qr_url"]
                qr.append(qr_url[qr_url.index("/qr/") :])
        work = Path(temp.name)
        scripts = {
            "bare": (PORTS["bare"], lua(paths, work / "route.lua")),
            "route": (PORTS["huoma"], work / "route.lua"),
            "qr": (PORTS["huoma"], lua(qr, work / "qr.lua")),
            "sql": (PORTS["sql"], work / "route.lua"),
        }
        best: dict[str, Result] = {}
        for round_no in range(args.rounds):
            for name, (port, script) in scripts.items():
                wrk(port, script, args.warmup, args.connections)
                spy = None
                if args.profile and name in ("route", "qr") and round_no == 0:
                    out = args.profile.with_name(f"{args.profile.stem}-{name}{args.profile.suffix}")
                    spy = subprocess.Popen(
                        [shutil.which("py-spy") or "py-spy", "record", "-p", str(procs[1].pid),
                         "-d", str(args.seconds), "-r", "250", "-f", "raw", "-o", str(out),
                         "--nonblocking"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                result = wrk(port, script, args.seconds, args.connections)
                if spy is not None:
                    spy.wait(timeout=60)
                print(
                    f"round {round_no + 1} {name:5s}: {result.rps:9.0f} req/s  "
                    f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                    f"errors {result.errors}"
                )
                if name not in best or result.rps > best[name].rps:
                    best[name] = result
        print()
        labels = {
            "bare": "(a) bare aiohttp+uvloop, constant orjson body",
            "route": "(b) Huoma /api/v1/route",
            "qr": "(c) Huoma QR image",
            "sql": "(d) one PostgreSQL KNN query per request",
        }
        for name, label in labels.items():
            r = best[name]
            print(f"{label:48s} {r.rps:9.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:7.2f} ms")
        route_ceiling = best["route"].rps / best["bare"].rps
        qr_ceiling = best["qr"].rps / best["bare"].rps
        route_sql = best["route"].rps / best["sql"].rps
        print(f"(b)/(a) {route_ceiling:.2f}   (c)/(a) {qr_ceiling:.2f}   (b)/(d) {route_sql:.2f}")
        print(
            f"route/ceiling={route_ceiling:.2f} qr/ceiling={qr_ceiling:.2f} "
            f"route/sql={route_sql:.2f} stores={args.stores}"
        )
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        pg.stop()
        temp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
