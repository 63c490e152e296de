"""A generated demo brand: stores clustered in real Chinese cities and malls, 2-3 groups each."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from router.ops.uploads import Table

# fmt: off
# (name, GCJ-02 centre lat, lng, weight): the larger the weight, the more stores.
CITIES: tuple[tuple[str, float, float, int], ...] = (
    ("上海", 31.2304, 121.4737, 14),
    ("北京", 39.9042, 116.4074, 13),
    ("深圳", 22.5431, 114.0579, 10),
    ("广州", 23.1291, 113.2644, 10),
    ("成都", 30.5728, 104.0668, 8),
    ("杭州", 30.2741, 120.1551, 8),
    ("武汉", 30.5928, 114.3055, 6),
    ("南京", 32.0603, 118.7969, 6),
    ("重庆", 29.5630, 106.5516, 6),
    ("西安", 34.3416, 108.9398, 5),
    ("苏州", 31.2990, 120.5853, 5),
    ("天津", 39.3434, 117.3616, 4),
    ("长沙", 28.2282, 112.9388, 4),
    ("郑州", 34.7466, 113.6253, 4),
    ("青岛", 36.0671, 120.3826, 3),
    ("厦门", 24.4798, 118.0894, 3),
    ("昆明", 25.0389, 102.7183, 3),
    ("沈阳", 41.8057, 123.4315, 3),
    ("合肥", 31.8206, 117.2272, 3),
    ("宁波", 29.8683, 121.5440, 3),
    ("东莞", 23.0207, 113.7518, 3),
    ("佛山", 23.0215, 113.1214, 3),
    ("济南", 36.6512, 117.1201, 2),
    ("大连", 38.9140, 121.6147, 2),
    ("福州", 26.0745, 119.2965, 2),
    ("哈尔滨", 45.8038, 126.5350, 2),
    ("南宁", 22.8170, 108.3669, 2),
    ("贵阳", 26.6470, 106.6302, 1),
    ("海口", 20.0440, 110.1999, 1),
    ("乌鲁木齐", 43.8256, 87.6168, 1),
)
MALLS = (
    "万象城", "大悦城", "万达广场", "银泰城", "来福士", "太古里", "龙湖天街",
    "印象城", "吾悦广场", "K11", "环球港", "国金中心", "凯德广场", "宝龙广场", "世纪汇",
)
ROADS = (
    "人民路", "中山路", "解放路", "建设路", "和平路", "新华路", "长江路", "延安路",
    "科技园路", "滨江大道", "体育路", "青年路",
)
WINGS = (
    "", "", "东区", "西区", "南区", "北区", "二期", "三期",
)
SPOTS = (
    "地铁站", "写字楼", "大学城", "高铁站", "医院", "产业园",
)
# fmt: on
BRAND = "示例咖啡"

_M_PER_DEG_LAT = 111_320.0


def _offset(lat: float, lng: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (
        lat + north_m / _M_PER_DEG_LAT,
        lng + east_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat))),
    )


def generate(stores: int, seed: int = 20261123, now: datetime | None = None) -> tuple[Table, Table]:
    """Store and group tables in the import format; deterministic for a seed."""
    rng = random.Random(seed)  # noqa: S311  # demo data, not secrets
    now = now or datetime.now(UTC)
    total_weight = sum(c[3] for c in CITIES)
    store_rows: list[tuple[int, dict[str, str]]] = []
    group_rows: list[tuple[int, dict[str, str]]] = []
    n = 0
    for ci, (city, clat, clng, weight) in enumerate(CITIES):
        share = max(1, round(stores * weight / total_weight))
        if ci == len(CITIES) - 1:
            share = max(1, stores - n)
        made = 0
        while made < share and n < stores:
            # Most stores sit in malls, a few of them 20-60 m apart; the rest at stations,
            # office towers and campuses spread over ~12 km.
            r = 12_000 * math.sqrt(rng.random())
            theta = rng.uniform(0, 2 * math.pi)
            base_lat, base_lng = _offset(clat, clng, r * math.cos(theta), r * math.sin(theta))
            in_mall = rng.random() < 0.7
            count = rng.choice((1, 1, 2, 2, 3)) if in_mall else 1
            if in_mall:
                place = f"{rng.choice(MALLS)}{rng.choice(WINGS)}"
            else:
                place = f"{rng.choice(ROADS)}{rng.choice(SPOTS)}"
            for k in range(count):
                if made >= share or n >= stores:
                    break
                lat, lng = _offset(base_lat, base_lng, rng.uniform(-30, 30), rng.uniform(-30, 30))
                n += 1
                made += 1
                sid = f"S{n:05d}"
                suffix = f"{k + 1}号店" if count > 1 else "店"
                store_rows.append(
                    (
                        n + 1,
                        {
                            "store_id": sid,
                            "name": f"{BRAND}({place}{suffix})",
                            "city": city,
                            "address": f"{city}{rng.choice(ROADS)}{rng.randint(1, 999)}号{place}"
                            + (f"{rng.randint(1, 5)}层" if in_mall else ""),
                            "lat": f"{lat:.6f}",
                            "lng": f"{lng:.6f}",
                            "coord": "gcj02",
                        },
                    )
                )
                for g in range(rng.choice((2, 2, 3))):
                    members = rng.randint(20, 199)
                    if rng.random() < 0.1:
                        members = 200  # some groups are already full: rotation is visible
                    expires = now + timedelta(days=rng.uniform(0.5, 7.0))
                    token = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=16))
                    group_rows.append(
                        (
                            len(group_rows) + 2,
                            {
                                "group_id": f"{sid}-G{g + 1}",
                                "store_id": sid,
                                "name": f"{BRAND}{city}{n}号店福利{g + 1}群",
                                "qr_payload": f"https://weixin.qq.com/g/DEMO{token}",
                                "capacity": "200",
                                "member_count": str(members),
                                "expires_at": expires.isoformat(timespec="seconds"),
                                "position": str(g),
                            },
                        )
                    )
    store_cols = ("store_id", "name", "city", "address", "lat", "lng", "coord")
    group_cols = (
        "group_id",
        "store_id",
        "name",
        "qr_payload",
        "capacity",
        "member_count",
        "expires_at",
        "position",
    )
    return Table(store_cols, store_rows), Table(group_cols, group_rows)
