"""The connection guard of a real `huoma serve` over real sockets: connections per client address,
a deadline for a request's headers, keep-alive, and descriptors kept from clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from router.settings import Settings
from tests.conftest import ADMIN_TOKEN, eventually, group_row, seed, store_row
from tests.serving import Server

pytestmark = pytest.mark.db

# Loopback has every 127.x.y.z: each stands for another client machine.
FLOODER = "127.0.0.3"
CUSTOMER = "127.0.0.2"
# Only a hang guard: every read below ends at once or when the server acts.
HANG_S = 30.0
STORES_CSV = "store_id,name,city,address,lat,lng,coord\nS9,新店,上海,人民路 9 号,31.2,121.4,gcj02\n"


class Conn:
    """One raw HTTP/1.1 connection from a chosen source address."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, server: Server, source: str) -> Conn:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, local_addr=(source, 0)
        )
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def closed_by_server(self) -> bool:
        """Whether the server closes it before answering anything."""
        try:
            data = await asyncio.wait_for(self.reader.read(1), HANG_S)
        except ConnectionResetError:
            return True
        return data == b""

    async def response(self) -> int | None:
        """The status of the next response (its body read), or None: closed instead."""
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), HANG_S)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(lines[0].split()[1])

    async def get(self, path: str) -> int | None:
        self.send(f"GET {path} HTTP/1.1\r\nHost: huoma.test\r\n\r\n".encode())
        return await self.response()

    def close(self) -> None:
        self.writer.close()


@contextlib.asynccontextmanager
async def connections() -> AsyncIterator[list[Conn]]:
    opened: list[Conn] = []
    try:
        yield opened
    finally:
        for c in opened:
            c.close()


async def scan_from(server: Server, source: str) -> int:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(f"{server.base}/api/v1/route?store=S1") as response,
    ):
        body = await response.json()
        assert response.status != 200 or body["status"] == "ok"
        return response.status


async def test_one_address_gets_its_connections_and_no_more_and_others_still_scan(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    # Header and keep-alive deadlines far away: here only the cap closes anything.
    server = Server(
        settings,
        1,
        HUOMA_CONNECTIONS_PER_IP="20",
        HUOMA_HEADER_TIMEOUT_S="120",
        HUOMA_KEEPALIVE_S="120",
    )
    servers.append(server)
    await server.wait_ready(1)
    async with connections() as held:
        # As many as the cap allows, half of them idle and half with headers half sent.
        for i in range(20):
            c = await Conn.open(server, FLOODER)
            if i % 2:
                c.send(b"GET /livez HTTP/1.1\r\nHost: huoma.test\r\n")
            held.append(c)
        # More from the same address are closed at once, whatever they send.
        extra = [await Conn.open(server, FLOODER) for _ in range(15)]
        for i, c in enumerate(extra):
            if i % 2:
                c.send(b"GET /livez HTTP/1.1\r\nHost: huoma.test\r\n\r\n")
        assert [await c.closed_by_server() for c in extra] == [True] * 15
        for c in extra:
            c.close()
        # Another address scans as usual.
        assert [await scan_from(server, CUSTOMER) for _ in range(3)] == [200] * 3
        # The admitted ones were kept: the idle ones ask, the half-sent ones finish their request.
        for i, c in enumerate(held):
            if i % 2:
                c.send(b"\r\n")
                assert await c.response() == 200
            else:
                assert await c.get("/livez") == 200
        # A connection given up makes room for another from that address.
        held.pop().close()

        async def admitted() -> bool:
            c = await Conn.open(server, FLOODER)
            status = await c.get("/livez")
            if status is None:
                c.close()
                return False
            held.append(c)
            return status == 200

        await eventually(admitted)
        customer = await Conn.open(server, CUSTOMER)
        held.append(customer)
        customer.send(b"GET /metrics HTTP/1.1\r\nHost: huoma.test\r\n\r\n")
        head = await customer.reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        metrics = (await customer.reader.readexactly(length)).decode()
        closed = metrics.split('huoma_connections_closed_total{reason="per_address"} ')[1]
        # (The room made above may have been found on a second try.)
        assert float(closed.split()[0]) >= 15
    # Logged, at most every few seconds, with the address.
    assert "per_address), last from 127.0.0.3" in server.log.read_text()


async def test_trusted_proxies_are_not_capped(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    server = Server(
        settings,
        1,
        HUOMA_CONNECTIONS_PER_IP="3",
        HUOMA_TRUSTED_PROXIES=f"{FLOODER}/32",
        HUOMA_HEADER_TIMEOUT_S="120",
    )
    servers.append(server)
    await server.wait_ready(1)
    async with connections() as held:
        for _ in range(10):
            held.append(await Conn.open(server, FLOODER))
        assert [await c.get("/livez") for c in held] == [200] * 10


async def test_a_request_whose_headers_do_not_arrive_in_time_is_closed(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    server = Server(settings, 1, HUOMA_HEADER_TIMEOUT_S="0.5", HUOMA_KEEPALIVE_S="4")
    servers.append(server)
    await server.wait_ready(1)
    async with connections() as held:
        # Half-sent headers, and nothing at all: closed at the header deadline.
        half = await Conn.open(server, FLOODER)
        half.send(b"GET /api/v1/route?store=S1 HTTP/1.1\r\nHost: huoma.test\r\n")
        silent = await Conn.open(server, FLOODER)
        held += [half, silent]
        assert await half.closed_by_server()
        assert await silent.closed_by_server()
        # A body may take longer than the header deadline: only headers are timed.
        slow = await Conn.open(server, CUSTOMER)
        held.append(slow)
        body = STORES_CSV.encode()
        slow.send(
            b"POST /admin/api/uploads/stores?filename=stores.csv HTTP/1.1\r\n"
            b"Host: huoma.test\r\n"
            + f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        for i in range(0, len(body), len(body) // 3 + 1):
            await asyncio.sleep(0.4)
            slow.send(body[i : i + len(body) // 3 + 1])
        assert await slow.response() == 200
        # Waiting between requests is keep-alive, not a late header.
        await asyncio.sleep(1.0)
        assert await slow.get("/livez") == 200
        # The next request's headers are timed again from its first byte.
        slow.send(b"GET /livez HTTP/1.1\r\n")
        assert await slow.closed_by_server()
        # And an idle connection is closed after the keep-alive time.
        idle = await Conn.open(server, CUSTOMER)
        held.append(idle)
        assert await idle.get("/livez") == 200
        assert await idle.closed_by_server()
    assert 'reason="header_timeout"' in await metrics_text(server)


async def metrics_text(server: Server) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.base}/metrics") as response,
    ):
        return await response.text()


async def test_client_connections_leave_descriptors_for_postgresql(
    pool: asyncpg.Pool, settings: Settings, servers: list[Server]
) -> None:
    await seed(pool, [store_row("S1")], [group_row("G1")])
    # 256 descriptors, 160 of them kept from clients: whatever the worker holds already, clients
    # get fewer than 96.
    server = Server(
        settings,
        1,
        nofile=256,
        HUOMA_FD_RESERVE="160",
        HUOMA_CONNECTIONS_PER_IP="0",
        HUOMA_HEADER_TIMEOUT_S="120",
        HUOMA_KEEPALIVE_S="120",
    )
    servers.append(server)
    await server.wait_ready(1)
    async with connections() as held:
        ops = await Conn.open(server, CUSTOMER)  # opened before the flood
        held.append(ops)
        assert await ops.get("/livez") == 200
        admitted = refused = 0
        for _ in range(300):
            c = await Conn.open(server, FLOODER)
            status = await c.get("/livez")
            if status is None:
                refused += 1
                c.close()
                if refused == 10:
                    break
            else:
                assert status == 200
                admitted += 1
                held.append(c)
        assert refused == 10 and 0 < admitted < 96
        # Still an upload reaches PostgreSQL and a scan is answered on the open connection.
        body = STORES_CSV.encode()
        ops.send(
            b"POST /admin/api/uploads/stores?filename=stores.csv HTTP/1.1\r\nHost: huoma.test\r\n"
            + f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert await ops.response() == 200
        assert await ops.get("/api/v1/route?store=S1") == 200
    assert await pool.fetchval("SELECT name FROM stores WHERE store_id = 'S9'") == "新店"
