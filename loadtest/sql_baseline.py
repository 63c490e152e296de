"""The SQL baseline: the same route question answered with one PostgreSQL query per request, as
well as plain PostgreSQL allows. A GiST index on the built-in `point` type (lng, lat in GCJ-02)
gives the KNN candidates by `<->` (planar degrees), and haversine picks the true nearest among
them; the store's first usable group comes from the same query.

    python loadtest/sql_baseline.py PORT DATABASE_URL
"""

from __future__ import annotations

import math
import sys
from typing import Any

import asyncpg
import orjson
import uvloop
from aiohttp import web

from geo.coords import Coord, CoordSystem, to_gcj02

CANDIDATES = 8
FIELDS = ("store_id", "name", "city", "address", "lat", "lng")

INDEX = "CREATE INDEX IF NOT EXISTS stores_point ON stores USING gist (point(lng, lat))"

NEAREST = """
SELECT s.store_id, s.name, s.city, s.address, s.lat, s.lng,
       (SELECT row(g.group_id, g.name, g.qr_payload)::text
        FROM groups g
        WHERE g.store_id = s.store_id AND g.kind = 'group' AND g.state IN ('active', 'standby')
        ORDER BY g.position, g.id LIMIT 1) AS grp
FROM stores s
WHERE s.active
ORDER BY point(s.lng, s.lat) <-> point($2, $1)
LIMIT $3
"""


def haversine(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


async def route(request: web.Request) -> web.Response:
    try:
        lat, lng = float(request.query["lat"]), float(request.query["lng"])
        system = CoordSystem.parse(request.query.get("coord", "wgs84"))
        here = to_gcj02(Coord(lat, lng, system))
    except (KeyError, ValueError):
        return web.json_response(
            {"error": {"code": "bad_input", "message": "bad lat/lng"}}, status=400
        )
    pool: asyncpg.Pool = request.app["pool"]
    rows = await pool.fetch(NEAREST, here.lat, here.lng, CANDIDATES)
    ranked = sorted(rows, key=lambda r: haversine(here.lat, here.lng, r["lat"], r["lng"]))
    if not ranked:
        return web.Response(body=b'{"status":"no_store_nearby"}', content_type="application/json")
    best = ranked[0]
    store: dict[str, Any] = {
        k: best[k] for k in ("store_id", "name", "city", "address", "lat", "lng")
    }
    body = {
        "status": "ok",
        "store": store,
        "distance_m": round(haversine(here.lat, here.lng, best["lat"], best["lng"])),
        "group": best["grp"],
        "alternatives": [
            {
                "store": {k: r[k] for k in ("store_id", "name", "city", "address", "lat", "lng")},
                "distance_m": round(haversine(here.lat, here.lng, r["lat"], r["lng"])),
            }
            for r in ranked[1:6]
        ],
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def start(app: web.Application) -> Any:
    app["pool"] = await asyncpg.create_pool(app["url"], min_size=8, max_size=8)
    async with app["pool"].acquire() as conn:
        await conn.execute(INDEX)
        await conn.execute("ANALYZE stores")
    yield
    await app["pool"].close()


def main() -> None:
    app = web.Application()
    app["url"] = sys.argv[2]
    app.cleanup_ctx.append(start)
    app.router.add_get("/api/v1/route", route)
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
