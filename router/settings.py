"""Huoma's settings: one frozen object, read from HUOMA_* environment variables in one place.

Each setting is declared once, as a field of `Settings` made by its section (`ROUTING(5_000.0,
"what it is", positive=True)`): its default, bounds, allowed words, extra check, whether it is a
secret, and what it means. Parsing (from the annotation), checks, redaction, `huoma settings` and
the README's settings table (`markdown()`) are all derived from those declarations. The app factory
never reads the environment itself: the CLI calls `Settings.from_env()` and tests build
`Settings(...)` in code.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, get_type_hints

from geo.coords import CoordError
from geo.providers import ACCEPTED_EN, Provider
from router.flags import parse_flag

PREFIX = "HUOMA_"

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting with a bad value; the message names the variable and the value."""


@dataclass(frozen=True, slots=True)
class Spec:
    """Everything declared about one setting but its name and default."""

    section: str
    meaning: str
    positive: bool = False  # > 0 and finite
    ge: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()  # the value is lower-cased, then must be one of these
    # An extra check of a value: None when it is good, else what is wrong (the variable's name and
    # its value, or <hidden> for a secret, are put in front).
    check: Callable[[Any], str | None] | None = None
    secret: bool = False  # never shown: not in repr, not in errors
    redact: Callable[[str], str] | None = None  # masks the secret part of a value (repr, errors)
    rate: tuple[str, str] | None = None  # (limiter, "per_minute" | "burst")


@dataclass(frozen=True, slots=True)
class Section:
    """A group of settings; calling it declares one of them."""

    key: str
    title: str

    def __call__(
        self,
        default: T,
        meaning: str,
        *,
        positive: bool = False,
        ge: float | None = None,
        le: float | None = None,
        choices: tuple[str, ...] = (),
        check: Callable[[Any], str | None] | None = None,
        secret: bool = False,
        redact: Callable[[str], str] | None = None,
        rate: tuple[str, str] | None = None,
    ) -> T:
        spec = Spec(self.key, meaning, positive, ge, le, choices, check, secret, redact, rate)
        # A dataclass field; type checkers see it as its default.
        return field(default=default, metadata={"huoma": spec})


# ---- extra checks of single values ------------------------------------------------------------


def _hex_colour(value: str) -> str | None:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return "expected a colour as #rrggbb"
    return None


def _http_url(value: str) -> str | None:
    if not re.match(r"^https?://\S+$", value):
        return "expected an http(s) URL"
    return None


def _http_url_or_unset(value: str) -> str | None:
    return _http_url(value) if value else None


def _base_url(value: str) -> str | None:
    if value and not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
        return "expected http(s)://host[/path]"
    return None


def _networks(value: tuple[str, ...]) -> str | None:
    for net in value:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            return f"{net!r} is not an address or a network (CIDR)"
    return None


def _tokens_long_enough(value: tuple[str, ...]) -> str | None:
    for token in value:
        if len(token) < 16:
            return f"every token must be at least 16 characters (one has {len(token)})"
    return None


def _time_zone(value: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "not a known time zone"
    return None


def _coord_or_unset(value: str) -> str | None:
    if not value:
        return None
    try:
        Provider.parse(value)
    except CoordError:
        return f"use one of {ACCEPTED_EN} (or leave it unset)"
    return None


def _mask_password(raw: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", raw)


_DATA_DIR = Path("huoma-data")
LOG_LEVELS = ("debug", "info", "warning", "error")
GROUP_PROVIDERS = ("ops", "simulated", "wecom")

# ---- the sections, in the order `huoma settings` and the README list them ------------------

DATABASE = Section("database", "Database")
SERVER = Section("server", "Server")
ROUTING = Section("routing", "Routing (the store and group a scan gets)")
GROUPS = Section("groups", "Groups and leases")
RATE_LIMITS = Section("rate_limits", "Rate limits")
EVENTS = Section("events", "Scan events and the journal")
QR = Section("qr", "QR images")
WECHAT = Section("wechat", "WeChat JS-SDK (customer page)")
ADMIN = Section("admin", "Ops console and uploads")
ALERTS = Section("alerts", "Alerts")
FUNNEL = Section("funnel", "Funnel")
WECOM = Section("wecom", "WeCom (企业微信)")
BRAND = Section("brand", "Brand (customer page, share card and print sheets)")
SECTIONS: tuple[Section, ...] = (DATABASE, SERVER, ROUTING, GROUPS, RATE_LIMITS, EVENTS, QR)
SECTIONS += (WECHAT, ADMIN, ALERTS, FUNNEL, WECOM, BRAND)


class RateLimit(NamedTuple):
    """One limiter's rate: requests a minute on average, and how many at once (0: no limit)."""

    per_minute: int
    burst: int


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Settings:
    database_url: str | None = DATABASE(
        None,
        "PostgreSQL URL. Unset: an embedded PostgreSQL in HUOMA_DATA_DIR/pg.",
        redact=_mask_password,
    )
    # A section call returns a dataclass field (like field()), not a shared mutable default.
    data_dir: Path = DATABASE(  # noqa: RUF009
        _DATA_DIR, "Directory for the embedded database and the generated secret."
    )
    db_pool_min: int = DATABASE(1, "Connections kept open per worker.", ge=0)
    db_pool_max: int = DATABASE(10, "Most connections per worker.", positive=True)
    db_timeout_s: float = DATABASE(
        5.0, "Timeout of every database query, seconds; a timeout answers 503.", positive=True
    )
    db_connect_timeout_s: float = DATABASE(
        10.0, "Timeout to connect to PostgreSQL at start-up, seconds.", positive=True
    )

    host: str = SERVER("127.0.0.1", "Address to listen on (0.0.0.0 in the Docker image).")
    port: int = SERVER(8080, "Port to listen on.", ge=0, le=65535)
    public_base_url: str = SERVER(
        "",
        "Base URL customers reach (QR image URLs are built on it). Unset: http://HOST:PORT.",
        check=_base_url,
    )
    access_log: bool = SERVER(True, "Write an access log line per request (true/false).")
    log_level: str = SERVER("info", "debug, info, warning or error.", choices=LOG_LEVELS)
    shutdown_timeout_s: float = SERVER(
        10.0, "Grace period for in-flight requests on shutdown, seconds.", positive=True
    )
    keepalive_s: float = SERVER(
        30.0,
        "An idle connection (no request under way) is closed after this many seconds "
        "(aiohttp's own default keeps one an hour).",
        positive=True,
    )
    header_timeout_s: float = SERVER(
        10.0,
        "A connection must send a request's complete headers within this many seconds of "
        "opening, or of its request's first byte; else it is closed (slow-header guard).",
        positive=True,
    )
    connections_per_ip: int = SERVER(
        256,
        "Open connections per client address per worker (an IPv6 client's address is its "
        "HUOMA_CLIENT_IPV6_PREFIX network); more are closed at once. Trusted proxies are "
        "exempt. 0: no cap.",
        ge=0,
        le=1_000_000,
    )
    fd_reserve: int = SERVER(
        256,
        "File descriptors each worker keeps below its RLIMIT_NOFILE for PostgreSQL, the journal "
        "and files: new client connections are closed once the rest are in use.",
        ge=16,
        le=1_000_000,
    )
    secret: str = SERVER(
        "",
        "HMAC secret signing QR image URLs. Unset: generated once into HUOMA_DATA_DIR/secret. "
        "Set it when several hosts serve one brand.",
        secret=True,
    )
    static_dir: str = SERVER(
        "",
        "Directory holding h5/ (the customer page) and admin/ (the ops page). Unset: static/ "
        "beside the code (the Docker image sets /opt/huoma/static).",
    )

    max_distance_m: float = ROUTING(
        5_000.0,
        "A scan farther than this from every store gets no_store_nearby, metres.",
        positive=True,
    )
    alternatives: int = ROUTING(
        5,
        "How many next-nearest stores /route offers besides the chosen one (0-20).",
        ge=0,
        le=20,
    )
    coarse_accuracy_m: float = ROUTING(
        500.0,
        "A fix with accuracy above this is coarse: the page offers a choice, metres.",
        positive=True,
    )
    pin_max_distance_m: float = ROUTING(
        2_000.0,
        "A store-pinned entry code sends customers to its store unless their location is "
        "farther than this from it (a photo of the code shared online), metres.",
        positive=True,
    )
    expiry_margin_s: float = ROUTING(
        3_600.0,
        "A group expiring within this many seconds is no longer handed out.",
        ge=0,
        le=604_800,
    )
    sticky_s: float = ROUTING(
        86_400.0,
        "A visitor re-scanning the same store within this many seconds gets the same group "
        "again, without spending a display (0 disables).",
        ge=0,
        le=31_536_000,
    )
    cell_cache_cells: int = ROUTING(
        100_000,
        "Cells kept by each nearest-store and service-area cache (0 disables).",
        ge=0,
        le=10_000_000,
    )

    display_cap: int = GROUPS(
        500,
        "Displays after which a group is full, unless its upload gives display_cap.",
        ge=1,
        le=100_000_000,
    )
    lease_block: int = GROUPS(
        10,
        "Displays a worker leases at a time per group; at most this many per worker and group "
        "are lost if a worker is killed (never more than the cap are shown).",
        ge=1,
        le=10_000,
    )
    lease_wait_s: float = GROUPS(
        0.05,
        "A scan at a store none of whose usable groups this worker holds a display of waits at "
        "most this long, seconds, for a lease taken together with the other scans waiting (the "
        "one database wait on the scan path); past it, the next group held or the fallback "
        "(0: never wait).",
        ge=0,
        le=5,
    )
    lease_idle_s: float = GROUPS(
        1.0,
        "Displays a worker holds of a group but has not shown for this long, seconds, go back "
        "to PostgreSQL so that other workers and hosts can show them (0, or scans that do not "
        "wait for leases, HUOMA_LEASE_WAIT_S=0: kept until the stop).",
        ge=0,
        le=3600,
    )
    wechat_qr_lifetime_h: float = GROUPS(
        168.0,
        "Lifetime of a personal WeChat group QR code (weixin.qq.com/g/...) uploaded without "
        "expires_at, counted from qr_created_at or the upload, hours.",
        positive=True,
    )
    low_water: int = GROUPS(
        2,
        "When a store has fewer usable groups than this, the provider is asked for one.",
        ge=0,
        le=100,
    )
    group_provider: str = GROUPS(
        "ops",
        "Who creates new groups: ops (raise an alert, wait for an upload), simulated (generated "
        "codes, for demos and load tests) or wecom (a WeCom join-way code for each store given "
        "WeCom chats; WeCom opens new groups itself as they fill).",
        choices=GROUP_PROVIDERS,
    )
    patch_max_stores: int = GROUPS(
        200,
        "Most stores one change may name for workers to patch them in place; a change to more "
        "stores (or to the index: a store added, moved or closed) rebuilds the whole catalogue.",
        ge=0,
        le=100_000,
    )
    keeper_interval_s: float = GROUPS(
        10.0,
        "How often the keeper sweeps group states and checks low-water marks.",
        positive=True,
    )

    # Per worker; each limiter is a rate a minute and a burst, 0 turning the rate off.
    rate_route_per_ip: int = RATE_LIMITS(
        600,
        "Scans (/api/v1/route) a minute per client address (generous: mobile carriers put many "
        "customers behind one address); over it, 429 with Retry-After. 0: no limit.",
        ge=0,
        le=1_000_000,
        rate=("route_ip", "per_minute"),
    )
    rate_route_ip_burst: int = RATE_LIMITS(
        120,
        "Scans one client address may make at once before the rate applies.",
        ge=0,
        le=1_000_000,
        rate=("route_ip", "burst"),
    )
    rate_route_per_visitor: int = RATE_LIMITS(
        30,
        "Scans a minute per visitor id (a customer scans a few times at most).",
        ge=0,
        le=1_000_000,
        rate=("route_visitor", "per_minute"),
    )
    rate_route_visitor_burst: int = RATE_LIMITS(
        10,
        "Scans one visitor may make at once before the rate applies.",
        ge=0,
        le=1_000_000,
        rate=("route_visitor", "burst"),
    )
    rate_picker_per_ip: int = RATE_LIMITS(
        300,
        "Store picker requests (/api/v1/stores, /api/v1/cities) a minute per client address.",
        ge=0,
        le=1_000_000,
        rate=("picker_ip", "per_minute"),
    )
    rate_picker_ip_burst: int = RATE_LIMITS(
        60,
        "Picker requests one client address may make at once.",
        ge=0,
        le=1_000_000,
        rate=("picker_ip", "burst"),
    )
    rate_picks_per_visitor: int = RATE_LIMITS(
        1,
        "Scans of a store picked by hand (/api/v1/route?store=, which answers with that store's "
        "group wherever the phone is) a minute per visitor: the limit that keeps anyone from "
        "walking the picker to collect every store's group.",
        ge=0,
        le=1_000_000,
        rate=("picks_visitor", "per_minute"),
    )
    rate_picks_visitor_burst: int = RATE_LIMITS(
        5,
        "Picked stores one visitor may scan at once (a customer picks one or two).",
        ge=0,
        le=1_000_000,
        rate=("picks_visitor", "burst"),
    )
    rate_picks_per_ip: int = RATE_LIMITS(
        20,
        "Picked-store scans a minute per client address (visitors without cookies are new each "
        "time, so the address limit is what binds a scraper).",
        ge=0,
        le=1_000_000,
        rate=("picks_ip", "per_minute"),
    )
    rate_picks_ip_burst: int = RATE_LIMITS(
        60,
        "Picked-store scans one client address may make at once.",
        ge=0,
        le=1_000_000,
        rate=("picks_ip", "burst"),
    )
    trusted_proxies: tuple[str, ...] = RATE_LIMITS(
        (),
        "Comma-separated addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "is believed; otherwise the TCP peer is the client.",
        check=_networks,
    )
    client_ipv6_prefix: int = RATE_LIMITS(
        64,
        "Every per-address limit counts an IPv6 client by its network of this prefix length "
        "(one household or phone gets a whole /64); IPv4-mapped IPv6 counts as IPv4.",
        ge=32,
        le=128,
    )
    rate_admin_failures_per_ip: int = RATE_LIMITS(
        10,
        "Failed admin logins (wrong or missing token) a minute per client address; past the "
        "burst, the admin API answers that address 429 whatever it sends.",
        ge=0,
        le=1_000_000,
        rate=("admin_failures", "per_minute"),
    )
    rate_admin_failures_burst: int = RATE_LIMITS(
        10,
        "Failed admin logins one client address may make at once.",
        ge=0,
        le=1_000_000,
        rate=("admin_failures", "burst"),
    )

    rate_store_link_per_minute: int = RATE_LIMITS(
        30,
        "Requests a minute one store link may make (a leaked link is limited to this); past the "
        "burst it is answered 429.",
        ge=0,
        le=1_000_000,
        rate=("store_link", "per_minute"),
    )
    rate_store_link_burst: int = RATE_LIMITS(
        20,
        "Requests one store link may make at once.",
        ge=0,
        le=1_000_000,
        rate=("store_link", "burst"),
    )

    events_flush_s: float = EVENTS(
        0.5,
        "How often scan events move from the local journal into PostgreSQL, seconds.",
        positive=True,
    )
    journal_max_bytes: int = EVENTS(
        1024**3,
        "Unflushed journal bytes per worker (PostgreSQL down) beyond which new scan events are "
        "dropped and counted; scans are still answered.",
        positive=True,
    )
    journal_rotate_bytes: int = EVENTS(
        64 * 1024**2,
        "A fully flushed journal file larger than this is replaced by a new one, bytes.",
        positive=True,
    )
    event_retention_days: int = EVENTS(
        180,
        "Scan events older than this many days are deleted (their day's funnel figures, which "
        "hold nothing personal, are kept).",
        ge=2,
        le=3_660,
    )

    qr_cache_images: int = QR(
        20_000, "Rendered QR images kept in memory per worker.", ge=1, le=10_000_000
    )
    qr_max_age_s: int = QR(
        86_400,
        "Cache-Control max-age of QR images, seconds (never past the link's expiry).",
        ge=0,
        le=31_536_000,
    )
    qr_link_ttl_s: int = QR(
        600,
        "How long a QR image link from /api/v1/route works, seconds (links are issued on a "
        "60-second grid, so each works between this and a minute more).",
        ge=60,
        le=86_400,
    )
    qr_store_timeout_s: float = QR(
        0.1,
        "How long a worker waits for PostgreSQL's stored copy of a QR image it does not hold "
        "before rendering it itself, seconds.",
        positive=True,
    )

    # Both set: the customer page asks WeChat for a GCJ-02 location before the browser's.
    wechat_appid: str = WECHAT(
        "", "WeChat official account AppID for the page's JS-SDK (optional)."
    )
    wechat_jsapi_ticket: str = WECHAT(
        "",
        "A jsapi_ticket for deployments without HUOMA_WECHAT_APPSECRET (valid 7200 s: whoever "
        "holds the account's access token must refresh it). With the AppSecret set, the shared "
        "ticket the refresher keeps fresh is used instead.",
        secret=True,
    )

    wechat_appsecret: str = WECHAT(
        "",
        "AppSecret of that official account. With the AppID set, one worker per deployment "
        "fetches the access_token and jsapi_ticket and refreshes them before they expire "
        "(shared through PostgreSQL); HUOMA_WECHAT_JSAPI_TICKET is then not needed.",
        secret=True,
    )
    wechat_api_base: str = WECHAT(
        "https://api.weixin.qq.com",
        "Base URL of WeChat's official account API (cgi-bin/token, cgi-bin/ticket/getticket).",
        check=_http_url,
    )
    wechat_refresh_margin_s: float = WECHAT(
        600.0,
        "The ticket and token are fetched again this many seconds before they expire.",
        ge=60,
        le=3600,
    )
    wechat_retry_s: float = WECHAT(
        30.0,
        "After a failed fetch (an errcode, a timeout) the refresher tries again after this many "
        "seconds, doubling up to ten times as long.",
        positive=True,
        le=3600,
    )
    wechat_timeout_s: float = WECHAT(
        10.0, "Timeout of one request to WeChat's API, seconds.", positive=True, le=120
    )
    wechat_check_s: float = WECHAT(
        5.0,
        "How often each worker reads the shared ticket from PostgreSQL, seconds.",
        positive=True,
        le=600,
    )

    admin_tokens: tuple[str, ...] = ADMIN(
        (),
        "Comma-separated bearer tokens for /admin (16+ characters each), each an admin of every "
        "region (automation; people sign in with accounts). Unset: only accounts and named "
        "tokens get in.",
        check=_tokens_long_enough,
        secret=True,
    )
    session_idle_s: int = ADMIN(
        1_800,
        "An ops sign-in session ends after this many seconds without a request.",
        ge=60,
        le=604_800,
    )
    session_max_s: int = ADMIN(
        43_200,
        "An ops sign-in session ends this many seconds after the sign-in, however busy.",
        ge=300,
        le=2_592_000,
    )
    signin_delay_s: float = ADMIN(
        1.0,
        "Wait before another sign-in after one failure, seconds, per client address and per "
        "account; each further failure doubles it (never a lockout).",
        positive=True,
        le=3_600,
    )
    signin_delay_max_s: float = ADMIN(
        60.0,
        "Longest wait between failed sign-ins, seconds (the doubling stops here).",
        positive=True,
        le=86_400,
    )
    signin_forget_s: float = ADMIN(
        900.0,
        "Failed sign-ins older than this many seconds are forgotten (the wait starts over).",
        positive=True,
        le=604_800,
    )
    timezone: str = ADMIN(
        "Asia/Shanghai", "Time zone for upload times written without one.", check=_time_zone
    )
    import_max_bytes: int = ADMIN(20 * 1024 * 1024, "Largest import file, bytes.", positive=True)
    import_max_rows: int = ADMIN(200_000, "Most rows in one import file.", positive=True)
    admin_page_max: int = ADMIN(
        500,
        "Most rows one admin list request returns (group health, entries, alerts).",
        ge=1,
        le=100_000,
    )
    upload_default_coord: str = ADMIN(
        "",
        "Coordinate source of store rows uploaded with an empty coord when the upload names none "
        "(amap, tencent, baidu, gps, wgs84, gcj02, bd09). Unset: it must be named. Ops may "
        "override it on the settings page.",
        check=_coord_or_unset,
    )
    # Plausibility warnings on store uploads (router/ops/uploads/checks.py), confirmed by a token.
    upload_city_radius_m: float = ADMIN(
        150_000.0,
        "A store farther than this (true metres) from the centre of the city it names is warned "
        "about (as is a swapped latitude and longitude that fits the city).",
        ge=1_000,
        le=5_000_000,
    )
    upload_district_radius_m: float = ADMIN(
        50_000.0,
        "A store farther than this (true metres) from the centre of the district it names is "
        "warned about.",
        ge=1_000,
        le=1_000_000,
    )
    upload_area_distance_m: float = ADMIN(
        20_000.0,
        "A service area whose nearest point is farther than this (true metres) from its store is "
        "warned about.",
        ge=100,
        le=1_000_000,
    )
    upload_system_mismatch_m: float = ADMIN(
        300.0,
        "With geocoding configured: a store this far from its address's geocode, while reading "
        "its point in another coordinate system lands within a third of that, is warned about "
        "(wrong system label).",
        ge=10,
        le=100_000,
    )
    upload_stack_min: int = ADMIN(
        3,
        "This many stores or more on exactly the same point are warned about, with the count.",
        ge=2,
        le=1_000_000,
    )
    upload_confirm_ttl_s: int = ADMIN(
        1_800,
        "How long a dry run's confirmation token (accepting its warnings) stays valid, seconds.",
        ge=10,
        le=7 * 86_400,
    )
    upload_changes_page: int = ADMIN(
        100,
        "Changes (added, changed, unchanged stores or groups) one dry run answer lists by default; "
        "?changes_limit= asks for up to HUOMA_ADMIN_PAGE_MAX.",
        ge=1,
        le=100_000,
    )
    geocode_provider: str = ADMIN(
        "",
        "Geocoding web service for store rows without coordinates and for the wrong-system check: "
        "amap or tencent. Unset: no geocoding.",
        choices=("", "amap", "tencent"),
    )
    geocode_key: str = ADMIN(
        "",
        "The brand's key for HUOMA_GEOCODE_PROVIDER's web service.",
        secret=True,
    )
    geocode_url: str = ADMIN(
        "",
        "Base URL of the geocoding service. Unset: the provider's own "
        "(https://restapi.amap.com, https://apis.map.qq.com).",
    )
    geocode_qps: float = ADMIN(
        3.0,
        "Most geocoding requests per second, across the upload (the key's QPS quota).",
        ge=0.1,
        le=1_000,
    )
    geocode_check_rows: int = ADMIN(
        200,
        "Rows that have coordinates whose addresses are geocoded per upload to check the "
        "coordinate system label (cached ones are free; rows without coordinates are always "
        "geocoded): a wrong label is usually the whole file's.",
        ge=0,
        le=1_000_000,
    )
    geocode_timeout_s: float = ADMIN(
        5.0, "Timeout of one geocoding request, seconds.", ge=0.1, le=120
    )
    audit_retention_days: int = ADMIN(
        730,
        "Audit records (who changed what through the ops API) older than this many days are "
        "deleted by the keeper.",
        ge=1,
        le=36_600,
    )
    audit_prune_batch: int = ADMIN(
        5_000,
        "Audit records deleted per statement when pruning (at most 20 statements per keeper "
        "pass), so a prune never holds locks for long.",
        ge=1,
        le=1_000_000,
    )
    settings_reread_s: float = ADMIN(
        30.0,
        "Every worker re-reads the settings ops changed in the database this often, seconds, "
        "besides applying each change at once when PostgreSQL notifies it.",
        positive=True,
    )
    picture_max_bytes: int = ADMIN(
        10 * 1024 * 1024,
        "Largest group-code picture (PNG, JPEG, WebP), bytes. Pictures are decoded in memory, "
        "never written to disk.",
        positive=True,
    )
    picture_max_pixels: int = ADMIN(
        40_000_000,
        "Most pixels (width x height) of a group-code picture; a larger one (a decompression "
        "bomb) is refused before it is decoded.",
        ge=1,
        le=89_000_000,  # Pillow's own bomb limit: past it Pillow warns or refuses by itself
    )
    picture_zip_max_bytes: int = ADMIN(
        100 * 1024 * 1024, "Largest ZIP of group-code pictures, bytes.", positive=True
    )
    picture_zip_max_entries: int = ADMIN(
        2_000, "Most files in a ZIP of group-code pictures.", ge=1, le=100_000
    )
    picture_zip_max_unzipped: int = ADMIN(
        400 * 1024 * 1024,
        "Most bytes a ZIP of group-code pictures may unpack to, all files together (zip bombs "
        "are refused).",
        positive=True,
    )
    ocr_timeout_s: float = ADMIN(
        30.0,
        "Longest wait for the OCR process to read one group card (the first reading also loads "
        "the model), seconds. Past it the picture is saved without readings.",
        positive=True,
    )
    ocr_queue: int = ADMIN(
        8,
        "Most pictures waiting for the OCR process at once; more get no readings (decoding "
        "still works).",
        ge=1,
        le=1_000,
    )

    store_link_ttl_days: int = ADMIN(
        90,
        "Days a store link stays valid after it is issued (issue new links before they run out).",
        ge=1,
        le=3_650,
    )
    store_link_expiry_warning_h: float = ADMIN(
        24.0,
        "A store's page shows a warning when one of its codes expires within this many hours.",
        ge=0,
        le=720,
    )
    store_link_picture_max_bytes: int = ADMIN(
        8 * 1024 * 1024,
        "Largest code picture a store link may upload, bytes (HUOMA_PICTURE_MAX_BYTES applies "
        "too: the smaller wins).",
        ge=1024,
        le=64 * 1024 * 1024,
    )
    store_link_picture_max_pixels: int = ADMIN(
        40_000_000,
        "Most pixels (width x height) of a code picture a store link uploads; larger ones are "
        "refused before decoding (decompression bombs). HUOMA_PICTURE_MAX_PIXELS applies too: "
        "the smaller wins.",
        ge=10_000,
        le=400_000_000,
    )

    # The URL carries the robot's key: a secret.
    alert_webhook_url: str = ALERTS(
        "",
        "WeCom group-robot webhook (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...) "
        "that alerts are posted to as markdown. Unset: alerts are only recorded.",
        check=_http_url_or_unset,
        secret=True,
    )
    alert_cooldown_s: float = ALERTS(
        3_600.0,
        "An alert of the same kind for the same store (and group) is posted at most once per "
        "this many seconds; repeats within it are recorded as suppressed.",
        ge=0,
        le=604_800,
    )
    alert_expiry_h: float = ALERTS(
        24.0, "A usable group expiring within this many hours raises an alert.", positive=True
    )
    alert_timeout_s: float = ALERTS(5.0, "Timeout of one webhook post, seconds.", positive=True)

    funnel_max_days: int = FUNNEL(
        366, "Longest date range one funnel query may ask for, days.", ge=1, le=3_660
    )
    funnel_timeout_s: float = FUNNEL(
        120.0,
        "Timeout of one funnel query or one day's rollup, seconds (they read far more rows than "
        "anything else, so HUOMA_DB_TIMEOUT_S does not apply to them).",
        positive=True,
    )

    # No corp id: WeCom is off.
    wecom_corp_id: str = WECOM(
        "",
        "WeCom corp id (企业ID). Set, it turns on join-way group codes for the stores given WeCom "
        "chats, and the callback endpoint /wecom/callback.",
    )
    wecom_secret: str = WECOM(
        "",
        "Secret of the WeCom application allowed to call the customer-contact API (客户联系).",
        secret=True,
    )
    wecom_callback_token: str = WECOM(
        "",
        "Token of the application's callback (接收事件服务器): signs callbacks.",
        secret=True,
    )
    wecom_aes_key: str = WECOM(
        "",
        "EncodingAESKey of the application's callback (43 characters): encrypts callbacks.",
        secret=True,
    )
    wecom_api_base: str = WECOM(
        "https://qyapi.weixin.qq.com/cgi-bin", "WeCom's server API base URL.", check=_http_url
    )
    wecom_timeout_s: float = WECOM(
        10.0, "Timeout of one WeCom API request, seconds.", positive=True
    )
    wecom_retries: int = WECOM(
        3,
        "Retries of a WeCom API call that timed out or found WeCom busy (with exponential "
        "backoff).",
        ge=0,
        le=10,
    )
    wecom_sync_s: float = WECOM(
        300.0,
        "How often the keeper reconciles every store's join way with WeCom, seconds.",
        positive=True,
    )
    wecom_room_capacity: int = WECOM(
        500,
        "Members at which a WeCom customer group counts as full and leaves its join way's chat "
        "list.",
        ge=2,
        le=2_000,
    )
    wecom_callback_skew_s: float = WECOM(
        300.0,
        "A callback whose timestamp is further than this from now is refused (replay "
        "protection), seconds.",
        positive=True,
    )

    def __post_init__(self) -> None:
        for d in _declared():
            _check(d, getattr(self, d.name))
        self._check_together()

    def _check_together(self) -> None:
        """The checks that involve more than one setting."""
        if self.db_pool_min > self.db_pool_max:
            raise SettingsError(
                f"HUOMA_DB_POOL_MIN={self.db_pool_min!r}: must be between 0 and "
                f"{self.db_pool_max} (HUOMA_DB_POOL_MAX)"
            )
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

    brand_name: str = BRAND(
        "门店福利群",
        "The brand's name: the page's header, its title and the share card (1-20 characters).",
    )
    brand_logo_path: str = BRAND(
        "",
        "A PNG, JPEG or WebP file with the brand's logo (at most HUOMA_BRAND_LOGO_MAX_BYTES; "
        "re-encoded as a PNG at most 192 px on its longer side). Unset: no logo.",
    )
    brand_logo_max_bytes: int = BRAND(
        2 * 1024 * 1024, "Largest logo file accepted, bytes.", positive=True, le=20 * 1024 * 1024
    )
    brand_theme_colour: str = BRAND(
        "#2b63e6",
        "The page's accent colour, #rrggbb (header, buttons, links); text on it is white, or "
        "near-black when white would read below 4.5:1.",
        check=_hex_colour,
    )
    brand_offer: str = BRAND(
        "",
        "The reason to join, shown under the brand (e.g. 进群领3张8折券; at most 40 characters).",
    )
    brand_caption_group: str = BRAND(
        "长按识别二维码，加入门店福利群",
        "Caption under a store's group code (at most 40 characters).",
    )
    brand_caption_staff: str = BRAND(
        "长按识别二维码，添加门店客服",
        "Caption under a store's own fallback, a staff contact (at most 40 characters).",
    )
    brand_caption_brand: str = BRAND(
        "长按识别二维码，加入品牌福利群",
        "Caption under the brand's fallback group (at most 40 characters).",
    )
    brand_location_purpose: str = BRAND(
        "我们仅用您的位置查找最近的门店，不保存您的位置。",
        "Why the page asks for the location and what is kept, shown before it asks (personal "
        "information law; at most 120 characters).",
    )
    brand_footer: str = BRAND("", "A footer line (at most 60 characters).")
    brand_call_to_action: str = BRAND(
        "微信扫码 加入福利群", "The call to action on print sheets (at most 24 characters)."
    )

    print_font: str = BRAND(
        "",
        "A CJK TrueType font (.ttf/.ttc) for print sheets. Unset: WenQuanYi Zen Hei where Debian "
        "puts it (fonts-wqy-zenhei; the Docker image installs it).",
    )
    print_poll_s: float = BRAND(
        2.0,
        "How often a worker looks for an all-stores print job to make, seconds.",
        positive=True,
        le=3600,
    )
    print_job_timeout_s: float = BRAND(
        900.0,
        "An all-stores print job running longer than this is given up (and taken again if its "
        "worker died), seconds.",
        positive=True,
        le=86_400,
    )
    print_max_stores: int = BRAND(
        20_000, "Most stores in one all-stores print job (one page each).", positive=True
    )

    def __repr__(self) -> str:
        # Secrets left out and passwords masked: settings may end up in a log line.
        shown = (f"{d.name}={d.shown(getattr(self, d.name))}" for d in _declared())
        return f"Settings({', '.join(shown)})"

    @property
    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def section(self, key: str) -> dict[str, Any]:
        """The values of one section by field name (RoutePolicy is built from "routing")."""
        found = {d.name: getattr(self, d.name) for d in _declared() if d.spec.section == key}
        if not found:
            raise KeyError(f"no settings section {key!r}")
        return found

    def rate_limits(self) -> dict[str, RateLimit]:
        """Every limiter's rate and burst, by limiter name (e.g. "route_ip")."""
        halves: dict[str, dict[str, int]] = {}
        for d in _declared():
            if d.spec.rate is not None:
                limiter, half = d.spec.rate
                halves.setdefault(limiter, {})[half] = getattr(self, d.name)
        return {k: RateLimit(**v) for k, v in halves.items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from HUOMA_* variables; unknown HUOMA_* names are an error (typos)."""
        known = {d.variable: d for d in _declared()}
        unknown = sorted(k for k in environ if k.startswith(PREFIX) and k not in known)
        # HUOMA_TEST_* belongs to the test suite, not to the service.
        unknown = [k for k in unknown if not k.startswith(PREFIX + "TEST_")]
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]}; see `huoma settings` for the list")
        values: dict[str, Any] = {}
        for variable, d in known.items():
            raw = environ.get(variable)
            if raw is None:
                continue
            try:
                values[d.name] = d.parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{variable}={d.shown(raw)}: {exc}") from None
        return cls(**values)


# ---- what is derived from the declarations ----------------------------------------------------


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


def _str(raw: str) -> str:
    return raw.strip()


def _optional_str(raw: str) -> str | None:
    return raw.strip() or None


def _path(raw: str) -> Path:
    return Path(raw.strip())


def _tokens(raw: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in raw.split(",") if t.strip())


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class _Kind(NamedTuple):
    """How a setting of one annotated type is read from text, and what values it takes."""

    parse: Callable[[str], Any]
    accepts: Callable[[object], bool]
    expected: str


# Keyed by the field's annotation: a field of any other type is a declaration error.
_KINDS: dict[object, _Kind] = {
    int: _Kind(_int, _is_int, "a whole number"),
    float: _Kind(_float, _is_number, "a number"),
    bool: _Kind(parse_flag, lambda v: isinstance(v, bool), "true or false"),
    str: _Kind(_str, lambda v: isinstance(v, str), "text"),
    str | None: _Kind(_optional_str, lambda v: v is None or isinstance(v, str), "text or None"),
    Path: _Kind(_path, lambda v: isinstance(v, Path), "a path"),
    tuple[str, ...]: _Kind(
        _tokens,
        lambda v: isinstance(v, tuple) and all(isinstance(x, str) for x in v),
        "a tuple of text",
    ),
}


@dataclass(frozen=True, slots=True)
class Declared:
    """One setting as declared: its field name, default, kind and spec."""

    name: str
    default: Any
    kind: _Kind
    spec: Spec

    @property
    def variable(self) -> str:
        return PREFIX + self.name.upper()

    def parse(self, raw: str) -> Any:
        value = self.kind.parse(raw)
        if self.spec.choices:
            value = value.lower()
        return value

    def shown(self, value: Any) -> str:
        """A value (or the text it was read from) as repr and errors may show it."""
        if self.spec.secret:
            return "<hidden>"
        if self.spec.redact is not None and isinstance(value, str):
            value = self.spec.redact(value)
        return repr(value)


@functools.cache
def _declared() -> tuple[Declared, ...]:
    """Every setting in declaration order; a declaration that cannot work is a TypeError here."""
    hints = get_type_hints(Settings)
    out = []
    for f in fields(Settings):
        spec = f.metadata.get("huoma")
        if not isinstance(spec, Spec):
            raise TypeError(f"Settings.{f.name} is not declared by a section")
        kind = _KINDS.get(hints[f.name])
        if kind is None:
            raise TypeError(f"Settings.{f.name}: no parser for {hints[f.name]}")
        if spec.section not in {s.key for s in SECTIONS}:
            raise TypeError(f"Settings.{f.name}: section {spec.section!r} is not in SECTIONS")
        out.append(Declared(f.name, f.default, kind, spec))
    limiters: dict[str, list[str]] = {}
    for d in out:
        if d.spec.rate is not None:
            limiters.setdefault(d.spec.rate[0], []).append(d.spec.rate[1])
    for limiter, halves in limiters.items():
        if sorted(halves) != ["burst", "per_minute"]:
            raise TypeError(f"rate limiter {limiter!r} needs one per_minute and one burst")
    return tuple(out)


def _check(d: Declared, value: Any) -> None:
    """One setting's own checks: type, words, bounds, then its extra check."""
    spec = d.spec
    # A list is shown as it is written in its variable.
    shown = "=" + d.shown(",".join(map(str, value)) if isinstance(value, tuple) else value)
    if not d.kind.accepts(value):
        raise SettingsError(f"{d.variable}{shown}: expected {d.kind.expected}")
    if spec.choices and value not in spec.choices:
        raise SettingsError(f"{d.variable}{shown}: use one of {', '.join(spec.choices)}")
    if spec.positive and not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{d.variable}{shown}: must be a positive number")
    low, high = spec.ge, spec.le
    within = (low is None or value >= low) and (high is None or value <= high)
    if (low is not None or high is not None) and not (math.isfinite(value) and within):
        if high is None:
            raise SettingsError(f"{d.variable}{shown}: must be at least {_n(low)}")
        if low is None:
            raise SettingsError(f"{d.variable}{shown}: must be at most {_n(high)}")
        raise SettingsError(f"{d.variable}{shown}: must be between {_n(low)} and {_n(high)}")
    if spec.check is not None:
        problem = spec.check(value)
        if problem is not None:
            raise SettingsError(f"{d.variable}{shown}: {problem}")


def _n(bound: float | None) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _shown_default(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value) or "(empty)"
    if value is None or value == "":
        return "(unset)"
    return str(value)


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, in declaration order."""
    return [(d.variable, _shown_default(d.default), d.spec.meaning) for d in _declared()]


def sections() -> list[tuple[Section, list[tuple[str, str, str]]]]:
    """The sections in order, each with its settings as `describe()` gives them."""
    rows = dict(zip((d.name for d in _declared()), describe(), strict=True))
    out = []
    for s in SECTIONS:
        mine = [rows[d.name] for d in _declared() if d.spec.section == s.key]
        if mine:
            out.append((s, mine))
    return out


def markdown() -> str:
    """The README's settings tables, one per section (`huoma settings --markdown`)."""
    parts = []
    for s, rows in sections():
        lines = [f"### {s.title}", "", "| Variable | Default | Meaning |", "|---|---|---|"]
        lines += [f"| `{name}` | `{default}` | {meaning} |" for name, default, meaning in rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
