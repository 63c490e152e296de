"""A local stand-in for AMap's 地理编码 web service (GET /v3/geocode/geo) and Tencent's
(GET /ws/geocoder/v1/), following their public documentation field by field: AMap answers
status "1"/"0", info, infocode (10000 OK; 10001 INVALID_USER_KEY, 10003 DAILY_QUERY_OVER_LIMIT,
10004 ACCESS_TOO_FREQUENT, 10044 USER_DAILY_QUERY_OVER_LIMIT), count, geocodes[] with
location "lng,lat" (GCJ-02) and level (门牌号, 兴趣点, 区县...); Tencent answers status (0 OK;
110 key invalid, 120 per-second limit, 121 daily limit, 347 no result), message, result with
location {lat, lng} and level (1-11). Tests steer it: known addresses, queued errors, a count."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

KEY = "fake-brand-geocode-key"
AMAP_INFO = {
    "10001": "INVALID_USER_KEY",
    "10003": "DAILY_QUERY_OVER_LIMIT",
    "10004": "ACCESS_TOO_FREQUENT",
    "10044": "USER_DAILY_QUERY_OVER_LIMIT",
}
TENCENT_MESSAGE = {
    110: "请求来源未被授权",
    120: "此key每秒请求量已达到上限",
    121: "此key每日调用量已达到上限",
}


@dataclass
class FakeGeocoder:
    # address (as the service receives it) -> (lng, lat, AMap level, Tencent level)
    places: dict[str, tuple[float, float, str, int]] = field(default_factory=dict)
    errors: deque[str] = field(default_factory=deque)  # AMap infocodes / Tencent statuses
    requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v3/geocode/geo", self.amap)
        app.router.add_get("/ws/geocoder/v1/", self.tencent)
        return app

    def _find(self, address: str) -> tuple[float, float, str, int] | None:
        for known, place in self.places.items():
            if address.endswith(known):
                return place
        return None

    async def amap(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.requests.append(q)
        if q.get("key") != KEY:
            return _amap_error("10001")
        if self.errors:
            return _amap_error(self.errors.popleft())
        place = self._find(q.get("address", ""))
        body: dict[str, Any] = {"status": "1", "info": "OK", "infocode": "10000"}
        if place is None:
            return web.json_response(body | {"count": "0", "geocodes": []})
        lng, lat, level, _ = place
        geocode = {
            "formatted_address": q["address"],
            "country": "中国",
            "city": q.get("city", ""),
            "location": f"{lng:.6f},{lat:.6f}",
            "level": level,
        }
        return web.json_response(body | {"count": "1", "geocodes": [geocode]})

    async def tencent(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.requests.append(q)
        if q.get("key") != KEY:
            return _tencent_error(110)
        if self.errors:
            return _tencent_error(int(self.errors.popleft()))
        place = self._find(q.get("address", ""))
        if place is None:
            return web.json_response({"status": 347, "message": "查询无结果"})
        lng, lat, _, level = place
        result = {
            "title": q["address"],
            "location": {"lng": lng, "lat": lat},
            "address_components": {},
            "similarity": 0.8,
            "deviation": 1000,
            "reliability": 7,
            "level": level,
        }
        return web.json_response({"status": 0, "message": "query ok", "result": result})


def _amap_error(code: str) -> web.Response:
    return web.json_response(
        {"status": "0", "info": AMAP_INFO.get(code, "ERROR"), "infocode": code}
    )


def _tencent_error(status: int) -> web.Response:
    return web.json_response({"status": status, "message": TENCENT_MESSAGE.get(status, "error")})
