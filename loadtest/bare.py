"""The ceiling: the fastest this stack answers anything. A bare aiohttp + uvloop handler that
serializes a constant body shaped like a route answer (same keys and size class) with orjson.

    python loadtest/bare.py PORT
"""

from __future__ import annotations

import sys

import orjson
import uvloop
from aiohttp import web

STORE = {
    "id": "S000123",
    "name": "示例咖啡(世纪汇北区1号店)",
    "city": "上海",
    "address": "世纪汇广场北区 1 层",
    "lat": 31.230416,
    "lng": 121.473701,
    "coord": "gcj02",
}
ANSWER = {
    "status": "ok",
    "store": STORE,
    "distance_m": 120,
    "group": {
        "id": "S000123-G1",
        "name": "示例咖啡上海1号店福利1群",
        "qr_url": "http://127.0.0.1:8080/qr/12345.png?v=1&e=1800000000&s=abcdefabcdefabcdefabcd",
        "qr_expires_at": 1800000000,
    },
    "alternatives": [{"store": STORE, "distance_m": 300 + i} for i in range(5)],
    "coarse": False,
    "matched_by": "nearest",
    "visitor": "v-0123456789abcdef0123456789",
    "sticky": "0123456789abcdef0123456789abcdef",
    "message": "",
}


async def answer(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(ANSWER), content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_get("/api/v1/route", answer)
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
