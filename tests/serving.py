"""`huoma serve` as a real process on a free port, for the tests that stop, kill and starve it."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from router.settings import Settings
from tests.conftest import ADMIN_TOKEN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(
        self, settings: Settings, workers: int, *, nofile: int | None = None, **env: str
    ) -> None:
        """`huoma serve --workers N`; `nofile`: its RLIMIT_NOFILE (soft and hard)."""
        self.worker_count = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("HUOMA_")}
        environ.update(
            HUOMA_DATABASE_URL=str(settings.database_url),
            HUOMA_SECRET=settings.secret,
            HUOMA_DATA_DIR=str(settings.data_dir),
            HUOMA_PORT=str(self.port),
            HUOMA_ADMIN_TOKENS=ADMIN_TOKEN,
            HUOMA_ACCESS_LOG="false",
            HUOMA_LOG_LEVEL="warning",
            HUOMA_EVENTS_FLUSH_S="0.1",
            # These tests load one address hard on purpose; the limits have their own tests.
            HUOMA_RATE_ROUTE_PER_IP="0",
            HUOMA_RATE_ROUTE_PER_VISITOR="0",
            HUOMA_RATE_PICKER_PER_IP="0",
            HUOMA_RATE_PICKS_PER_VISITOR="0",
            HUOMA_RATE_PICKS_PER_IP="0",
            # A bound on a scan's wait for a lease, raised for this shared machine (conftest).
            HUOMA_LEASE_WAIT_S="1",
        )
        environ.update(env)
        self.log = Path(settings.data_dir) / "server.log"
        self._log_file = self.log.open("wb")

        def limit_descriptors() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.process = subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--workers", str(workers)],
            env=environ,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_descriptors if nofile is not None else None,
        )

    def workers(self) -> list[int]:
        if self.worker_count == 1:
            return [self.process.pid]  # one worker: the process serves by itself
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(p) for p in out.stdout.split()]

    async def wait_ready(self, workers: int, within: float = 60.0) -> None:
        """Until every worker process has answered /readyz itself."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while True:
                pids = set(self.workers())
                seen: set[int] = set()
                if len(pids) == workers:
                    # Fresh connections land on either worker.
                    for _ in range(10 * workers):
                        try:
                            async with session.get(
                                f"{self.base}/readyz", headers={"Connection": "close"}
                            ) as r:
                                if r.status == 200:
                                    seen.add((await r.json())["worker"])
                        except aiohttp.ClientError:
                            pass
                if pids and seen == pids:
                    return
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError("server not ready:\n" + self.log.read_text()[-3000:])
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


async def scan_once(session: aiohttp.ClientSession, base: str, vid: str) -> dict[str, Any] | None:
    """One scan on a fresh connection (so the kernel spreads them over workers)."""
    try:
        async with session.get(
            f"{base}/api/v1/route?store=S1&vid={vid}", headers={"Connection": "close"}
        ) as r:
            if r.status != 200:
                return None
            body: dict[str, Any] = await r.json()
            return body
    except (TimeoutError, aiohttp.ClientError):
        return None


class Load:
    """Customers scanning without pause, each scan a new visitor picking one of `stores` (so every
    answered scan can be found in scan_events by its visitor), every tenth also fetching its QR
    image. What happened is counted per phase: the test moves `phase` along as it acts."""

    def __init__(
        self, base: str, stores: list[str], *, customers: int = 8, pause_s: float = 0.01
    ) -> None:
        self.base = base
        self.stores = stores
        self.customers = customers
        self.pause_s = pause_s
        self.phase = "before"
        self.answered: dict[str, set[str]] = {}  # phase -> visitors answered
        self.statuses: dict[str, Counter[int]] = {}
        self.outcomes: dict[str, Counter[str]] = {}
        self.images: dict[str, Counter[int]] = {}
        self.shown: Counter[str] = Counter()  # group id -> answers showing it (status ok)
        self.errors: list[str] = []
        self._seq = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    def all_answered(self) -> set[str]:
        return set().union(*self.answered.values())

    def count(self, what: str, phase: str | None = None) -> int:
        """Requests of one phase (or all) by status code (`"200"`) or outcome (`"ok"`)."""
        total = 0
        for p in [phase] if phase else list(self.statuses):
            if what.isdigit():
                total += self.statuses.get(p, Counter())[int(what)]
            else:
                total += self.outcomes.get(p, Counter())[what]
        return total

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._customer(session) for _ in range(self.customers)))

    async def _customer(self, session: aiohttp.ClientSession) -> None:
        while not self._stop.is_set():
            self._seq += 1
            vid = f"visitor-{self._seq:07d}"
            store = self.stores[self._seq % len(self.stores)]
            phase = self.phase
            try:
                async with session.get(f"{self.base}/api/v1/route?store={store}&vid={vid}") as r:
                    body = await r.read()
                    self.statuses.setdefault(phase, Counter())[r.status] += 1
                    if r.status == 200:
                        self.answered.setdefault(phase, set()).add(vid)
                        answer = json.loads(body)
                        self.outcomes.setdefault(phase, Counter())[answer["status"]] += 1
                        if answer["status"] == "ok":
                            self.shown[answer["group"]["id"]] += 1
                        if self._seq % 10 == 0 and answer["group"]:
                            path = answer["group"]["qr_url"].split("/qr/", 1)[1]
                            async with session.get(f"{self.base}/qr/{path}") as image:
                                await image.read()
                                self.images.setdefault(phase, Counter())[image.status] += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.errors.append(f"{phase}: {exc!r}")
            await asyncio.sleep(self.pause_s)
