"""Lunchtime at the counters: customers scanning a brand's counter codes, and ops at work.

Customers load /s/{entry}, ask /api/v1/route where they stand (clustered around the brand's
stores, a few hot stores taking a fifth of the scans; some refuse their location and pick a
store by city, some have a coarse fix, a few send garbage), and fetch the group QR image they
are given. Ops read group health and the funnel and upload an entry code now and then.

The brand is the one `huoma demo --stores N` generates (the same seed), so no request is spent
learning it. Settings come from the environment (loadtest/run sets them):

    LOADTEST_STORES   stores in the brand (10000)
    LOADTEST_SHAPE    rush (ramp, hold, fall) or steady (120 s)
    LOADTEST_USERS    peak concurrent customers (200)
    LOADTEST_SECONDS  length of the run, seconds (120)
    LOADTEST_TOKEN    admin token for the ops users (without it, no ops users run)
    LOADTEST_REPORT   file to write per-endpoint status counts to (JSON), for the books
    LOADTEST_MAX_FAILURE_RATIO  (0.01) and LOADTEST_P99_MS_<ENDPOINT> thresholds, see below

The exit code is 1 when the failure ratio or any endpoint's p99 is above its threshold.
"""

from __future__ import annotations

import json
import math
import os
import random
import uuid
from collections import Counter
from typing import Any

from locust import FastHttpUser, LoadTestShape, between, events, task

from geo.coords import gcj02_to_wgs84
from router.cli import demo

STORES = int(os.environ.get("LOADTEST_STORES", "10000"))
SHAPE = os.environ.get("LOADTEST_SHAPE", "rush")
USERS = int(os.environ.get("LOADTEST_USERS", "200"))
SECONDS = int(os.environ.get("LOADTEST_SECONDS", "120"))
TOKEN = os.environ.get("LOADTEST_TOKEN", "")
REPORT = os.environ.get("LOADTEST_REPORT", "")
MAX_FAILURE_RATIO = float(os.environ.get("LOADTEST_MAX_FAILURE_RATIO", "0.01"))
# p99 limits per endpoint name, milliseconds; generous for a shared 2-core machine that also
# runs the load generator and PostgreSQL.
P99_MS = {
    "page": 500.0,
    "route": 500.0,
    "qr": 500.0,
    "picker": 500.0,
    "admin": 5000.0,
}
for _name in P99_MS:
    P99_MS[_name] = float(os.environ.get(f"LOADTEST_P99_MS_{_name.upper()}", P99_MS[_name]))

# Shares of customers (the rest scan with a good fix near a store).
REFUSED = 0.10  # location refused or timed out: picker, or the entry's store
COARSE = 0.10  # accuracy of 1-3 km: the page offers a choice
BAD = 0.02  # garbage coordinates (a broken client, a scraper)
HOT = 0.20  # of located scans, at one of the hot stores
RESCAN = 0.10  # scan again at once (sticky: the same group, no extra display)


def _brand() -> list[tuple[str, str, float, float]]:
    stores, _ = demo.generate(STORES)
    return [(v["store_id"], v["city"], float(v["lat"]), float(v["lng"])) for _, v in stores.rows]


BRAND = _brand()
HOT_STORES = BRAND[:: max(1, len(BRAND) // 10)][:10]
CITIES = sorted({city for _, city, _, _ in BRAND})
ENTRIES = [f"counter-{i:03d}" for i in range(50)]

status_counts: Counter[tuple[str, int]] = Counter()


@events.request.add_listener
def _count(name: str, response: Any, exception: Any, **_: Any) -> None:
    status = getattr(response, "status_code", 0) or 0
    status_counts[(name, int(status))] += 1


def _near(lat: float, lng: float, metres: float) -> tuple[float, float]:
    r = metres * math.sqrt(random.random())
    theta = random.uniform(0, 2 * math.pi)
    dlat = r * math.cos(theta) / 111_320.0
    dlng = r * math.sin(theta) / (111_320.0 * math.cos(math.radians(lat)))
    return lat + dlat, lng + dlng


class Customer(FastHttpUser):
    """One scan per iteration, each by a new visitor (no cookies kept)."""

    weight = 20
    wait_time = between(0.2, 1.0)

    def _route(self, query: str) -> dict[str, Any] | None:
        with self.client.get(
            f"/api/v1/route?{query}", name="route", catch_response=True
        ) as response:
            if response.status_code == 400 and "lat=" in query and "abc" in query:
                response.success()  # garbage in, a clear 400 out: what we want
                return None
            if response.status_code != 200:
                response.failure(f"route answered {response.status_code}")
                return None
            body: dict[str, Any] = response.json()
            return body

    def _qr(self, answer: dict[str, Any] | None) -> None:
        group = (answer or {}).get("group")
        if group and group.get("qr_url"):
            url = group["qr_url"]
            path = url[url.index("/qr/") :] if "/qr/" in url else url
            self.client.get(path, name="qr")

    @task
    def scan(self) -> None:
        self.client.cookiejar.clear()
        entry = random.choice(ENTRIES)
        self.client.get(f"/s/{entry}", name="page")
        roll = random.random()
        if roll < BAD:
            self._route(f"lat=abc&lng=121.4&coord=wgs84&entry={entry}")
            return
        if roll < BAD + REFUSED:
            # No location: half pick their store by city, half give up at the entry's default.
            if random.random() < 0.5:
                self.client.get("/api/v1/cities", name="picker")
                city = random.choice(CITIES)
                self.client.get(f"/api/v1/stores?city={city}&limit=20", name="picker")
                store_id = random.choice([s for s in BRAND if s[1] == city])[0]
                self._qr(self._route(f"store={store_id}&entry={entry}"))
            else:
                self._route(f"entry={entry}")
            return
        store = random.choice(HOT_STORES) if random.random() < HOT else random.choice(BRAND)
        accuracy = random.uniform(1000, 3000) if roll < BAD + REFUSED + COARSE else 30.0
        lat, lng = _near(store[2], store[3], 400.0)
        wlat, wlng = gcj02_to_wgs84(lat, lng)
        query = f"lat={wlat:.6f}&lng={wlng:.6f}&coord=wgs84&acc={accuracy:.0f}&entry={entry}"
        answer = self._route(query)
        self._qr(answer)
        if answer is not None and random.random() < RESCAN:
            self._route(query)  # the same visitor (cookie kept): the same group


class Ops(FastHttpUser):
    """Ops at their desks: health and funnel now and then, an entry code upload rarely."""

    abstract = not TOKEN  # without a token there are no ops at work
    fixed_count = 2
    wait_time = between(3.0, 6.0)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {TOKEN}"}

    def _read(self, path: str) -> None:
        with self.client.get(path, headers=self.auth, name="admin", catch_response=True) as r:
            if r.status_code != 200:
                # Name the endpoint and the error code: "admin" alone says too little.
                code = (r.json() or {}).get("error", {}).get("code") if r.text else None
                r.failure(f"{path.split('?')[0]} answered {r.status_code} {code}")

    @task(4)
    def health(self) -> None:
        self._read("/admin/api/health?status=low")

    @task(2)
    def funnel(self) -> None:
        self._read("/admin/api/funnel?by=day")

    @task(1)
    def upload(self) -> None:
        code = f"load-{uuid.uuid4().hex[:12]}"
        body = f"code,kind,label\n{code},poster,load test\n".encode()
        self.client.post(
            "/admin/api/uploads/entries?filename=entries.csv",
            data=body,
            headers=self.auth,
            name="admin",
        )


class Lunchtime(LoadTestShape):
    """rush: ramp to USERS over a quarter of the run, hold half, fall over the last quarter.
    steady: USERS throughout. Stops by itself after SECONDS."""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t >= SECONDS:
            return None
        ops = 0 if Ops.abstract else Ops.fixed_count
        if SHAPE == "steady":
            return USERS + ops, max(1.0, USERS / 5)
        quarter = SECONDS / 4
        if t < quarter:
            users = max(1, round(USERS * t / quarter))
        elif t < 3 * quarter:
            users = USERS
        else:
            users = max(1, round(USERS * (SECONDS - t) / quarter))
        return users + ops, max(1.0, USERS / 10)


@events.quitting.add_listener
def _judge(environment: Any, **_: Any) -> None:
    stats = environment.stats
    problems = []
    total = stats.total
    ratio = total.num_failures / total.num_requests if total.num_requests else 1.0
    if ratio > MAX_FAILURE_RATIO:
        problems.append(f"failure ratio {ratio:.4f} > {MAX_FAILURE_RATIO}")
    for name, limit in P99_MS.items():
        entry = stats.entries.get((name, "GET")) or stats.entries.get((name, "POST"))
        if entry is None or not entry.num_requests:
            continue
        p99 = entry.get_response_time_percentile(0.99)
        if p99 > limit:
            problems.append(f"{name}: p99 {p99:.0f} ms > {limit:.0f} ms")
    if REPORT:
        counts: dict[str, dict[str, int]] = {}
        for (name, status), n in status_counts.items():
            counts.setdefault(name, {})[str(status)] = n
        with open(REPORT, "w", encoding="utf-8") as f:
            json.dump({"status_counts": counts, "problems": problems}, f, indent=2)
    for p in problems:
        print(f"THRESHOLD BREACHED: {p}")
    if problems:
        environment.process_exit_code = 1
