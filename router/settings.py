"""Huoma's settings: one frozen object, read from HUOMA_* environment variables in one place.

Every setting has a documented default here; the README's settings table is generated from
`SETTINGS_DOC` (see `huoma settings`). The app factory never reads the environment itself: the CLI
calls `Settings.from_env()` and tests build `Settings(...)` in code.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PREFIX = "HUOMA_"


class SettingsError(ValueError):
    """A setting with a bad value; the message names the variable and the value."""


@dataclass(frozen=True, slots=True)
class Settings:
    # Database. None means: start the embedded PostgreSQL in data_dir/pg.
    database_url: str | None = None
    data_dir: Path = Path("huoma-data")
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_timeout_s: float = 5.0
    db_connect_timeout_s: float = 10.0

    # HTTP.
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str = ""
    access_log: bool = True
    log_level: str = "info"
    shutdown_timeout_s: float = 10.0
    keepalive_s: float = 30.0
    header_timeout_s: float = 10.0
    connections_per_ip: int = 256
    fd_reserve: int = 256

    # Secrets. An empty secret means: use (or create) data_dir/secret.
    secret: str = field(default="", repr=False)
    admin_tokens: tuple[str, ...] = field(default=(), repr=False)

    # Routing.
    max_distance_m: float = 5_000.0
    alternatives: int = 5
    coarse_accuracy_m: float = 500.0
    pin_max_distance_m: float = 2_000.0
    cell_cache_cells: int = 100_000

    # Group lifecycle.
    display_cap: int = 500
    lease_block: int = 10
    expiry_margin_s: float = 3_600.0
    wechat_qr_lifetime_h: float = 168.0
    low_water: int = 2
    group_provider: str = "ops"
    keeper_interval_s: float = 10.0
    sticky_s: float = 86_400.0

    # Rate limits (requests a minute, and the burst allowed at once; 0 turns one off). Per worker.
    rate_route_per_ip: int = 600
    rate_route_ip_burst: int = 120
    rate_route_per_visitor: int = 30
    rate_route_visitor_burst: int = 10
    rate_picker_per_ip: int = 300
    rate_picker_ip_burst: int = 60
    rate_picks_per_visitor: int = 1
    rate_picks_visitor_burst: int = 5
    rate_picks_per_ip: int = 20
    rate_picks_ip_burst: int = 60
    trusted_proxies: tuple[str, ...] = ()
    client_ipv6_prefix: int = 64
    rate_admin_failures_per_ip: int = 10
    rate_admin_failures_burst: int = 10

    # Scan events.
    events_flush_s: float = 0.5
    journal_max_bytes: int = 1024**3
    journal_rotate_bytes: int = 64 * 1024**2
    event_retention_days: int = 180

    # Group QR images.
    qr_cache_images: int = 20_000
    qr_max_age_s: int = 86_400
    qr_link_ttl_s: int = 600
    qr_store_timeout_s: float = 0.1

    # WeChat JS-SDK for the customer page (optional): both set means the page asks WeChat for a
    # GCJ-02 location before the browser's.
    wechat_appid: str = ""
    wechat_jsapi_ticket: str = field(default="", repr=False)

    # The customer page's files (static/h5). Unset: static/ beside the router package.
    static_dir: str = ""

    # Time zone used for upload times written without one (Excel dates usually are).
    timezone: str = "Asia/Shanghai"

    # Uploads (the admin API and the CLI).
    import_max_bytes: int = 20 * 1024 * 1024
    import_max_rows: int = 200_000

    # The ops console.
    admin_page_max: int = 500
    alert_webhook_url: str = field(default="", repr=False)
    alert_cooldown_s: float = 3_600.0
    alert_expiry_h: float = 24.0
    alert_timeout_s: float = 5.0
    funnel_max_days: int = 366
    funnel_timeout_s: float = 120.0

    # WeCom (企业微信): join-way group codes per store and their callbacks. No corp id: off.
    wecom_corp_id: str = ""
    wecom_secret: str = field(default="", repr=False)
    wecom_callback_token: str = field(default="", repr=False)
    wecom_aes_key: str = field(default="", repr=False)
    wecom_api_base: str = "https://qyapi.weixin.qq.com/cgi-bin"
    wecom_timeout_s: float = 10.0
    wecom_retries: int = 3
    wecom_sync_s: float = 300.0
    wecom_room_capacity: int = 500
    wecom_callback_skew_s: float = 300.0

    def __post_init__(self) -> None:
        _check_positive("HUOMA_DB_POOL_MAX", self.db_pool_max)
        _check_range("HUOMA_DB_POOL_MIN", self.db_pool_min, 0, self.db_pool_max)
        _check_positive("HUOMA_DB_TIMEOUT_S", self.db_timeout_s)
        _check_positive("HUOMA_DB_CONNECT_TIMEOUT_S", self.db_connect_timeout_s)
        _check_range("HUOMA_PORT", self.port, 0, 65535)
        _check_positive("HUOMA_SHUTDOWN_TIMEOUT_S", self.shutdown_timeout_s)
        _check_positive("HUOMA_KEEPALIVE_S", self.keepalive_s)
        _check_positive("HUOMA_HEADER_TIMEOUT_S", self.header_timeout_s)
        _check_range("HUOMA_CONNECTIONS_PER_IP", self.connections_per_ip, 0, 1_000_000)
        _check_range("HUOMA_FD_RESERVE", self.fd_reserve, 16, 1_000_000)
        _check_positive("HUOMA_MAX_DISTANCE_M", self.max_distance_m)
        _check_range("HUOMA_ALTERNATIVES", self.alternatives, 0, 20)
        _check_positive("HUOMA_COARSE_ACCURACY_M", self.coarse_accuracy_m)
        _check_positive("HUOMA_PIN_MAX_DISTANCE_M", self.pin_max_distance_m)
        _check_range("HUOMA_CELL_CACHE_CELLS", self.cell_cache_cells, 0, 10_000_000)
        _check_range("HUOMA_DISPLAY_CAP", self.display_cap, 1, 100_000_000)
        _check_range("HUOMA_LEASE_BLOCK", self.lease_block, 1, 10_000)
        _check_range("HUOMA_EXPIRY_MARGIN_S", int(self.expiry_margin_s), 0, 604_800)
        _check_positive("HUOMA_WECHAT_QR_LIFETIME_H", self.wechat_qr_lifetime_h)
        _check_range("HUOMA_LOW_WATER", self.low_water, 0, 100)
        _check_positive("HUOMA_KEEPER_INTERVAL_S", self.keeper_interval_s)
        _check_range("HUOMA_STICKY_S", int(self.sticky_s), 0, 31_536_000)
        for name in (
            "rate_route_per_ip",
            "rate_route_ip_burst",
            "rate_route_per_visitor",
            "rate_route_visitor_burst",
            "rate_picker_per_ip",
            "rate_picker_ip_burst",
            "rate_picks_per_visitor",
            "rate_picks_visitor_burst",
            "rate_picks_per_ip",
            "rate_picks_ip_burst",
            "rate_admin_failures_per_ip",
            "rate_admin_failures_burst",
        ):
            _check_range(PREFIX + name.upper(), getattr(self, name), 0, 1_000_000)
        for net in self.trusted_proxies:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise SettingsError(
                    f"HUOMA_TRUSTED_PROXIES: {net!r} is not an address or a network (CIDR)"
                ) from None
        _check_range("HUOMA_CLIENT_IPV6_PREFIX", self.client_ipv6_prefix, 32, 128)
        _check_positive("HUOMA_EVENTS_FLUSH_S", self.events_flush_s)
        _check_positive("HUOMA_JOURNAL_MAX_BYTES", self.journal_max_bytes)
        _check_positive("HUOMA_JOURNAL_ROTATE_BYTES", self.journal_rotate_bytes)
        _check_range("HUOMA_EVENT_RETENTION_DAYS", self.event_retention_days, 2, 3_660)
        if self.group_provider not in GROUP_PROVIDERS:
            raise SettingsError(
                f"HUOMA_GROUP_PROVIDER={self.group_provider!r}: use one of "
                f"{', '.join(GROUP_PROVIDERS)}"
            )
        _check_range("HUOMA_QR_CACHE_IMAGES", self.qr_cache_images, 1, 10_000_000)
        _check_range("HUOMA_QR_MAX_AGE_S", self.qr_max_age_s, 0, 31_536_000)
        _check_range("HUOMA_QR_LINK_TTL_S", self.qr_link_ttl_s, 60, 86_400)
        _check_positive("HUOMA_QR_STORE_TIMEOUT_S", self.qr_store_timeout_s)
        _check_positive("HUOMA_IMPORT_MAX_BYTES", self.import_max_bytes)
        _check_positive("HUOMA_IMPORT_MAX_ROWS", self.import_max_rows)
        _check_range("HUOMA_ADMIN_PAGE_MAX", self.admin_page_max, 1, 100_000)
        if self.alert_webhook_url and not re.match(r"^https?://\S+$", self.alert_webhook_url):
            # The URL carries the robot's key: never echo it.
            raise SettingsError("HUOMA_ALERT_WEBHOOK_URL: expected an http(s) URL")
        _check_range("HUOMA_ALERT_COOLDOWN_S", int(self.alert_cooldown_s), 0, 604_800)
        _check_positive("HUOMA_ALERT_EXPIRY_H", self.alert_expiry_h)
        _check_positive("HUOMA_ALERT_TIMEOUT_S", self.alert_timeout_s)
        _check_range("HUOMA_FUNNEL_MAX_DAYS", self.funnel_max_days, 1, 3_660)
        _check_positive("HUOMA_FUNNEL_TIMEOUT_S", self.funnel_timeout_s)
        if self.wecom_corp_id:
            for name in ("wecom_secret", "wecom_callback_token", "wecom_aes_key"):
                if not getattr(self, name):
                    raise SettingsError(
                        f"{PREFIX}{name.upper()} must be set when HUOMA_WECOM_CORP_ID is"
                    )
            if not re.fullmatch(r"[A-Za-z0-9]{43}", self.wecom_aes_key):
                raise SettingsError(
                    "HUOMA_WECOM_AES_KEY: the EncodingAESKey is 43 letters or digits"
                )
        elif self.group_provider == "wecom":
            raise SettingsError("HUOMA_GROUP_PROVIDER=wecom needs HUOMA_WECOM_CORP_ID and its keys")
        if not re.match(r"^https?://\S+$", self.wecom_api_base):
            raise SettingsError("HUOMA_WECOM_API_BASE: expected an http(s) URL")
        _check_positive("HUOMA_WECOM_TIMEOUT_S", self.wecom_timeout_s)
        _check_range("HUOMA_WECOM_RETRIES", self.wecom_retries, 0, 10)
        _check_positive("HUOMA_WECOM_SYNC_S", self.wecom_sync_s)
        _check_range("HUOMA_WECOM_ROOM_CAPACITY", self.wecom_room_capacity, 2, 2_000)
        _check_positive("HUOMA_WECOM_CALLBACK_SKEW_S", self.wecom_callback_skew_s)
        if self.log_level not in _LOG_LEVELS:
            raise SettingsError(
                f"HUOMA_LOG_LEVEL={self.log_level!r}: use one of {', '.join(_LOG_LEVELS)}"
            )
        if self.public_base_url and not re.match(
            r"^https?://[^/\s]+(/\S*)?$", self.public_base_url
        ):
            raise SettingsError(
                f"HUOMA_PUBLIC_BASE_URL={self.public_base_url!r}: expected http(s)://host[/path]"
            )
        for token in self.admin_tokens:
            if len(token) < 16:
                raise SettingsError(
                    "HUOMA_ADMIN_TOKENS: every token must be at least 16 characters "
                    f"(one has {len(token)})"
                )
        try:
            import zoneinfo

            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"HUOMA_TIMEZONE={self.timezone!r}: not a known time zone"
            ) from None

    @property
    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from HUOMA_* variables; unknown HUOMA_* names are an error (typos)."""
        known = {PREFIX + f.name.upper(): f for f in fields(cls)}
        unknown = sorted(k for k in environ if k.startswith(PREFIX) and k not in known)
        # HUOMA_TEST_* belongs to the test suite, not to the service.
        unknown = [k for k in unknown if not k.startswith(PREFIX + "TEST_")]
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]}; see `huoma settings` for the list")
        values: dict[str, Any] = {}
        for name, f in known.items():
            raw = environ.get(name)
            if raw is None:
                continue
            parser = _PARSERS[f.name]
            try:
                values[f.name] = parser(raw)
            except SettingsError:
                raise
            except ValueError as exc:
                raise SettingsError(f"{name}={_shown(f.name, raw)}: {exc}") from None
        return cls(**values)


_LOG_LEVELS = ("debug", "info", "warning", "error")
GROUP_PROVIDERS = ("ops", "simulated", "wecom")


def _shown(name: str, raw: str) -> str:
    if name in ("secret", "admin_tokens", "wechat_jsapi_ticket"):
        return "<hidden>"
    if name == "database_url":
        return repr(re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", raw))
    return repr(raw)


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{name}={value!r}: must be a positive number")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise SettingsError(f"{name}={value!r}: must be between {low} and {high}")


def _int(raw: str) -> int:
    try:
        return int(raw.strip().replace("_", ""))
    except ValueError:
        raise ValueError("expected a whole number") from None


def _float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _str(raw: str) -> str:
    return raw.strip()


def _optional_str(raw: str) -> str | None:
    return raw.strip() or None


def _tokens(raw: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in raw.split(",") if t.strip())


_PARSERS: dict[str, Callable[[str], Any]] = {
    "database_url": _optional_str,
    "data_dir": lambda raw: Path(raw.strip()),
    "db_pool_min": _int,
    "db_pool_max": _int,
    "db_timeout_s": _float,
    "db_connect_timeout_s": _float,
    "host": _str,
    "port": _int,
    "public_base_url": _str,
    "access_log": _bool,
    "log_level": lambda raw: raw.strip().lower(),
    "shutdown_timeout_s": _float,
    "keepalive_s": _float,
    "header_timeout_s": _float,
    "connections_per_ip": _int,
    "fd_reserve": _int,
    "secret": _str,
    "admin_tokens": _tokens,
    "max_distance_m": _float,
    "alternatives": _int,
    "coarse_accuracy_m": _float,
    "pin_max_distance_m": _float,
    "cell_cache_cells": _int,
    "display_cap": _int,
    "lease_block": _int,
    "expiry_margin_s": _float,
    "wechat_qr_lifetime_h": _float,
    "low_water": _int,
    "group_provider": lambda raw: raw.strip().lower(),
    "keeper_interval_s": _float,
    "sticky_s": _float,
    "rate_route_per_ip": _int,
    "rate_route_ip_burst": _int,
    "rate_route_per_visitor": _int,
    "rate_route_visitor_burst": _int,
    "rate_picker_per_ip": _int,
    "rate_picker_ip_burst": _int,
    "rate_picks_per_visitor": _int,
    "rate_picks_visitor_burst": _int,
    "rate_picks_per_ip": _int,
    "rate_picks_ip_burst": _int,
    "trusted_proxies": _tokens,
    "client_ipv6_prefix": _int,
    "rate_admin_failures_per_ip": _int,
    "rate_admin_failures_burst": _int,
    "events_flush_s": _float,
    "journal_max_bytes": _int,
    "journal_rotate_bytes": _int,
    "event_retention_days": _int,
    "qr_cache_images": _int,
    "qr_max_age_s": _int,
    "qr_link_ttl_s": _int,
    "qr_store_timeout_s": _float,
    "wechat_appid": _str,
    "wechat_jsapi_ticket": _str,
    "static_dir": _str,
    "timezone": _str,
    "import_max_bytes": _int,
    "import_max_rows": _int,
    "admin_page_max": _int,
    "alert_webhook_url": _str,
    "alert_cooldown_s": _float,
    "alert_expiry_h": _float,
    "alert_timeout_s": _float,
    "funnel_max_days": _int,
    "funnel_timeout_s": _float,
    "wecom_corp_id": _str,
    "wecom_secret": _str,
    "wecom_callback_token": _str,
    "wecom_aes_key": _str,
    "wecom_api_base": _str,
    "wecom_timeout_s": _float,
    "wecom_retries": _int,
    "wecom_sync_s": _float,
    "wecom_room_capacity": _int,
    "wecom_callback_skew_s": _float,
}

# name -> what it is; the defaults come from the dataclass. Printed by `huoma settings`.
SETTINGS_DOC: dict[str, str] = {
    "database_url": "PostgreSQL URL. Unset: an embedded PostgreSQL in HUOMA_DATA_DIR/pg.",
    "data_dir": "Directory for the embedded database and the generated secret.",
    "db_pool_min": "Connections kept open per worker.",
    "db_pool_max": "Most connections per worker.",
    "db_timeout_s": "Timeout of every database query, seconds; a timeout answers 503.",
    "db_connect_timeout_s": "Timeout to connect to PostgreSQL at start-up, seconds.",
    "host": "Address to listen on (0.0.0.0 in the Docker image).",
    "port": "Port to listen on.",
    "public_base_url": "Base URL customers reach (QR image URLs are built on it). "
    "Unset: http://HOST:PORT.",
    "access_log": "Write an access log line per request (true/false).",
    "log_level": "debug, info, warning or error.",
    "shutdown_timeout_s": "Grace period for in-flight requests on shutdown, seconds.",
    "keepalive_s": "An idle connection (no request under way) is closed after this many seconds "
    "(aiohttp's own default keeps one an hour).",
    "header_timeout_s": "A connection must send a request's complete headers within this many "
    "seconds of opening, or of its request's first byte; else it is closed (slow-header guard).",
    "connections_per_ip": "Open connections per client address per worker (an IPv6 client's "
    "address is its HUOMA_CLIENT_IPV6_PREFIX network); more are closed at once. Trusted proxies "
    "are exempt. 0: no cap.",
    "fd_reserve": "File descriptors each worker keeps below its RLIMIT_NOFILE for PostgreSQL, the "
    "journal and files: new client connections are closed once the rest are in use.",
    "secret": "HMAC secret signing QR image URLs. Unset: generated once into "
    "HUOMA_DATA_DIR/secret. Set it when several hosts serve one brand.",
    "admin_tokens": "Comma-separated bearer tokens for /admin (16+ characters each). "
    "Unset: the admin API is closed.",
    "max_distance_m": "A scan farther than this from every store gets no_store_nearby, metres.",
    "alternatives": "How many next-nearest stores /route offers besides the chosen one (0-20).",
    "coarse_accuracy_m": "A fix with accuracy above this is coarse: the page offers a choice, "
    "metres.",
    "pin_max_distance_m": "A store-pinned entry code sends customers to its store unless their "
    "location is farther than this from it (a photo of the code shared online), metres.",
    "cell_cache_cells": "Cells kept by each nearest-store and service-area cache (0 disables).",
    "display_cap": "Displays after which a group is full, unless its upload gives display_cap.",
    "lease_block": "Displays a worker leases at a time per group; at most this many per worker "
    "and group are lost if a worker is killed (never more than the cap are shown).",
    "expiry_margin_s": "A group expiring within this many seconds is no longer handed out.",
    "wechat_qr_lifetime_h": "Lifetime of a personal WeChat group QR code (weixin.qq.com/g/...) "
    "uploaded without expires_at, counted from qr_created_at or the upload, hours.",
    "low_water": "When a store has fewer usable groups than this, the provider is asked for one.",
    "group_provider": "Who creates new groups: ops (raise an alert, wait for an upload), "
    "simulated (generated codes, for demos and load tests) or wecom (a WeCom join-way code for "
    "each store given WeCom chats; WeCom opens new groups itself as they fill).",
    "keeper_interval_s": "How often the keeper sweeps group states and checks low-water marks.",
    "sticky_s": "A visitor re-scanning the same store within this many seconds gets the same "
    "group again, without spending a display (0 disables).",
    "rate_route_per_ip": "Scans (/api/v1/route) a minute per client address (generous: mobile "
    "carriers put many customers behind one address); over it, 429 with Retry-After. 0: no limit.",
    "rate_route_ip_burst": "Scans one client address may make at once before the rate applies.",
    "rate_route_per_visitor": "Scans a minute per visitor id (a customer scans a few times at "
    "most).",
    "rate_route_visitor_burst": "Scans one visitor may make at once before the rate applies.",
    "rate_picker_per_ip": "Store picker requests (/api/v1/stores, /api/v1/cities) a minute per "
    "client address.",
    "rate_picker_ip_burst": "Picker requests one client address may make at once.",
    "rate_picks_per_visitor": "Scans of a store picked by hand (/api/v1/route?store=, which "
    "answers with that store's group wherever the phone is) a minute per visitor: the limit that "
    "keeps anyone from walking the picker to collect every store's group.",
    "rate_picks_visitor_burst": "Picked stores one visitor may scan at once (a customer picks one "
    "or two).",
    "rate_picks_per_ip": "Picked-store scans a minute per client address (visitors without "
    "cookies are new each time, so the address limit is what binds a scraper).",
    "rate_picks_ip_burst": "Picked-store scans one client address may make at once.",
    "trusted_proxies": "Comma-separated addresses or networks (CIDR) of reverse proxies whose "
    "X-Forwarded-For is believed; otherwise the TCP peer is the client.",
    "client_ipv6_prefix": "Every per-address limit counts an IPv6 client by its network of this "
    "prefix length (one household or phone gets a whole /64); IPv4-mapped IPv6 counts as IPv4.",
    "rate_admin_failures_per_ip": "Failed admin logins (wrong or missing token) a minute per "
    "client address; past the burst, the admin API answers that address 429 whatever it sends.",
    "rate_admin_failures_burst": "Failed admin logins one client address may make at once.",
    "events_flush_s": "How often scan events move from the local journal into PostgreSQL, seconds.",
    "journal_max_bytes": "Unflushed journal bytes per worker (PostgreSQL down) beyond which new "
    "scan events are dropped and counted; scans are still answered.",
    "journal_rotate_bytes": "A fully flushed journal file larger than this is replaced by a new "
    "one, bytes.",
    "event_retention_days": "Scan events older than this many days are deleted (their day's "
    "funnel figures, which hold nothing personal, are kept).",
    "qr_cache_images": "Rendered QR images kept in memory per worker.",
    "qr_max_age_s": "Cache-Control max-age of QR images, seconds (never past the link's expiry).",
    "qr_link_ttl_s": "How long a QR image link from /api/v1/route works, seconds (links are "
    "issued on a 60-second grid, so each works between this and a minute more).",
    "qr_store_timeout_s": "How long a worker waits for PostgreSQL's stored copy of a QR image "
    "it does not hold before rendering it itself, seconds.",
    "wechat_appid": "WeChat official account AppID for the page's JS-SDK (optional).",
    "wechat_jsapi_ticket": "Current jsapi_ticket of that account (valid 7200 s: whoever holds the "
    "account's access token refreshes this setting). With the AppID set, the page prefers "
    "wx.getLocation(gcj02).",
    "static_dir": "Directory holding h5/ (the customer page) and admin/ (the ops page). Unset: "
    "static/ beside the code "
    "(the Docker image sets /opt/huoma/static).",
    "timezone": "Time zone for upload times written without one.",
    "import_max_bytes": "Largest import file, bytes.",
    "import_max_rows": "Most rows in one import file.",
    "admin_page_max": "Most rows one admin list request returns (group health, entries, alerts).",
    "alert_webhook_url": "WeCom group-robot webhook (https://qyapi.weixin.qq.com/cgi-bin/webhook/"
    "send?key=...) that alerts are posted to as markdown. Unset: alerts are only recorded.",
    "alert_cooldown_s": "An alert of the same kind for the same store (and group) is posted at "
    "most once per this many seconds; repeats within it are recorded as suppressed.",
    "alert_expiry_h": "A usable group expiring within this many hours raises an alert.",
    "alert_timeout_s": "Timeout of one webhook post, seconds.",
    "funnel_max_days": "Longest date range one funnel query may ask for, days.",
    "funnel_timeout_s": "Timeout of one funnel query or one day's rollup, seconds (they read "
    "far more rows than anything else, so HUOMA_DB_TIMEOUT_S does not apply to them).",
    "wecom_corp_id": "WeCom corp id (企业ID). Set, it turns on join-way group codes for the stores "
    "given WeCom chats, and the callback endpoint /wecom/callback.",
    "wecom_secret": "Secret of the WeCom application allowed to call the customer-contact API "
    "(客户联系).",
    "wecom_callback_token": "Token of the application's callback (接收事件服务器): signs "
    "callbacks.",
    "wecom_aes_key": "EncodingAESKey of the application's callback (43 characters): encrypts "
    "callbacks.",
    "wecom_api_base": "WeCom's server API base URL.",
    "wecom_timeout_s": "Timeout of one WeCom API request, seconds.",
    "wecom_retries": "Retries of a WeCom API call that timed out or found WeCom busy (with "
    "exponential backoff).",
    "wecom_sync_s": "How often the keeper reconciles every store's join way with WeCom, seconds.",
    "wecom_room_capacity": "Members at which a WeCom customer group counts as full and leaves its "
    "join way's chat list.",
    "wecom_callback_skew_s": "A callback whose timestamp is further than this from now is refused "
    "(replay protection), seconds.",
}


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, in declaration order."""
    defaults = Settings()
    out = []
    for f in fields(Settings):
        value = getattr(defaults, f.name)
        if isinstance(value, tuple):
            shown = ",".join(value) or "(empty)"
        elif value is None or value == "":
            shown = "(unset)"
        else:
            shown = str(value)
        out.append((PREFIX + f.name.upper(), shown, SETTINGS_DOC[f.name]))
    return out
