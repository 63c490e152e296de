"""Benchmark a per-store patch of the catalogue against a full rebuild.

Not a test: it prints figures. The catalogue is built in memory from rows shaped like the
database's (no PostgreSQL: both sides then start from rows already read), with stores placed like
a real brand (loadtest/bench_nearest.py) and 2-3 groups each.

    .venv/bin/python loadtest/bench_patch.py [--stores 100000] [--changed 1,10,100] [--repeat 3]

"rebuild" is what every worker did on every change before (router.scan.catalogue.build_catalogue);
"patch N" rebuilds N stores in place (router.scan.catalogue.patch_stores), each with one code
replaced, the rest shared.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench_nearest import brand  # this directory, beside this script

from router.scan.catalogue import build_catalogue, patch_stores


def rows(n: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    expires = datetime.now(UTC) + timedelta(days=7)
    stores: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    pk = 0
    for i, (lat, lng) in enumerate(brand(n, rng)):
        sid = f"S{i:06d}"
        stores.append(
            {
                "store_id": sid, "name": f"门店{i}", "city": f"城市{i % 300}",
                "address": f"人民路 {i} 号", "lat": lat, "lng": lng, "service_area": None,
                "active": True,
            }
        )  # fmt: skip
        for position in range(rng.choice((2, 2, 3))):
            pk += 1
            groups.append(
                {
                    "id": pk, "group_id": f"G{pk}", "store_id": sid, "name": f"群{pk}",
                    "qr_payload": f"https://weixin.qq.com/g/B{pk}", "qr_version": 1,
                    "capacity": 200, "member_count": None, "expires_at": expires,
                    "position": position, "kind": "group", "display_cap": None, "source": "upload",
                }
            )  # fmt: skip
    return stores, groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", type=int, default=100_000)
    parser.add_argument("--changed", default="1,10,100")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stores, groups = rows(args.stores)
    by_store: dict[str, list[dict[str, Any]]] = {}
    for g in groups:
        by_store.setdefault(g["store_id"], []).append(g)
    print(f"{len(stores)} stores, {len(groups)} groups")
    builds = []
    cat = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        cat = build_catalogue(stores, groups, [], k_max=6, cache_cells=100_000)
        builds.append(time.perf_counter() - started)
    assert cat is not None
    print(f"rebuild      median {statistics.median(builds) * 1000:9.1f} ms  (runs: {len(builds)})")
    rng = random.Random(11)
    for n in (int(x) for x in args.changed.split(",")):
        times = []
        for _ in range(args.repeat):
            picked = rng.sample(stores, n)
            ids = [s["store_id"] for s in picked]
            changed_groups = []
            for sid in ids:
                for j, g in enumerate(by_store[sid]):
                    changed_groups.append(
                        {**g, "qr_payload": g["qr_payload"] + "X", "qr_version": 2} if j == 0 else g
                    )
            started = time.perf_counter()
            patched = patch_stores(cat, ids, picked, changed_groups)
            times.append(time.perf_counter() - started)
            assert patched is not None and len(patched[1]) == n
        median = statistics.median(times)
        print(
            f"patch {n:>5}  median {median * 1000:9.1f} ms  "
            f"({statistics.median(builds) / median:.0f}x faster than a rebuild)"
        )


if __name__ == "__main__":
    main()
