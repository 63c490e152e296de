"""The `huoma` command: serve, demo, import, template, user, wecom sync, migrate, settings."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import orjson
from aiohttp import web

from router.cli import demo, users
from router.errors import BadInput, HuomaError
from router.keys import IN_FLIGHT, METRICS
from router.ops import exports, upload_review
from router.ops.ocr import OcrService
from router.ops.picture_zip import ZIP_OPERATION, import_picture_zip
from router.ops.uploads import (
    ENCODINGS,
    ConfirmationError,
    ImportRejected,
    group_errors,
    import_file,
    import_table,
    parse_coord_param,
    parse_encoding,
    upload_operation,
)
from router.settings import Settings, SettingsError, markdown, sections
from router.store import sql
from router.store.db import (
    DB_ERRORS,
    EmbeddedPostgres,
    create_pool,
    failure,
    migrate,
    resolve_database,
)
from router.web.app import create_app
from router.web.connections import ConnectionGuard, GuardedRunner, raise_descriptor_limit
from router.web.logs import AccessLogger, configure
from router.wecom.service import open_service
from router.wecom.sync import StoreSync

log = logging.getLogger("huoma")
T = TypeVar("T")


def _kept_secret(settings: Settings, name: str) -> str:
    """A random secret generated once into data_dir/name (mode 0600) and read back after."""
    path = settings.data_dir / name
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    value = path.read_text().strip()
    if len(value) < 16:
        raise SettingsError(f"{path} holds a secret shorter than 16 characters")
    return value


def resolve_secret(settings: Settings) -> Settings:
    """The configured secret, or one generated once into data_dir/secret."""
    if settings.secret:
        return settings
    return settings.with_(secret=_kept_secret(settings, "secret"))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result


async def serve(
    settings: Settings,
    *,
    on_started: Callable[[], None] | None = None,
    reuse_port: bool = False,
) -> None:
    """Run the service until SIGTERM or SIGINT, then drain within the shutdown timeout."""
    soft, _ = raise_descriptor_limit()
    app = create_app(settings)
    guard = ConnectionGuard(settings, app[METRICS])
    runner = GuardedRunner(
        app,
        guard,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("huoma.access") if settings.access_log else None,
        shutdown_timeout=settings.shutdown_timeout_s,
        keepalive_timeout=settings.keepalive_s,
    )
    await runner.setup()
    site = web.TCPSite(
        runner,
        settings.host,
        settings.port,
        shutdown_timeout=settings.shutdown_timeout_s,
        reuse_port=reuse_port or None,
    )
    await site.start()
    log.info(
        "serving on http://%s:%d (public base %s; %d descriptors, %d kept from clients)",
        settings.host,
        settings.port,
        settings.base_url,
        soft,
        settings.fd_reserve,
    )
    if on_started is not None:
        on_started()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("stopping")
        # New connections go to the other workers; the requests this one holds finish first.
        await site.stop()
        left = await app[IN_FLIGHT].drain(settings.shutdown_timeout_s)
        if left:
            log.warning("%d request(s) still in flight after the shutdown timeout", left)
    finally:
        await runner.cleanup()


async def _with_pool(settings: Settings, fn: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        return await fn(pool)
    finally:
        await pool.close()


# A worker that dies within this many seconds of its start is crash-looping: back off.
CRASH_WINDOW_S = 5.0
CRASH_BACKOFF_MAX_S = 30.0


def supervise(settings: Settings, workers: int) -> int:
    """Run `workers` worker processes on one port (SO_REUSEPORT), restart any that die, and stop
    them all gracefully on SIGTERM or SIGINT.

    Workers get the resolved database URL and secret, so they share this process's embedded
    PostgreSQL (if any) and sign identical QR URLs.
    """
    env = {
        **os.environ,
        "HUOMA_DATABASE_URL": str(settings.database_url),
        "HUOMA_SECRET": settings.secret,
        "HUOMA_HOST": settings.host,
        "HUOMA_PORT": str(settings.port),
        "HUOMA_DATA_DIR": str(settings.data_dir),
        # What the command line decided (the demo's provider and token) holds in workers too.
        "HUOMA_GROUP_PROVIDER": settings.group_provider,
        "HUOMA_ADMIN_TOKENS": ",".join(settings.admin_tokens),
    }
    command = [sys.executable, "-m", "router.cli", "serve", "--reuse-port"]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env)  # noqa: S603  # our own interpreter and module

    children = [start() for _ in range(workers)]
    started = [time.monotonic()] * workers
    backoff = [0.0] * workers
    log.info("supervising %d workers on port %d", workers, settings.port)
    while not stopping:
        time.sleep(0.1)
        for i, child in enumerate(children):
            code = child.poll()
            if code is None or stopping:
                continue
            quick = time.monotonic() - started[i] < CRASH_WINDOW_S
            backoff[i] = min(CRASH_BACKOFF_MAX_S, backoff[i] * 2 or 0.5) if quick else 0.0
            log.error("worker %d exited with %s; restarting in %.1fs", child.pid, code, backoff[i])
            time.sleep(backoff[i])
            children[i] = start()
            started[i] = time.monotonic()
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + settings.shutdown_timeout_s + 5.0
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("worker %d did not stop in time; killing it", child.pid)
            child.kill()
            child.wait()
    return 0


def _print_rejection(exc: ImportRejected, lang: str | None = None) -> None:
    """Each kind of problem once, its rows as ranges ("第2-51行" / "rows 2-51"), in `lang`
    (None: Chinese, then English)."""
    exc.set_language(lang)
    print(f"import rejected: {exc.message}", file=sys.stderr)
    for group in group_errors(exc.all_errors, lang):
        print(f"  {group['message']}", file=sys.stderr)


def cmd_template(args: argparse.Namespace) -> int:
    suffix = "" if args.lang == "zh" else "-en"
    path = Path(args.output or f"huoma-{args.kind}-template{suffix}.{args.format}")
    try:
        path.write_bytes(exports.template(args.kind, args.format, args.lang))
    except OSError as exc:
        print(f"cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 2
    print(path)
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.kind == GROUP_PICTURES:
        return _import_group_pictures(settings, args, path, data)

    try:
        coord = parse_coord_param(args.coord)
    except BadInput as exc:
        print(exc.message, file=sys.stderr)
        return 2

    settings = resolve_secret(settings)

    async def once(pool: asyncpg.Pool, dry_run: bool, token: str | None) -> Any:
        return await import_file(
            pool,
            args.kind,
            data,
            path.name,
            timezone=settings.timezone,
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            dry_run=dry_run,
            wechat_lifetime=timedelta(hours=settings.wechat_qr_lifetime_h),
            encoding=parse_encoding(args.encoding),
            coord=coord,
            patch_max_stores=settings.patch_max_stores,
            checks=upload_review.checks(settings),
            confirm=upload_review.confirm(settings, token),
        )

    async def run(pool: asyncpg.Pool) -> Any:
        token = args.accept
        if args.yes and not args.dry_run and not token:
            # --yes: the dry run's own token; its warnings are printed with the summary.
            token = (await once(pool, True, None)).confirm_token
        return await once(pool, args.dry_run, token)

    try:
        summary = _run(_with_pool(settings, run))
    except ConfirmationError as exc:
        print(exc.message, file=sys.stderr)
        for w in exc.warnings[:50]:
            print(f"  {w.row}: [{w.code}] {w.text(None)}", file=sys.stderr)
        return 3
    except ImportRejected as exc:
        _print_rejection(exc, None if args.lang == "both" else args.lang)
        return 1
    except DB_ERRORS as exc:
        # Said like the admin API says it (and printed by main), not as a traceback.
        raise failure(exc, upload_operation(args.kind), f"file {path.name!r}") from exc
    print(orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2).decode())
    return 0


GROUP_PICTURES = "group-pictures"


def _import_group_pictures(
    settings: Settings, args: argparse.Namespace, path: Path, data: bytes
) -> int:
    """`huoma import group-pictures ZIP`: the same code as the admin API's ZIP upload."""

    async def run(pool: asyncpg.Pool) -> Any:
        ocr = None
        if not args.no_ocr:
            ocr = OcrService(timeout_s=settings.ocr_timeout_s, queue=settings.ocr_queue)
        try:
            return await import_picture_zip(
                pool, settings, ocr, data, dry_run=args.dry_run, use_ocr=ocr is not None
            )
        finally:
            if ocr is not None:
                ocr.close()

    try:
        result = _run(_with_pool(settings, run))
    except ImportRejected as exc:
        _print_rejection(exc)
        return 1
    except DB_ERRORS as exc:
        raise failure(exc, ZIP_OPERATION, f"file {path.name!r}") from exc
    print(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode())
    return 0


async def _load_demo(pool: asyncpg.Pool, stores: int, timezone: str) -> bool:
    async with pool.acquire() as conn:
        if await conn.fetchval(sql.COUNT_STORES):
            return False
    store_table, group_table = demo.generate(stores)
    await import_table(pool, "stores", store_table, timezone=timezone)
    await import_table(pool, "groups", group_table, timezone=timezone)
    return True


def cmd_wecom_sync(settings: Settings) -> int:
    if not settings.wecom_corp_id:
        print("huoma: WeCom is not configured (HUOMA_WECOM_CORP_ID and its keys)", file=sys.stderr)
        return 2

    async def run(pool: asyncpg.Pool) -> list[StoreSync]:
        service = open_service(pool, settings)
        try:
            return await service.sync.reconcile()
        finally:
            await service.close()

    results = _run(_with_pool(settings, run))
    for r in results:
        did = [w for w, done in (("created", r.created), ("updated", r.updated),
                                 ("deleted", r.deleted)) if done]  # fmt: skip
        if r.adopted:
            did.append(f"adopted {', '.join(r.adopted)}")
        what = r.error or ", ".join(did) or "in step"
        print(f"{r.store_id}: {what}" + (f" (chats {', '.join(r.chat_ids)})" if r.chat_ids else ""))
    failed = sum(1 for r in results if r.error)
    print(f"{len(results)} store(s) with WeCom, {failed} failed")
    return 1 if failed else 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    # The demo opens the ops page with a token of its own unless tokens are configured (`serve`
    # never does: without HUOMA_ADMIN_TOKENS its admin API stays closed).
    if not settings.admin_tokens:
        settings = settings.with_(admin_tokens=(_kept_secret(settings, "demo-admin-token"),))
    loaded = _run(
        _with_pool(settings, lambda pool: _load_demo(pool, args.stores, settings.timezone))
    )
    print("demo data:", f"generated {args.stores} stores" if loaded else "existing data kept")
    # And an admin account to sign in with on the ops page.
    password = _kept_secret(settings, "demo-admin-password")
    made = _run(_with_pool(settings, lambda pool: users.ensure_demo_admin(pool, password)))
    sign_in = (
        f"  sign in on {settings.base_url}/admin as {users.DEMO_ADMIN}, password {password}\n"
        f"  (kept in {settings.data_dir / 'demo-admin-password'}"
        + ("" if made else "; the account existed already: `huoma user reset demo-admin`")
        + ")\n"
    )
    base = settings.base_url

    def started() -> None:
        lat, lng = demo.CITIES[0][1], demo.CITIES[0][2]
        print(
            "\nHuoma demo is running. Try:\n"
            f"  {base}/api/v1/route?lat={lat}&lng={lng}&coord=gcj02&acc=30\n"
            f"  {base}/api/v1/cities\n"
            f"  {base}/api/v1/stores?city=上海&q=万象城\n"
            f"  {base}/openapi.yaml\n"
            f"  {base}/metrics\n"
            f"  {base}/readyz\n"
            f"  {base}/s/demo  (the customer page)\n"
            f"  {base}/admin  (the ops page)\n"
            + sign_in
            + f"  automation: Authorization: Bearer <the token in "
            f"{settings.data_dir / 'demo-admin-token'}> unless HUOMA_ADMIN_TOKENS is set\n"
            "Stop with Ctrl-C.",
            flush=True,
        )

    if args.workers > 1:
        started()
        return supervise(settings, args.workers)
    _run(serve(settings, on_started=started))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="huoma",
        description="Huoma (活码): one counter QR code, the nearest store's live WeChat group. "
        "Settings come from HUOMA_* environment variables (see `huoma settings`).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "serve",
        help="run the service",
        description="Run the HTTP service. With --workers N, a supervisor runs N worker "
        "processes on one port (SO_REUSEPORT), each with its own catalogue, and restarts any "
        "that die.",
    )
    s.add_argument("--host", help="address to listen on (default: HUOMA_HOST)")
    s.add_argument("--port", type=int, help="port to listen on (default: HUOMA_PORT)")
    s.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1; one per core)"
    )
    s.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    d = sub.add_parser(
        "demo",
        help="load a generated demo brand (unless data exists) and serve it",
        description="Start the (embedded) database, load a generated demo brand of stores in "
        "real Chinese cities and malls with 2-3 groups each unless stores exist, and serve it.",
    )
    d.add_argument(
        "--stores", type=int, default=3000, help="demo stores to generate (default 3000)"
    )
    d.add_argument("--host", help="address to listen on (default: HUOMA_HOST)")
    d.add_argument("--port", type=int, help="port to listen on (default: HUOMA_PORT)")
    d.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1; one per core)"
    )

    i = sub.add_parser(
        "import",
        help="import stores, groups, fallbacks or entry codes from XLSX, CSV or JSON",
        description="Validate every row and write all or nothing. Rows with errors are listed "
        "with row, column, value and reason; exit status 1 when the file is rejected.",
    )
    i.add_argument("kind", choices=("stores", "groups", "fallbacks", "entries", GROUP_PICTURES))
    i.add_argument(
        "file",
        help="XLSX (the sheet whose header is recognised), CSV or JSON file (UTF-8 with or "
        "without BOM, GB18030, Big5 or UTF-16), headers in Chinese or English; for "
        "group-pictures, a ZIP of group-code pictures named by group or store id, or with a "
        "sheet (picture, group_id, store_id columns) inside",
    )
    i.add_argument(
        "--no-ocr",
        action="store_true",
        help="group-pictures: decode the codes only, read no text on the cards (faster; names "
        "come from the sheet or stay as stored)",
    )
    i.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and count, write nothing; shows the encoding used and the first rows, "
        "the warnings, the changes and the token accepting the warnings",
    )
    i.add_argument(
        "--accept",
        metavar="TOKEN",
        help="commit a file with warnings: the confirm token its dry run printed (the same "
        "file and warnings only, before it expires)",
    )
    i.add_argument(
        "--yes",
        action="store_true",
        help="commit a file with warnings without a separate dry run: the warnings are printed "
        "and accepted as they are",
    )
    i.add_argument(
        "--encoding",
        choices=("auto", *ENCODINGS),
        default="auto",
        help="how a CSV or JSON file is encoded (default auto: detected)",
    )
    i.add_argument(
        "--coord",
        metavar="SOURCE",
        help="where a store file's coordinates come from, for a file without a coord column "
        "(a row's own coord cell wins): amap/高德, tencent/腾讯, baidu/百度, gps/wgs84, "
        "gcj02, bd09",
    )
    i.add_argument(
        "--lang",
        choices=("both", "zh", "en"),
        default="both",
        help="the language of the messages (default both, Chinese first)",
    )

    t = sub.add_parser(
        "template",
        help="write an upload template (Chinese or English headers, one example row)",
        description="The same template the ops page and GET /admin/api/templates give: the "
        "columns under the names ops write and one valid example row; an XLSX opens on a sheet "
        "explaining each column (说明 / Instructions).",
    )
    t.add_argument("kind", choices=("stores", "groups", "fallbacks", "entries"))
    t.add_argument("--format", choices=("xlsx", "csv", "json"), default="xlsx")
    t.add_argument("--lang", choices=("zh", "en"), default="zh", help="header language (zh)")
    t.add_argument("-o", "--output", help="file to write (default huoma-KIND-template[-en].FORMAT)")

    w = sub.add_parser(
        "wecom",
        help="WeCom join ways",
        description="WeCom (企业微信) join ways of the stores given WeCom chats.",
    )
    wsub = w.add_subparsers(dest="wecom_command", required=True, metavar="ACTION")
    wsub.add_parser(
        "sync",
        help="reconcile every store's join way with WeCom now and print what changed",
        description="Create, update, adopt and delete join ways so that WeCom and Huoma agree "
        "(the keeper does the same every HUOMA_WECOM_SYNC_S). Exit status 1 if a store failed.",
    )

    users.add_parser(sub)
    sub.add_parser("migrate", help="apply pending database migrations and exit")
    listing = sub.add_parser("settings", help="list every HUOMA_* setting with its default")
    listing.add_argument(
        "--markdown", action="store_true", help="print the README's settings tables instead"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "settings":
        if args.markdown:
            print(markdown(), end="")
            return 0
        for section, rows in sections():
            print(f"# {section.title}\n")
            for name, default, meaning in rows:
                print(f"{name}\n    default: {default}\n    {meaning}")
            print()
        return 0
    if args.command == "template":
        return cmd_template(args)
    try:
        settings = Settings.from_env(os.environ)
        if getattr(args, "host", None):
            settings = settings.with_(host=args.host)
        if getattr(args, "port", None) is not None:
            settings = settings.with_(port=args.port)
    except SettingsError as exc:
        print(f"huoma: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level)
    if args.command in ("serve", "demo"):
        # Before anything starts (the embedded database among them).
        if args.workers < 1:
            print("huoma: --workers must be at least 1", file=sys.stderr)
            return 2
        if args.workers > 1 and settings.port == 0:
            print("huoma: --workers needs a fixed port, not 0", file=sys.stderr)
            return 2
    embedded: EmbeddedPostgres | None = None
    try:
        settings = resolve_secret(settings)
        settings, embedded = resolve_database(settings)
        if args.command == "serve":
            if args.workers > 1:
                return supervise(settings, args.workers)
            _run(serve(settings, reuse_port=args.reuse_port))
            return 0
        if args.command == "demo":
            if "HUOMA_GROUP_PROVIDER" not in os.environ:
                # The demo has no ops team uploading groups: let it make its own.
                settings = settings.with_(group_provider="simulated")
            if args.stores < 1:
                print("huoma: --stores must be at least 1", file=sys.stderr)
                return 2
            return cmd_demo(settings, args)
        if args.command == "import":
            return cmd_import(settings, args)
        if args.command == "wecom":
            return cmd_wecom_sync(settings)
        if args.command == "user":
            return _run(_with_pool(settings, lambda pool: users.run_user(pool, args)))
        if args.command == "migrate":
            applied = _run(_with_pool(settings, lambda pool: asyncio.sleep(0, None)))
            del applied
            print("migrations are up to date")
            return 0
        raise AssertionError(args.command)
    except (SettingsError, HuomaError) as exc:
        print(f"huoma: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
