"""Every public endpoint through real HTTP, against the real app and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jsonschema
import pytest
import yaml
import zxingcpp
from PIL import Image

from geo.coords import gcj02_to_bd09, gcj02_to_wgs84
from router.errors import BadInput
from router.ops.uploads import import_file
from router.scan.routing import parse_route_query
from tests.conftest import eventually, expired_qr_path, group_row, qr_path, seed, store_row

pytestmark = pytest.mark.db

# Three stores in Shanghai (GCJ-02): two in one mall 25 m apart, one 2 km away.
MALL = (31.2304, 121.4737)
STORES = [
    store_row("S1", name="人民广场店", lat=31.2304, lng=121.4737),
    store_row("S2", name="人民广场二店", lat=31.23062, lng=121.4737),
    store_row(
        "S3", name="新天地店", lat=31.2200, lng=121.4900, city="上海", address="马当路 245 号"
    ),
    store_row("B1", name="国贸店", city="北京", lat=39.9087, lng=116.4605),
]


def groups_for(*store_ids: str) -> list[dict[str, str]]:
    return [group_row(f"{s}-G1", s) for s in store_ids]


async def get_json(client: Any, url: str, status: int = 200) -> Any:
    response = await client.get(url)
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    return await response.json()


async def test_route_answers_the_nearest_store_with_its_group_and_alternatives(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1", "S2", "S3", "B1"))
    client = await make_client()
    body = await get_json(
        client, f"/api/v1/route?lat={MALL[0]}&lng={MALL[1]}&coord=gcj02&acc=20&entry=counter-1"
    )
    assert body["status"] == "ok"
    assert body["store"] == {
        "id": "S1",
        "name": "人民广场店",
        "city": "上海",
        "address": "人民路 1 号",
        "lat": 31.2304,
        "lng": 121.4737,
        "coord": "gcj02",
        "provider": "gcj02",
    }
    assert body["distance_m"] == 0
    assert body["group"]["id"] == "S1-G1"
    assert body["group"]["qr_url"].startswith("http://huoma.test/qr/")
    assert 600 <= body["group"]["qr_expires_at"] - time.time() <= 661
    assert f"&e={body['group']['qr_expires_at']}&" in body["group"]["qr_url"]
    assert [a["store"]["id"] for a in body["alternatives"]] == ["S2", "S3"]
    assert body["alternatives"][0]["distance_m"] == 24
    assert body["coarse"] is False
    assert body["matched_by"] == "nearest"


async def test_a_browser_fix_in_wgs84_is_shifted_before_the_search(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1", "S2"))
    client = await make_client()
    # The phone reports S2's true (WGS-84) position; without the shift it would land ~500 m off.
    lat, lng = gcj02_to_wgs84(31.23062, 121.4737)
    body = await get_json(client, f"/api/v1/route?lat={lat}&lng={lng}")
    assert body["store"]["id"] == "S2"
    assert body["distance_m"] == 0
    bd = gcj02_to_bd09(31.23062, 121.4737)
    body = await get_json(client, f"/api/v1/route?lat={bd[0]}&lng={bd[1]}&coord=bd09")
    assert (body["store"]["id"], body["distance_m"]) == ("S2", 0)


async def test_far_from_every_store_is_no_store_nearby(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1"))
    client = await make_client(max_distance_m=1000.0)
    body = await get_json(client, "/api/v1/route?lat=30.0&lng=120.0&coord=gcj02")
    assert body["status"] == "no_store_nearby"
    assert body["store"] is None and body["group"] is None
    assert body["alternatives"] == []
    # 500 m south of the mall: S1 and S2 are within 1 km, S3 (1.7 km) is not even an alternative.
    body = await get_json(client, "/api/v1/route?lat=31.2260&lng=121.4737&coord=gcj02")
    assert (body["status"], body["store"]["id"]) == ("ok", "S1")
    assert [a["store"]["id"] for a in body["alternatives"]] == ["S2"]


async def test_full_and_expired_groups_are_skipped_and_none_left_is_no_group(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    await seed(
        pool,
        [store_row("S1"), store_row("S9", lat=31.5, lng=121.9)],
        [
            group_row("full", "S1", member_count=200, capacity=200, position=0),
            group_row("expired", "S1", expires_at=past, position=1),
            group_row("live", "S1", expires_at=future, member_count=10, position=2),
            # A WeCom customer group: personal WeChat codes cannot have a capacity of 500.
            group_row(
                "only-full",
                "S9",
                qr_payload="https://work.weixin.qq.com/gm/ONLYFULL",
                member_count=500,
                capacity=500,
            ),
        ],
    )
    client = await make_client()
    body = await get_json(client, f"/api/v1/route?lat={MALL[0]}&lng={MALL[1]}&coord=gcj02")
    assert body["group"]["id"] == "live"
    body = await get_json(client, "/api/v1/route?store=S9")
    assert body["status"] == "no_group"
    assert body["store"]["id"] == "S9"
    assert body["group"] is None


async def test_a_picked_store_and_no_location_at_all(pool: asyncpg.Pool, make_client: Any) -> None:
    await seed(pool, STORES, groups_for("S1", "B1"))
    client = await make_client()
    body = await get_json(client, "/api/v1/route?store=B1")
    assert (body["status"], body["store"]["id"], body["matched_by"], body["distance_m"]) == (
        "ok",
        "B1",
        "picked",
        None,
    )
    body = await get_json(client, f"/api/v1/route?store=B1&lat={MALL[0]}&lng={MALL[1]}&coord=gcj02")
    assert body["store"]["id"] == "B1"
    assert body["distance_m"] > 1_000_000
    body = await get_json(client, "/api/v1/route")
    assert body["status"] == "no_location"
    body = await get_json(client, "/api/v1/route?store=nope", status=404)
    assert body["error"]["code"] == "store_not_found"


async def test_a_store_pinned_entry_wins_nearby_and_without_location_but_not_from_afar(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1", "S3", "B1"))
    await pool.execute(
        "INSERT INTO entries (code, kind, store_id) VALUES ('s3-counter', 'store', 'S3')"
    )
    client = await make_client(pin_max_distance_m=3000.0)
    body = await get_json(
        client, f"/api/v1/route?lat={MALL[0]}&lng={MALL[1]}&coord=gcj02&entry=s3-counter"
    )
    assert (body["store"]["id"], body["matched_by"]) == ("S3", "entry")
    body = await get_json(client, "/api/v1/route?entry=s3-counter")
    assert (body["store"]["id"], body["matched_by"]) == ("S3", "entry")
    # A photo of the code scanned in Beijing: location decides.
    body = await get_json(
        client, "/api/v1/route?lat=39.9087&lng=116.4605&coord=gcj02&entry=s3-counter"
    )
    assert (body["store"]["id"], body["matched_by"]) == ("B1", "nearest")
    # Unknown entry codes never break the page.
    body = await get_json(client, "/api/v1/route?entry=never-printed")
    assert body["status"] == "no_location"


async def test_a_service_area_beats_a_nearer_store(pool: asyncpg.Pool, make_client: Any) -> None:
    area = "POLYGON((121.47 31.225, 121.48 31.225, 121.48 31.235, 121.47 31.235, 121.47 31.225))"
    await seed(
        pool,
        [*STORES[:2], store_row("S3", lat=31.2200, lng=121.4900, service_area=area)],
        groups_for("S1", "S2", "S3"),
    )
    client = await make_client()
    body = await get_json(client, f"/api/v1/route?lat={MALL[0]}&lng={MALL[1]}&coord=gcj02")
    assert (body["store"]["id"], body["matched_by"]) == ("S3", "area")
    assert body["distance_m"] > 1000


async def test_a_coarse_fix_is_marked_so_the_page_can_offer_a_choice(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1"))
    client = await make_client(coarse_accuracy_m=500.0)
    body = await get_json(client, f"/api/v1/route?lat={MALL[0]}&lng={MALL[1]}&coord=gcj02&acc=1500")
    assert body["coarse"] is True
    assert len(body["alternatives"]) == 2


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("lat=abc&lng=121", "bad_coordinates"),
        ("lat=31&lng=", "missing_coordinate"),
        ("lng=121", "missing_coordinate"),
        ("lat=91&lng=121", "bad_coordinates"),
        ("lat=31&lng=-181", "bad_coordinates"),
        ("lat=nan&lng=121", "missing_coordinate"),  # NaN is JavaScript's "no number"
        ("lat=31&lng=null", "missing_coordinate"),
        ("lat=undefined&lng=121", "missing_coordinate"),
        ("lat=inf&lng=121", "bad_coordinates"),
        ("lat=31&lng=121&coord=utm", "bad_coord_system"),
        ("lat=31&lng=121&acc=-1", "bad_accuracy"),
        ("lat=31&lng=121&acc=lots", "bad_accuracy"),
        # Found by schemathesis: accepted, then refused by PostgreSQL, so the scan's event was lost.
        ("lat=31&lng=121&acc=1e300", "bad_accuracy"),
        ("entry=../../etc", "bad_entry"),
        ("entry=" + "x" * 65, "bad_entry"),
        ("store=" + "x" * 65, "bad_store"),
        ("lat=" + "1" * 100 + "&lng=1", "bad_coordinates"),
        ("lat=%ff&lng=1", "bad_coordinates"),
        ("lat=0x1f&lng=1", "bad_coordinates"),
        ("lat=1e400&lng=1", "bad_coordinates"),
        ("lat=31&lng=121&coord=%00", "bad_coord_system"),
        # Found by schemathesis: echoed into Set-Cookie (aiohttp refused a control character and
        # dropped the connection; "; Domain=..." would have gone through).
        ("stk=%1F", "bad_sticky"),
        ("stk=x;%20Domain=evil.example;%20Max-Age=99999999", "bad_sticky"),
    ],
)
async def test_bad_route_input_is_a_json_400_with_a_stable_code(
    pool: asyncpg.Pool, make_client: Any, query: str, code: str
) -> None:
    client = await make_client()
    body = await get_json(client, f"/api/v1/route?{query}", status=400)
    assert body["error"]["code"] == code
    assert body["error"]["message"]


# What a JavaScript web view puts in a URL for a value it does not have: String(null),
# String(undefined), String(NaN), an empty value (and the same in other cases).
JS_NOTHING = ["", "null", "undefined", "NaN", "NULL", "Undefined", "nan"]
LOCATED = {
    "lat": "31.2304",
    "lng": "121.4737",
    "coord": "gcj02",
    "acc": "20",
    "entry": "counter-1",
    "store": "S1",
    "vid": "visitor-1234",
    "stk": "",
}


@pytest.mark.parametrize("nothing", JS_NOTHING)
@pytest.mark.parametrize("name", ["coord", "acc", "entry", "store", "vid", "stk"])
def test_javascripts_spellings_of_nothing_leave_an_optional_parameter_out(
    name: str, nothing: str
) -> None:
    without = {k: v for k, v in LOCATED.items() if k != name}
    assert parse_route_query({**LOCATED, name: nothing}) == parse_route_query(without)


@pytest.mark.parametrize("nothing", JS_NOTHING)
def test_javascripts_spellings_of_nothing_for_a_location(nothing: str) -> None:
    # Both missing: no location (the customer refused it), not an error.
    both = parse_route_query({**LOCATED, "lat": nothing, "lng": nothing})
    assert both.point is None
    # One of the pair missing: a clear 400 naming it.
    for name, other in (("lat", "lng"), ("lng", "lat")):
        with pytest.raises(BadInput) as refused:
            parse_route_query({**LOCATED, name: nothing})
        assert refused.value.code == "missing_coordinate"
        assert f"{name} is missing" in refused.value.message
        assert other not in refused.value.message.rpartition(";")[2]


async def test_a_web_view_sending_acc_null_gets_its_nearest_store(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1", "S2", "S3", "B1"))
    client = await make_client()
    here = f"/api/v1/route?lat={MALL[0]}&lng={MALL[1]}&coord=gcj02"
    plain = await get_json(client, here)
    client.session.cookie_jar.clear()
    # What iOS web views send when the accuracy is unknown, and its cousins for other values.
    body = await get_json(client, here + "&acc=null&entry=undefined&vid=undefined&stk=null")
    assert body["status"] == "ok" and body["store"] == plain["store"]
    assert body["coarse"] is False and body["matched_by"] == "nearest"
    # "undefined" is no visitor id: every such customer would otherwise be one visitor.
    assert body["visitor"] not in ("undefined", plain["visitor"])


async def test_odd_bytes_anywhere_never_cause_a_server_error(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1"))
    client = await make_client()
    for path in [
        "/api/v1/stores?q=%ff%fe",
        "/api/v1/stores?city=%00",
        "/api/v1/route?store=%ff",
        "/api/v1/route?entry=%E4%B8%AD",
        "/qr/1.png?v=%ff&s=%00",
        "/qr/99999999999999999.png?v=1&s=x",
        "/api/v1/route?lat=31&lat=32&lng=121",
        "/%2e%2e/%2e%2e/etc/passwd",
    ]:
        response = await client.get(path)
        assert 200 <= response.status < 500, path
        assert response.headers["Content-Type"].startswith("application/json"), path


async def test_zero_zero_is_a_real_place_not_a_missing_one(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("GH", lat=0.001, lng=0.001, coord="wgs84")], groups_for("GH"))
    client = await make_client()
    body = await get_json(client, "/api/v1/route?lat=0&lng=0")
    assert body["store"]["id"] == "GH"


async def test_the_qr_image_decodes_to_the_group_payload_and_is_strongly_cached(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1"))
    client = await make_client()
    body = await get_json(client, "/api/v1/route?store=S1")
    path = qr_path(body["group"]["qr_url"])
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/png"
    assert "immutable" in response.headers["Cache-Control"]
    # Caches may keep it as long as its link works, and no longer.
    max_age = int(response.headers["Cache-Control"].split("max-age=")[1].split(",")[0])
    assert 0 < max_age <= body["group"]["qr_expires_at"] - time.time() + 1
    png = await response.read()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [d.text for d in decoded] == ["https://weixin.qq.com/g/TESTS1-G1"]
    again = await client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    expired = await get_json(client, expired_qr_path(body["group"]["qr_url"]), status=410)
    assert expired["error"]["code"] == "qr_link_expired"


async def test_qr_urls_cannot_be_forged_or_enumerated(pool: asyncpg.Pool, make_client: Any) -> None:
    await seed(pool, STORES, groups_for("S1", "S2"))
    client = await make_client()
    good = qr_path((await get_json(client, "/api/v1/route?store=S1"))["group"]["qr_url"])
    pk = good.split("/qr/")[1].split(".png")[0]
    other = str(int(pk) + 1)
    expires = int(good.split("&e=")[1].split("&")[0])
    for path in [
        good.replace(f"/qr/{pk}.png", f"/qr/{other}.png"),  # another group, same signature
        good.replace("v=1", "v=2"),  # another version
        good.replace(f"e={expires}", f"e={expires + 86_400}"),  # a longer life
        good.replace(f"e={expires}", f"e=+{expires}"),  # the same number, spelt otherwise
        good.split("&s=")[0] + "&s=AAAAAAAAAAAAAAAAAAAAAA",  # forged signature
        good.replace(f"&e={expires}", ""),  # no expiry
        f"/qr/{pk}.png",  # no signature
        "/qr/999999.png?v=1&e=9999999999&s=x",  # no such group
    ]:
        body = await get_json(client, path, status=404)
        assert body["error"]["code"] == "qr_not_found"


async def test_a_new_qr_payload_invalidates_the_old_image_url(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1"))
    client = await make_client()
    old = qr_path((await get_json(client, "/api/v1/route?store=S1"))["group"]["qr_url"])
    await seed(
        pool, STORES[:1], [group_row("S1-G1", "S1", qr_payload="https://weixin.qq.com/g/RENEWED")]
    )
    new = await wait_for_route(
        client, "/api/v1/route?store=S1", lambda b: qr_path(b["group"]["qr_url"]) != old
    )
    assert (await client.get(old)).status == 404
    png = await (await client.get(qr_path(new["group"]["qr_url"]))).read()
    assert (
        zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))[0].text
        == "https://weixin.qq.com/g/RENEWED"
    )


async def wait_for_route(client: Any, url: str, done: Any, within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        response = await client.get(url)
        body = await response.json()
        if response.status == 200 and done(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"no change within {within}s: {body}")
        await asyncio.sleep(0.05)


async def test_an_import_reaches_the_running_service_without_a_restart(
    pool: asyncpg.Pool, make_client: Any, settings: Any
) -> None:
    await seed(pool, STORES[:1], groups_for("S1"))
    client = await make_client()
    body = await get_json(client, "/api/v1/route?lat=39.9087&lng=116.4605&coord=gcj02")
    assert body["status"] == "no_store_nearby"
    data = "store_id,name,city,address,lat,lng,coord\nB1,国贸店,北京,建国门外大街,39.9087,116.4605,gcj02\n".encode()
    await import_file(
        pool, "stores", data, "s.csv", timezone="Asia/Shanghai", max_bytes=10**6, max_rows=10
    )
    body = await wait_for_route(
        client,
        "/api/v1/route?lat=39.9087&lng=116.4605&coord=gcj02",
        lambda b: b["store"] is not None,
    )
    assert body["store"]["id"] == "B1"
    assert body["status"] == "no_group"


async def test_the_store_picker_filters_by_city_and_text(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES)
    client = await make_client()
    body = await get_json(client, "/api/v1/stores?city=上海")
    assert [s["id"] for s in body["stores"]] == ["S2", "S1", "S3"]  # name order
    assert body["total"] == 3
    body = await get_json(client, "/api/v1/stores?q=马当路")
    assert [s["id"] for s in body["stores"]] == ["S3"]
    body = await get_json(client, "/api/v1/stores?city=上海&limit=1&offset=1")
    assert ([s["id"] for s in body["stores"]], body["total"]) == (["S1"], 3)
    body = await get_json(client, "/api/v1/stores?city=火星")
    assert body["stores"] == []
    for bad in [
        "",
        "?city=上海&limit=0",
        "?city=上海&limit=x",
        "?q=" + "x" * 65,
        "?city=上海&offset=-1",
    ]:
        body = await get_json(client, f"/api/v1/stores{bad}", status=400)
        assert body["error"]["code"] == "bad_query"


async def test_cities_are_listed_with_store_counts(pool: asyncpg.Pool, make_client: Any) -> None:
    await seed(pool, STORES)
    client = await make_client()
    body = await get_json(client, "/api/v1/cities")
    assert body == {"cities": [{"name": "上海", "stores": 3}, {"name": "北京", "stores": 1}]}


async def test_inactive_stores_are_never_routed_to(pool: asyncpg.Pool, make_client: Any) -> None:
    await seed(
        pool, [store_row("S1", active="false"), store_row("S2", lat=31.25)], groups_for("S1", "S2")
    )
    client = await make_client()
    body = await get_json(client, f"/api/v1/route?lat={MALL[0]}&lng={MALL[1]}&coord=gcj02")
    assert body["store"]["id"] == "S2"
    await get_json(client, "/api/v1/route?store=S1", status=404)


async def test_health_endpoints(pool: asyncpg.Pool, make_client: Any) -> None:
    await seed(pool, STORES, groups_for("S1"))
    client = await make_client()
    assert await get_json(client, "/livez") == {"status": "ok"}
    ready = await get_json(client, "/readyz")
    assert (ready["status"], ready["stores"], ready["groups"]) == ("ready", 4, 1)


async def test_readyz_reports_a_database_that_does_not_answer_and_scans_go_on(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    from router.keys import POOL

    await seed(pool, STORES, groups_for("S1"))
    # Displays leased ahead of need (scans that do not wait for a lease): shown from memory.
    client = await make_client(lease_wait_s=0)
    assert (await get_json(client, "/readyz"))["database"] == "ok"
    await client.app[POOL].close()  # the pool is gone: as good as PostgreSQL being down

    async def degraded() -> Any:
        body = await get_json(client, "/readyz")  # still serving: stays in rotation
        return body if body["status"] == "degraded" else None

    body = await eventually(degraded)
    assert body["database"] == "unavailable"
    assert body["degraded_for_s"] >= 0 and body["database_error"]
    assert (await get_json(client, "/api/v1/route?store=S1"))["status"] == "ok"
    assert "huoma_database_available 0.0" in await (await client.get("/metrics")).text()


async def test_metrics_have_fine_latency_buckets_and_outcomes_without_store_labels(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1"))
    client = await make_client()
    await client.get("/api/v1/route?store=S1")
    await client.get("/api/v1/route?lat=x&lng=1")
    response = await client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert (
        'huoma_http_request_duration_seconds_bucket{endpoint="route",le="5e-05",method="GET",status="200"}'
        in text
    )
    assert 'huoma_route_outcomes_total{outcome="ok"} 1.0' in text
    assert 'huoma_route_outcomes_total{outcome="bad_input"} 1.0' in text
    assert "S1" not in text
    assert "huoma_catalogue_stores 4.0" in text


async def test_unknown_paths_and_methods_are_json_errors(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    body = await get_json(client, "/no/such/thing", status=404)
    assert body["error"]["code"] == "not_found"
    response = await client.post("/api/v1/route")
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


async def test_the_openapi_document_describes_every_public_route(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client()
    response = await client.get("/openapi.yaml")
    assert response.status == 200
    doc = yaml.safe_load(await response.text())
    documented = {
        (path, method.upper())
        for path, operations in doc["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "delete", "patch")
    }
    served = {
        (r.resource.canonical.replace(r"{pk}", "{group}"), r.method)
        for r in client.app.router.routes()
        if r.resource is not None and r.method not in ("HEAD", "OPTIONS")
    }
    assert served == documented


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` becomes JSON Schema's "or null"."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_json_schema(v) for k, v in node.items() if k != "nullable"}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


async def test_answers_match_the_schemas_the_openapi_document_promises(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, STORES, groups_for("S1"))
    client = await make_client()
    doc = yaml.safe_load(await (await client.get("/openapi.yaml")).text())
    defs = _nullable_to_json_schema(doc["components"]["schemas"])
    cases = {
        "RouteAnswer": [
            "/api/v1/route?store=S1",
            "/api/v1/route",
            "/api/v1/route?lat=1&lng=1",
            "/api/v1/route?store=S2",
            "/api/v1/route?store=S3",
            f"/api/v1/route?lat={MALL[0]}&lng={MALL[1]}&acc=900",
        ],
        "Error": ["/api/v1/route?lat=x&lng=1", "/api/v1/route?store=nope", "/nowhere"],
    }
    for name, urls in cases.items():
        schema = {"$ref": f"#/$defs/{name}", "$defs": defs}
        for url in urls:
            response = await client.get(url)
            jsonschema.validate(await response.json(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"status": "maybe"}, {"$ref": "#/$defs/RouteAnswer", "$defs": defs})
