"""Benchmark the nearest-store index: build time, memory, and time per query.

Not a test: it prints figures. Bounded: about a minute in all on a 2-core machine.

    .venv/bin/python loadtest/bench_nearest.py [--sizes 1000,10000,100000,1000000]

Stores are clustered like a real brand (malls in cities); queries come from customers standing
near stores. "warm" is the hot path (the cell cache filled), "cold" is the first query in a cell
(straight from the R-tree), and "k=6" is what /route asks for (the store + 5 alternatives).
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import time

from geo.index import NearestIndex

_M_PER_DEG = 111_320.0


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * 4096 / 1e6


def brand(n: int, rng: random.Random) -> list[tuple[float, float]]:
    """n stores: 70% in malls (1-3 stores 20-60 m apart) around 300 city centres in China."""
    cities = [(rng.uniform(20.0, 45.0), rng.uniform(100.0, 125.0)) for _ in range(300)]
    out: list[tuple[float, float]] = []
    while len(out) < n:
        clat, clng = rng.choice(cities)
        r = 15_000 * math.sqrt(rng.random())
        t = rng.uniform(0, 2 * math.pi)
        lat = clat + r * math.cos(t) / _M_PER_DEG
        lng = clng + r * math.sin(t) / (_M_PER_DEG * math.cos(math.radians(clat)))
        for _ in range(rng.choice((1, 1, 2, 3)) if rng.random() < 0.7 else 1):
            dlat = rng.uniform(-30, 30) / _M_PER_DEG
            dlng = rng.uniform(-30, 30) / _M_PER_DEG
            out.append((lat + dlat, lng + dlng))
    return out[:n]


def customers(
    stores: list[tuple[float, float]], count: int, rng: random.Random
) -> list[tuple[float, float]]:
    """Each customer stands within ~100 m of a store; a few spots per store repeat (counters)."""
    spots = []
    for _ in range(count // 4):
        lat, lng = rng.choice(stores)
        dlat = rng.uniform(-100, 100) / _M_PER_DEG
        dlng = rng.uniform(-100, 100) / _M_PER_DEG
        spots.append((lat + dlat, lng + dlng))
    return [rng.choice(spots) for _ in range(count)]


def per_query_us(fn: object, queries: list[tuple[float, float]], k: int) -> float:
    f = fn  # bound method
    started = time.perf_counter()
    for lat, lng in queries:
        f(lat, lng, k)  # type: ignore[operator]
    return (time.perf_counter() - started) / len(queries) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(42)
    print(
        f"{'stores':>9} {'build s':>8} {'MB':>6} {'warm k=1 us':>12} {'warm k=6 us':>12} "
        f"{'cold k=1 us':>12} {'cells':>7}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        points = brand(n, rng)
        queries = customers(points, args.queries, rng)
        gc.collect()
        before = rss_mb()
        index = NearestIndex(points, k_max=6)
        grown = rss_mb() - before
        cold_q = queries[: min(5_000, len(queries))]
        cold = per_query_us(index.nearest_uncached, cold_q, 1)
        for lat, lng in queries:  # fill the cache, as a running worker would
            index.nearest(lat, lng, 6)
        warm1 = min(per_query_us(index.nearest, queries, 1) for _ in range(3))
        warm6 = min(per_query_us(index.nearest, queries, 6) for _ in range(3))
        print(
            f"{n:>9} {index.build_seconds:>8.3f} {grown:>6.0f} {warm1:>12.2f} {warm6:>12.2f} "
            f"{cold:>12.2f} {index.cached_cells():>7}",
            flush=True,
        )
        del index, points, queries
        gc.collect()


if __name__ == "__main__":
    main()
