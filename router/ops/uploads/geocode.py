"""Geocoding store addresses through a provider's web service (AMap or Tencent), behind one
interface: GCJ-02 results with the provider's match level, cached by address in PostgreSQL so a
dry run's answers are the commit's and a key's quota is spent once per address. Requests are
spaced by the QPS setting; the providers' quota and key errors become 4xx answers.

Built from the providers' public documentation (AMap 地理编码 /v3/geocode/geo: status, info,
infocode, geocodes[].location "lng,lat", level; Tencent /ws/geocoder/v1/: status, message,
result.location, result.level 1-11) and tested against a fake that follows it; never run against
the real services (see README)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import aiohttp
import asyncpg

from router.errors import HuomaError
from router.ops.uploads.checks import Geocode
from router.store import sql

DEFAULT_URLS = {"amap": "https://restapi.amap.com", "tencent": "https://apis.map.qq.com"}
# AMap's levels precise enough to place a store (the rest, 省/市/区县/乡镇/道路..., are rough).
AMAP_PRECISE = frozenset({"门牌号", "兴趣点", "单元号", "楼栋"})
TENCENT_PRECISE_LEVEL = 9  # 9 门址, 10 小区/大厦, 11 POI; below: city, district, road...
# Errors that say "too fast, try again" (AMap 10004 ACCESS_TOO_FREQUENT, 10019-10021 concurrency;
# Tencent 120 per-second limit): retried after a pause this many times.
RETRIES = 3
AMAP_RETRY = frozenset({"10004", "10019", "10020", "10021"})
AMAP_QUOTA = frozenset({"10003", "10044", "10045"})  # daily limits: the key's, the account's
AMAP_KEY = frozenset({"10001", "10002", "10005", "10006", "10007", "10008", "10009", "10010"})
TENCENT_RETRY = frozenset({120})
TENCENT_QUOTA = frozenset({121, 122})
TENCENT_KEY = frozenset({110, 111, 112, 113, 190, 199})


class GeocodeError(HuomaError):
    """The geocoding service refused: its quota, or the key; nothing was written."""

    status = 429
    code = "geocode_quota_exceeded"


def _amap(body: dict[str, Any]) -> Geocode | None:
    status, code = str(body.get("status")), str(body.get("infocode", ""))
    info = str(body.get("info", ""))
    if status != "1":
        if code in AMAP_RETRY:
            raise _Retry
        if code in AMAP_QUOTA:
            raise GeocodeError(
                f"高德地理编码额度已用完（{code} {info}），请明天再试或提高配额 / "
                f"AMap geocoding quota exceeded ({code} {info})"
            )
        raise GeocodeError(
            f"高德地理编码拒绝了请求（{code} {info}），请检查 HUOMA_GEOCODE_KEY / "
            f"AMap geocoding refused the request ({code} {info}): check HUOMA_GEOCODE_KEY",
            code="geocode_refused",
            status=400,
        )
    found = body.get("geocodes") or []
    if not found:
        return None
    lng, lat = (float(x) for x in str(found[0]["location"]).split(","))
    level = str(found[0].get("level", ""))
    return Geocode(lat, lng, level, level in AMAP_PRECISE, "amap")


def _tencent(body: dict[str, Any]) -> Geocode | None:
    status = int(body.get("status", -1))
    message = str(body.get("message", ""))
    if status == 347:  # 查询无结果
        return None
    if status != 0:
        if status in TENCENT_RETRY:
            raise _Retry
        if status in TENCENT_QUOTA:
            raise GeocodeError(
                f"腾讯地图地理编码额度已用完（{status} {message}） / "
                f"Tencent geocoding quota exceeded ({status} {message})"
            )
        raise GeocodeError(
            f"腾讯地图地理编码拒绝了请求（{status} {message}），请检查 HUOMA_GEOCODE_KEY / "
            f"Tencent geocoding refused the request ({status} {message}): check "
            "HUOMA_GEOCODE_KEY",
            code="geocode_refused",
            status=400,
        )
    result = body.get("result") or {}
    where = result.get("location") or {}
    level = int(result.get("level", 0))
    return Geocode(
        float(where["lat"]),
        float(where["lng"]),
        str(level),
        level >= TENCENT_PRECISE_LEVEL,
        "tencent",
    )


class _Retry(Exception):
    pass


class Geocoder:
    """One provider's web service with the brand's key, requests spaced to `qps`."""

    def __init__(self, provider: str, key: str, url: str, qps: float, timeout_s: float) -> None:
        self.provider = provider
        self.key = key
        self.url = (url or DEFAULT_URLS[provider]).rstrip("/")
        self.interval = 1.0 / qps
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._next = 0.0

    async def _pace(self) -> None:
        now = time.monotonic()
        wait = self._next - now
        self._next = max(now, self._next) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)

    async def one(self, session: aiohttp.ClientSession, city: str, address: str) -> Geocode | None:
        if self.provider == "amap":
            path, params = "/v3/geocode/geo", {"key": self.key, "address": address, "city": city}
            parse = _amap
        else:
            path = "/ws/geocoder/v1/"
            params = {"key": self.key, "address": f"{city}{address}", "region": city}
            parse = _tencent
        for attempt in range(RETRIES + 1):
            await self._pace()
            try:
                async with session.get(self.url + path, params=params) as response:
                    body = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise GeocodeError(
                    f"地理编码服务无法访问：{exc} / the geocoding service cannot be reached",
                    code="geocode_unreachable",
                    status=424,
                ) from None
            try:
                return parse(body)
            except _Retry:
                if attempt == RETRIES:
                    raise GeocodeError(
                        "地理编码服务一直提示请求过快，请调低 HUOMA_GEOCODE_QPS / the geocoding "
                        "service keeps saying too fast: lower HUOMA_GEOCODE_QPS"
                    ) from None
                await asyncio.sleep(self.interval * (attempt + 2))
        return None

    async def many(
        self, pool: asyncpg.Pool, addresses: Iterable[tuple[str, str, str]]
    ) -> dict[str, Geocode]:
        """Geocodes by address key ((key, city, address) in): cached ones from the database,
        the rest from the service (then cached). An address it cannot find is left out."""
        wanted = {key: (city, address) for key, city, address in addresses}
        out: dict[str, Geocode] = {}
        for r in await pool.fetch(sql.GEOCODE_CACHE_GET, self.provider, list(wanted)):
            out[r["address_key"]] = Geocode(
                r["lat"], r["lng"], r["level"], r["precise"], r["provider"]
            )
        missing = [k for k in wanted if k not in out]
        if not missing:
            return out
        fresh: dict[str, Geocode] = {}
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            try:
                for key in missing:
                    found = await self.one(session, *wanted[key])
                    if found is not None:
                        fresh[key] = found
            finally:  # what was paid for is kept, even when the quota ran out half way
                if fresh:
                    await pool.execute(
                        sql.GEOCODE_CACHE_PUT,
                        list(fresh),
                        [self.provider] * len(fresh),
                        [g.lat for g in fresh.values()],
                        [g.lng for g in fresh.values()],
                        [g.level for g in fresh.values()],
                        [g.precise for g in fresh.values()],
                    )
        return out | fresh
