"""The customer page (/s/{entry}) and the ops page (/admin) with their assets and security headers
on every response, and the optional WeChat JS-SDK signature the customer page uses to ask WeChat
for its location."""

from __future__ import annotations

import gzip
import hashlib
import html
import io
import secrets
import time
from pathlib import Path

import orjson
from aiohttp import web

from router.brand import Brand, BrandSource, brand_from_settings
from router.errors import BadInput, HuomaError, NotFound
from router.keys import BRAND, JOURNAL, SETTINGS, WECHAT_TICKET
from router.scan.journal import EventKind, ScanEvent
from router.scan.live import valid_visitor_id
from router.scan.routing import valid_entry
from router.settings import Settings

WX_SDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"

ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
ADMIN_ASSETS = {
    "admin.js": "text/javascript",
    "admin.css": "text/css",
    "accounts.js": "text/javascript",
    "settings.js": "text/javascript",  # the settings and audit screens
    "uploads.js": "text/javascript",  # the upload's column mapping and grouped problems
    "pictures.js": "text/javascript",  # group codes from pictures
    "pictures.css": "text/css",
    "links.js": "text/javascript",  # the store links screen
    "links.css": "text/css",
    "brand.js": "text/javascript",  # the brand screen, campaign copy and print sheets
    "brand.css": "text/css",
    "review.js": "text/javascript",  # a dry run's warnings, changes and confirmation
    "review.css": "text/css",
}


# Everything comes from this origin; the page needs no inline script or style, no frames, no
# third-party requests. QR images are same-origin PNGs.
def csp(wechat: bool) -> str:
    """The page's policy: its own origin only, plus WeChat's SDK script when it is configured."""
    script = "'self' https://res.wx.qq.com" if wechat else "'self'"
    return (
        f"default-src 'none'; script-src {script}; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


CSP = csp(False)
# The ops page shows QR images it fetched with the token, as blob: URLs.
ADMIN_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# A store link's page: same rules; shows nothing from elsewhere.
STORE_ASSETS = {"store.js": "text/javascript", "store.css": "text/css"}
STORE_CSP = ADMIN_CSP
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def default_static_dir() -> Path:
    """static/ beside the router package: the repository, or an editable install."""
    return Path(__file__).resolve().parents[2] / "static"


class Pages:
    """Reads a page and its assets once; the page links assets by content hash, so they can be
    cached for a year while a new release is picked up at once."""

    def __init__(
        self,
        folder: Path,
        assets: dict[str, str] = ASSETS,
        *,
        wechat: bool = False,
        policy: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        if not (folder / "index.html").is_file():
            raise FileNotFoundError(f"a page is missing: {folder / 'index.html'}")
        self.kinds = assets
        self.assets = {name: (folder / name).read_bytes() for name in assets}
        digest = hashlib.sha256(b"".join(self.assets[n] for n in sorted(self.assets)))
        self.version = digest.hexdigest()[:12]
        page = (folder / "index.html").read_bytes().replace(b"{{v}}", self.version.encode())
        sdk = f'<script src="{WX_SDK}" defer></script>\n'.encode() if wechat else b""
        self.page = page.replace(b"<!--wx-->\n", sdk)
        self.headers = {
            **PAGE_HEADERS,
            "Content-Security-Policy": policy or csp(wechat),
            **(extra_headers or {}),
        }

    async def page_handler(self, request: web.Request) -> web.Response:
        # Any entry code serves the page, known or not: a printed code must never break. The
        # page sends the code with its scan, and the scan's event records it as given.
        return web.Response(
            body=self.page, content_type="text/html", charset="utf-8", headers=self.headers
        )

    async def asset_handler(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = self.kinds.get(name)
        if kind is None:
            raise NotFound("no such file", code="not_found")
        cache = (
            "public, max-age=31536000, immutable"
            if request.query.get("v") == self.version
            else "public, max-age=300"
        )
        return web.Response(
            body=self.assets[name],
            content_type=kind,
            charset="utf-8",
            headers={**self.headers, "Cache-Control": cache},
        )


def page_view(request: web.Request) -> ScanEvent:
    """The funnel's first step: the customer page served, with its entry code (when it is one a
    scan could record) and the visitor its cookie names, if any. No location: the page has none
    yet."""
    entry = request.match_info.get("entry") or None
    visitor = request.cookies.get("hm_vid")
    return ScanEvent(
        at=time.time(),
        outcome="",
        kind=EventKind.PAGE_VIEW,
        entry=entry if entry is not None and valid_entry(entry) else None,
        visitor=visitor if visitor is not None and valid_visitor_id(visitor) else None,
    )


def brand_fields(brand: Brand) -> dict[str, str]:
    """The page's {{name}} placeholders, HTML-escaped."""
    logo = ""
    if brand.logo is not None:
        logo = (
            f'<img src="/brand/logo.png?v={brand.logo.version}" alt="" '
            f'width="{brand.logo.width}" height="{brand.logo.height}">'
        )
    texts = {
        "name": brand.name,
        "offer": brand.offer,
        "caption_group": brand.caption_group,
        "caption_staff": brand.caption_staff,
        "caption_brand": brand.caption_brand,
        "location_purpose": brand.location_purpose,
        "footer": brand.footer,
    }
    out = {k: html.escape(v, quote=True) for k, v in texts.items()}
    out["logo"] = logo
    out["offer_hidden"] = "" if brand.offer else " hidden"
    out["footer_hidden"] = "" if brand.footer else " hidden"
    return out


class _Rendered:
    """The page and its stylesheet for one brand version, plain and gzipped (made once)."""

    __slots__ = ("assets", "gz", "page", "page_gz", "version")

    def __init__(self, template: bytes, assets: dict[str, bytes], brand: Brand, sdk: bytes) -> None:
        # The brand's look is part of the one stylesheet the page already loads (no request
        # added before the QR can show), so its version follows the brand's too.
        self.assets = {**assets, "style.css": assets["style.css"] + brand.stylesheet()}
        digest = hashlib.sha256(b"".join(self.assets[n] for n in sorted(self.assets)))
        self.version = digest.hexdigest()[:12]
        page = template.replace(b"{{v}}", self.version.encode()).replace(b"<!--wx-->\n", sdk)
        for key, value in brand_fields(brand).items():
            page = page.replace(b"{{%s}}" % key.encode(), value.encode())
        self.page = page
        self.page_gz = gzip.compress(page, 9, mtime=0)
        self.gz = {name: gzip.compress(body, 9, mtime=0) for name, body in self.assets.items()}


def _gzip_ok(request: web.Request) -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "")


class CustomerPage(Pages):
    """The customer page, made from the brand (`BrandSource.current()`, read on every request:
    a new brand is served at once) and sent gzipped to browsers that take it. Each GET served
    is journalled as a page view (a HEAD is not a view)."""

    def __init__(self, folder: Path, brands: BrandSource, *, wechat: bool = False) -> None:
        super().__init__(folder, ASSETS, wechat=wechat)
        self.brands = brands
        self.template = (folder / "index.html").read_bytes()
        self.sdk = f'<script src="{WX_SDK}" defer></script>\n'.encode() if wechat else b""
        self._rendered: _Rendered | None = None
        self._rendered_for = ""
        self._favicon = b""
        self._favicon_for = ""

    def rendered(self) -> _Rendered:
        brand = self.brands.current()
        if self._rendered is None or self._rendered_for != brand.version:
            self._rendered = _Rendered(self.template, self.assets, brand, self.sdk)
            self._rendered_for = brand.version
        return self._rendered

    async def page_handler(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            request.config_dict[JOURNAL].append(page_view(request))
        r = self.rendered()
        headers = {**self.headers, "Vary": "Accept-Encoding"}
        if _gzip_ok(request):
            headers["Content-Encoding"] = "gzip"
            body = r.page_gz
        else:
            body = r.page
        return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)

    async def asset_handler(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = self.kinds.get(name)
        if kind is None:
            raise NotFound("no such file", code="not_found")
        r = self.rendered()
        cache = (
            "public, max-age=31536000, immutable"
            if request.query.get("v") == r.version
            else "public, max-age=300"
        )
        headers = {**self.headers, "Cache-Control": cache, "Vary": "Accept-Encoding"}
        body = r.assets[name]
        if _gzip_ok(request):
            headers["Content-Encoding"] = "gzip"
            body = r.gz[name]
        return web.Response(body=body, content_type=kind, charset="utf-8", headers=headers)

    async def favicon_handler(self, request: web.Request) -> web.Response:
        """GET /favicon.ico: the brand's small icon (every page of this origin asks for it)."""
        colour = self.brands.current().theme_colour.lower()
        if self._favicon_for != colour:
            self._favicon = favicon(colour)
            self._favicon_for = colour
        return web.Response(
            body=self._favicon,
            content_type="image/x-icon",
            headers={**self.headers, "Cache-Control": "public, max-age=86400"},
        )

    async def logo_handler(self, request: web.Request) -> web.Response:
        """The brand's logo, re-encoded small, from our origin; cached for a year under its
        versioned URL."""
        logo = self.brands.current().logo
        if logo is None:
            raise NotFound("this brand has no logo", code="not_found")
        cache = (
            "public, max-age=31536000, immutable"
            if request.query.get("v") == logo.version
            else "public, max-age=300"
        )
        return web.Response(
            body=logo.png,
            content_type="image/png",
            headers={**self.headers, "Cache-Control": cache},
        )


def favicon(colour: str) -> bytes:
    """A small icon of our own (the brand's colour, a white QR-like square in it), so browsers
    asking for /favicon.ico find one instead of a 404 on every page. ICO holding 16 and 32 px."""
    from PIL import Image, ImageDraw  # made once per theme colour

    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 31, 31), radius=7, fill=colour)
    draw.rectangle((8, 8, 23, 23), fill="#ffffff")
    draw.rectangle((12, 12, 19, 19), fill=colour)
    out = io.BytesIO()
    image.save(out, format="ICO", sizes=[(16, 16), (32, 32)])
    return out.getvalue()


def wx_signature(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    """JS-SDK signature: SHA-1 of the four fields sorted by name, joined as key=value pairs,
    unescaped, the URL without its fragment (WeChat JS-SDK documentation, appendix 1)."""
    text = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324  # the algorithm WeChat mandates


class WeChatConfig:
    """The page's JS-SDK configuration: signed with the ticket this worker holds (the shared one
    the refresher keeps fresh, router.runtime.wechat; else HUOMA_WECHAT_JSAPI_TICKET), with the
    share card from the brand."""

    def __init__(self, settings: Settings) -> None:
        self.appid = settings.wechat_appid
        self.ticket_setting = settings.wechat_jsapi_ticket
        self.configured = bool(
            settings.wechat_appid and (settings.wechat_jsapi_ticket or settings.wechat_appsecret)
        )
        self.base = settings.base_url

    @property
    def enabled(self) -> bool:
        return self.configured

    async def handler(self, request: web.Request) -> web.Response:
        if not self.enabled:
            raise NotFound("WeChat JS-SDK is not configured", code="wx_not_configured")
        url = request.query.get("url", "").split("#", 1)[0]
        # Only our own pages get a signature: it is a credential for this AppID.
        if not url or len(url) > 1024 or not url.startswith(self.base + "/s/"):
            raise BadInput("url must be this service's page URL", code="bad_url")
        cache = request.config_dict.get(WECHAT_TICKET)
        ticket = cache.current() if cache is not None else self.ticket_setting
        if not ticket:
            # The page then asks the browser for the location: not a server fault.
            raise HuomaError(
                "WeChat's jsapi_ticket is not available yet", code="wx_not_ready", status=409
            )
        nonce = secrets.token_urlsafe(12)
        timestamp = int(time.time())
        brand = request.config_dict[BRAND].current()
        share: dict[str, str] = {
            "title": brand.name,
            "desc": brand.offer or brand.caption_group,
            "imgUrl": f"{self.base}/brand/logo.png?v={brand.logo.version}" if brand.logo else "",
        }
        body = {
            "appId": self.appid,
            "timestamp": timestamp,
            "nonceStr": nonce,
            "signature": wx_signature(ticket, nonce, timestamp, url),
            "share": share,
        }
        return web.Response(
            body=orjson.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )


def add_routes(app: web.Application) -> None:
    settings = app[SETTINGS]
    wechat = WeChatConfig(settings)
    static = Path(settings.static_dir) if settings.static_dir else default_static_dir()
    if BRAND not in app:
        app[BRAND] = BrandSource(brand_from_settings(settings))
    pages = CustomerPage(static / "h5", app[BRAND], wechat=wechat.enabled)
    # The ops page is static too: it holds no data until the token it is given opens the API.
    ops = Pages(
        static / "admin",
        ADMIN_ASSETS,
        policy=ADMIN_CSP,
        extra_headers={"Permissions-Policy": "geolocation=(), camera=(), microphone=()"},
    )
    store = Pages(
        static / "store",
        STORE_ASSETS,
        policy=STORE_CSP,
        extra_headers={"Permissions-Policy": "geolocation=(), camera=(self), microphone=()"},
    )
    app.router.add_get("/store/", store.page_handler, name="store_page")
    app.router.add_get(r"/static/store/{name}", store.asset_handler, name="store_asset")
    app.router.add_get("/api/v1/wx-config", wechat.handler, name="wx_config")
    app.router.add_get("/s/", pages.page_handler, name="page_generic")
    app.router.add_get(r"/s/{entry:[^/]{0,200}}", pages.page_handler, name="page")
    app.router.add_get(r"/static/h5/{name}", pages.asset_handler, name="asset")
    app.router.add_get("/brand/logo.png", pages.logo_handler, name="brand_logo")
    app.router.add_get("/favicon.ico", pages.favicon_handler, name="favicon")
    app.router.add_get("/admin", ops.page_handler, name="admin_page")
    app.router.add_get("/admin/", ops.page_handler, name="admin_page_slash")
    app.router.add_get(r"/static/admin/{name}", ops.asset_handler, name="admin_asset")
