"""The app factory: wiring only. Resources and background loops are cleanup contexts of their
rooms (router.runtime, router.keeper); routes come from the public handlers, pages, WeCom's
callback and the ops sub-application."""

from __future__ import annotations

from aiohttp import web

from router.keeper.print_jobs import print_jobs
from router.keeper.task import keeper_task
from router.keys import (
    CATALOGUE,
    DB_HEALTH,
    IN_FLIGHT,
    JOURNAL,
    LIVE,
    METRICS,
    OPS_SETTINGS,
    QR_IMAGES,
    SETTINGS,
)
from router.metrics import Metrics
from router.ops.app import PREFIX as OPS_PREFIX
from router.ops.app import create_ops_app
from router.runtime.catalogue import catalogue, empty_catalogue
from router.runtime.database import database
from router.runtime.events import scan_events
from router.runtime.leases import leases
from router.runtime.opsettings import ops_settings
from router.runtime.wechat import wechat_tickets
from router.runtime.wecom import wecom
from router.scan.catalogue import CatalogueRef
from router.scan.journal import Journal
from router.scan.live import LeaseBook, LiveState, StickySigner
from router.settings import Settings, SettingsError
from router.store.db import DbHealth
from router.store.opsettings import OpsSettings
from router.store.qr_images import QrImages
from router.web import pages
from router.web.middleware import InFlight, json_protocol_errors, observe
from router.web.public import add_routes
from router.wecom import http as wecom_http


def create_app(settings: Settings) -> web.Application:
    """Build the application. Resources are opened by cleanup contexts when it starts."""
    if not settings.database_url:
        raise SettingsError("HUOMA_DATABASE_URL must be resolved before create_app")
    if not settings.secret:
        raise SettingsError("HUOMA_SECRET must be resolved before create_app")
    # Uploads are the only large bodies; every other handler reads none.
    app = web.Application(
        middlewares=[observe], client_max_size=max(1024**2, settings.import_max_bytes + 65_536)
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[DB_HEALTH] = DbHealth()
    app[IN_FLIGHT] = InFlight()
    json_protocol_errors()
    app[QR_IMAGES] = QrImages(
        settings.qr_cache_images, lookup_timeout_s=settings.qr_store_timeout_s
    )
    app[CATALOGUE] = CatalogueRef(empty_catalogue(settings))
    app[OPS_SETTINGS] = OpsSettings(settings)
    # Scans that may wait for a lease start every group from a one-display block (`LeaseBook`).
    first_block = 1 if settings.lease_wait_s > 0 else settings.lease_block
    app[LIVE] = LiveState(
        LeaseBook(settings.lease_block, first_block), StickySigner(settings.secret.encode())
    )
    app[JOURNAL] = Journal(
        settings.data_dir / "journal", settings.journal_max_bytes, settings.journal_rotate_bytes
    )
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(scan_events)
    app.cleanup_ctx.append(leases)
    app.cleanup_ctx.append(catalogue)
    app.cleanup_ctx.append(ops_settings)
    app.cleanup_ctx.append(wecom)
    app.cleanup_ctx.append(wechat_tickets)
    app.cleanup_ctx.append(print_jobs)
    app.cleanup_ctx.append(keeper_task)
    add_routes(app)
    app.add_subapp(OPS_PREFIX, create_ops_app(settings))
    wecom_http.add_routes(app)
    pages.add_routes(app)
    return app
