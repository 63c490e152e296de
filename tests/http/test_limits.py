"""Rate limits: per client address and per visitor, 429 with Retry-After, proxies believed only
when configured."""

from __future__ import annotations

import ipaddress
from typing import Any

import asyncpg
import pytest

from router.scan.limits import Buckets, client_address, client_key, parse_networks
from tests.conftest import ADMIN_TOKEN, eventually, group_row, seed, store_row

SCAN = "/api/v1/route?store=S1"


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    b = Buckets(per_minute=60, burst=3)
    assert [b.take("k", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("k", now=100.0) == pytest.approx(1.0)  # one a second
    assert b.take("k", now=100.5) == pytest.approx(0.5)
    assert b.take("k", now=101.0) == 0.0
    assert b.take("other", now=101.0) == 0.0  # keys are independent
    assert Buckets(per_minute=0, burst=0).take("k") == 0.0  # 0 is no limit


def test_forwarded_addresses_are_believed_only_from_trusted_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/8", "127.0.0.1"])
    assert client_address("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"
    assert client_address("10.1.2.3", "1.2.3.4", proxies) == "1.2.3.4"
    # The client may put anything on the left; the right-most untrusted hop is the truth.
    assert client_address("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.9.9.9", proxies) == "1.2.3.4"
    assert client_address("10.1.2.3", "not-an-ip", proxies) == "10.1.2.3"
    assert client_address("10.1.2.3", None, proxies) == "10.1.2.3"
    assert client_address("10.1.2.3", "1.2.3.4", ()) == "10.1.2.3"
    assert isinstance(proxies[0], ipaddress.IPv4Network)


def test_an_ipv6_client_is_counted_by_its_network_and_a_mapped_ipv4_one_by_its_address() -> None:
    proxies = parse_networks(["10.0.0.0/8"])

    def key(peer: str, forwarded: str | None = None, prefix: int = 64) -> str:
        return client_key(peer, forwarded, proxies, prefix)

    # Every address of one /64 is one client, whether it is the peer or forwarded by a proxy.
    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert key("10.0.0.1", "2001:db8:1:2:abcd::9") == "2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")
    # Written out in full, upper case, or with a zone: still the same network.
    assert key("2001:0DB8:0001:0002:0000:0000:0000:0001") == "2001:db8:1:2::/64"
    assert key("fe80::1%eth0") == "fe80::/64"
    # The prefix length is a setting.
    assert key("2001:db8:1:2::1", prefix=48) == key("2001:db8:1:9::1", prefix=48)
    assert key("2001:db8:1:2::1", prefix=128) != key("2001:db8:1:2::2", prefix=128)
    # IPv4-mapped IPv6 (a dual-stack socket, or a proxy that writes it so) is the IPv4 address.
    assert key("::ffff:198.51.100.7") == key("198.51.100.7") == "198.51.100.7"
    assert key("10.0.0.1", "::ffff:198.51.100.7") == "198.51.100.7"
    # A proxy seen through a dual-stack socket is still the trusted proxy.
    assert key("::ffff:10.0.0.1", "198.51.100.8") == "198.51.100.8"
    assert key("198.51.100.9") == "198.51.100.9"


@pytest.mark.db
async def test_a_visitor_scanning_too_often_gets_429_with_retry_after(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    client = await make_client(rate_route_per_visitor=6, rate_route_visitor_burst=2)
    for _ in range(2):
        assert (await client.get(SCAN + "&vid=visitor-aaaa")).status == 200
    refused = await client.get(SCAN + "&vid=visitor-aaaa")
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "10"  # 6 a minute: one every 10 s
    error = (await refused.json())["error"]
    assert error["code"] == "rate_limited" and "visitor" in error["message"]
    assert (await client.get(SCAN + "&vid=visitor-bbbb")).status == 200

    # A refused scan is not an answered one: it leaves no event (three answers, three events).
    async def flushed() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM scan_events") == 3)

    await eventually(flushed)
    metrics = await (await client.get("/metrics")).text()
    assert 'huoma_route_outcomes_total{outcome="rate_limited"} 1.0' in metrics


@pytest.mark.db
async def test_an_address_and_the_picker_are_limited_too(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    client = await make_client(
        rate_route_per_ip=60, rate_route_ip_burst=3, rate_picker_per_ip=60, rate_picker_ip_burst=2
    )
    statuses = [(await client.get(SCAN)).status for _ in range(4)]  # new visitors every time
    assert statuses == [200, 200, 200, 429]
    picker = [(await client.get("/api/v1/cities")).status for _ in range(3)]
    assert picker == [200, 200, 429]


@pytest.mark.db
async def test_behind_a_trusted_proxy_each_customer_has_their_own_limit(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    client = await make_client(
        rate_route_per_ip=60, rate_route_ip_burst=1, trusted_proxies=("127.0.0.1",)
    )

    async def status(forwarded: str) -> int:
        response = await client.get(SCAN, headers={"X-Forwarded-For": forwarded})
        return int(response.status)

    assert await status("198.51.100.1") == 200
    assert await status("198.51.100.1") == 429
    assert await status("198.51.100.2") == 200
    # Untrusted, the same header would not split anyone: a new test client, no proxies.
    plain = await make_client(rate_route_per_ip=60, rate_route_ip_burst=1)
    assert (await plain.get(SCAN, headers={"X-Forwarded-For": "198.51.100.3"})).status == 200
    assert (await plain.get(SCAN, headers={"X-Forwarded-For": "198.51.100.4"})).status == 429


@pytest.mark.db
async def test_an_address_that_keeps_failing_admin_logins_is_refused_for_a_while(
    pool: asyncpg.Pool, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(rate_admin_failures_per_ip=6, rate_admin_failures_burst=2)
    wrong = {"Authorization": "Bearer guess-guess-guess-guess"}
    assert (await client.get("/admin/api/health", headers=wrong)).status == 401
    assert (await client.get("/admin/api/health")).status == 401  # no token counts too
    refused = await client.get("/admin/api/health", headers=wrong)
    assert refused.status == 429 and refused.headers["Retry-After"] == "10"
    assert (await refused.json())["error"]["code"] == "rate_limited"
    # Even the right token is refused from that address until the wait is over: no guessing.
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert (await client.get("/admin/api/health", headers=right)).status == 429
    # Failures are logged with the address; no token ever reaches a log.
    assert "rejected token from 127.0.0.1" in caplog.text
    assert "guess-guess" not in caplog.text and ADMIN_TOKEN not in caplog.text


@pytest.mark.db
async def test_successful_logins_spend_nothing(pool: asyncpg.Pool, make_client: Any) -> None:
    client = await make_client(rate_admin_failures_per_ip=6, rate_admin_failures_burst=1)
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert [(await client.get("/admin/api/health", headers=right)).status for _ in range(5)] == [
        200
    ] * 5


@pytest.mark.db
async def test_nobody_walks_the_picker_to_collect_every_stores_group(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    stores = [store_row(f"S{i}", lat=31.2 + i / 1000) for i in range(1, 6)]
    await seed(pool, stores, [group_row(f"G{i}", f"S{i}") for i in range(1, 6)])
    client = await make_client(
        rate_picks_per_visitor=1,
        rate_picks_visitor_burst=2,
        rate_picks_per_ip=2,
        rate_picks_ip_burst=4,
    )
    vid = "&vid=visitor-picker"
    picks = [(await client.get(f"/api/v1/route?store=S{i}{vid}")).status for i in (1, 2, 3)]
    assert picks == [200, 200, 429]  # a customer picks one or two stores; a walker is stopped
    # Located scans are not picks: the same visitor still gets answers where they stand.
    located = await client.get("/api/v1/route?lat=31.2&lng=121.47&coord=gcj02" + vid)
    assert located.status == 200
    # Without cookies every request is a new visitor: the address limit binds then.
    fresh = []
    for i in (4, 5):
        client.session.cookie_jar.clear()
        fresh.append((await client.get(f"/api/v1/route?store=S{i}")).status)
    # Four picks from this address in all (the refused one counted too), then it waits.
    assert fresh == [200, 429]


@pytest.mark.db
async def test_addresses_of_one_ipv6_network_share_every_per_address_limit(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    stores = [store_row(f"S{i}", lat=31.2 + i / 1000) for i in range(1, 4)]
    await seed(pool, stores, [group_row(f"G{i}", f"S{i}") for i in range(1, 4)])
    client = await make_client(
        rate_picks_per_ip=1, rate_picks_ip_burst=60, trusted_proxies=("127.0.0.1",)
    )

    async def pick(forwarded: str, n: int) -> int:
        client.session.cookie_jar.clear()  # a new visitor every time: only the address binds
        response = await client.get(
            f"/api/v1/route?store=S{1 + n % 3}", headers={"X-Forwarded-For": forwarded}
        )
        return int(response.status)

    # 300 picks from 300 addresses of one /64 (any phone may use them all): the burst, then 429
    # (one a minute refills, so one more may pass on a slow machine).
    statuses = [await pick(f"2001:db8:77:1::{i + 1:x}", i) for i in range(300)]
    assert statuses[:60] == [200] * 60
    assert statuses[60:].count(200) <= 1 and statuses[-1] == 429
    # Another /64 is another client.
    assert await pick("2001:db8:77:2::1", 0) == 200
    # An IPv4 address and its IPv4-mapped IPv6 form are one client.
    assert [await pick("198.51.100.20", i) for i in range(60)] == [200] * 60
    assert await pick("::ffff:198.51.100.20", 0) == 429


@pytest.mark.db
async def test_failed_admin_logins_count_per_ipv6_network(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    client = await make_client(
        rate_admin_failures_per_ip=1, rate_admin_failures_burst=2, trusted_proxies=("127.0.0.1",)
    )
    wrong = {"Authorization": "Bearer guess-guess-guess-guess"}
    statuses = [
        (
            await client.get(
                "/admin/api/health",
                headers={**wrong, "X-Forwarded-For": f"2001:db8:99:1::{i + 1:x}"},
            )
        ).status
        for i in range(3)
    ]
    assert statuses == [401, 401, 429]
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    elsewhere = await client.get(
        "/admin/api/health", headers={**right, "X-Forwarded-For": "2001:db8:99:2::1"}
    )
    assert elsewhere.status == 200
