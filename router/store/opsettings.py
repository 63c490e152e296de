"""The settings ops own: each declared once here (name, type, validation, its HUOMA_* environment
default), values in PostgreSQL's `ops_settings`, read through one object, `OpsSettings`.

A setting without a stored value takes its environment default (router/settings.py), so a
deployment that never touches the ops page behaves as its environment says. Every worker holds one
`OpsSettings`, refreshed on a NOTIFY and on a periodic re-read (router/runtime/opsettings.py);
a change is validated, stored, audited and announced in one transaction (`put`, `reset`).

A new setting (brand name, colours, ...) is one more `Declared` in DECLARED.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from geo.coords import CoordError
from geo.providers import ACCEPTED_EN, ACCEPTED_ZH, Provider
from router import brand as b
from router.errors import BadInput, NotFound
from router.scan.catalogue import city_key, place_keys
from router.settings import Settings
from router.store import sql
from router.store.audit import record


class SettingInvalid(BadInput):
    code = "bad_setting"


@dataclass(frozen=True, slots=True)
class Webhook:
    """One alert robot: a name ops know it by, its URL (it carries the robot's key: a secret),
    and the regions it serves (empty: every store)."""

    name: str
    url: str
    regions: tuple[str, ...] = ()

    def serves(self, region: str | None, city: str | None) -> bool:
        """Serves a store of this region or city, whichever way either is spelled (成都市 is
        成都: compared by router.scan.catalogue.city_key, as everywhere)."""
        if not self.regions:
            return True
        mine = set(place_keys(self.regions))
        return any(p and city_key(p) in mine for p in (region, city))

    def masked(self) -> dict[str, Any]:
        return {"name": self.name, "url": mask_url(self.url), "regions": list(self.regions)}


def mask_url(url: str) -> str:
    """A webhook URL with its key hidden: enough to recognise, not enough to post."""
    return re.sub(
        r"(key=)([^&]*)", lambda m: m[1] + (m[2][:4] + "…" if len(m[2]) > 4 else "…"), url
    )


@dataclass(frozen=True, slots=True)
class Declared:
    """One setting ops may change: what it is, how a value is checked, where its default comes
    from, how it is shown (secrets masked) and stored (JSON)."""

    name: str
    zh: str
    en: str
    parse: Callable[[Any, Any], Any]  # (raw JSON value, the current value) -> value or raises
    default: Callable[[Settings], Any]
    env: str  # the HUOMA_* variable of the default
    show: Callable[[Any], Any] = lambda v: v
    store: Callable[[Any], Any] = lambda v: v
    load: Callable[[Any], Any] = lambda v: v
    # A check that needs the database (a logo named by its hash must be stored), in put's
    # transaction; raises as parse does.
    verify: Callable[[asyncpg.Connection, Any], Awaitable[None]] | None = None
    # What the setting does, in Chinese (the ops page's first language; `en` is its English).
    zh_meaning: str = ""


def _number(low: float, high: float, *, low_open: bool = False) -> Callable[[Any, Any], float]:
    def parse(raw: Any, _current: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise SettingInvalid("值必须是数字。The value must be a number.")
        if raw < low or raw > high or (low_open and raw == low):
            lo = f"大于 {low:g}" if low_open else f"不小于 {low:g}"
            lo_en = f"above {low:g}" if low_open else f"at least {low:g}"
            raise SettingInvalid(
                f"值必须{lo}且不大于 {high:g}。The value must be {lo_en} and at most {high:g}."
            )
        return float(raw)

    return parse


def _coord(raw: Any, _current: Any) -> str:
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise SettingInvalid(f"值必须是坐标来源（{ACCEPTED_ZH}）或空。Use {ACCEPTED_EN} or empty.")
    try:
        return Provider.parse(raw).value
    except CoordError:
        raise SettingInvalid(
            f"未知的坐标来源 {raw[:40]!r}：请用 {ACCEPTED_ZH}。"
            f"Unknown coordinate source {raw[:40]!r}; use {ACCEPTED_EN}."
        ) from None


MAX_WEBHOOKS = 20
MAX_REGIONS = 200
_URL = re.compile(r"^https?://[^/\s]+(/\S*)?$")


def _printable(text: str) -> bool:
    return not any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _webhooks(raw: Any, current: Any) -> tuple[Webhook, ...]:
    """A list of {name, url, regions}. A webhook given without its url keeps the stored URL of the
    webhook of the same name (the page never sees a URL's key, so it cannot send it back)."""
    if not isinstance(raw, list) or len(raw) > MAX_WEBHOOKS:
        raise SettingInvalid(
            f"值必须是最多 {MAX_WEBHOOKS} 个机器人的列表。"
            f"The value must be a list of at most {MAX_WEBHOOKS} webhooks."
        )
    known = {w.name: w for w in current}
    out: list[Webhook] = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise SettingInvalid(f"第 {i} 个机器人必须是对象。Webhook {i} must be an object.")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 50 or not _printable(name):
            raise SettingInvalid(
                f"第 {i} 个机器人需要名称（1-50 字）。Webhook {i} needs a name (1-50 characters)."
            )
        name = name.strip()
        if any(w.name == name for w in out):
            raise SettingInvalid(f"机器人名称重复：{name}。Two webhooks are named {name}.")
        url = item.get("url")
        if url is None or url == "":
            if name not in known:
                raise SettingInvalid(
                    f"机器人 {name} 需要 Webhook 地址。Webhook {name} needs its URL.",
                )
            url = known[name].url
        if (
            not isinstance(url, str)
            or not _URL.match(url)
            or len(url) > 2000
            or not _printable(url)
        ):
            raise SettingInvalid(
                f"机器人 {name} 的地址不是 http(s) 网址。The URL of webhook {name} is not an "
                "http(s) URL."
            )
        regions = item.get("regions", [])
        if (
            not isinstance(regions, list)
            or len(regions) > MAX_REGIONS
            or not all(
                isinstance(r, str) and r.strip() and len(r) <= 50 and _printable(r) for r in regions
            )
        ):
            raise SettingInvalid(
                f"机器人 {name} 的区域必须是文字列表。The regions of webhook {name} must be a list "
                "of names."
            )
        out.append(Webhook(name, url, tuple(dict.fromkeys(r.strip() for r in regions))))
    return tuple(out)


def _env_webhooks(settings: Settings) -> tuple[Webhook, ...]:
    url = settings.alert_webhook_url
    return (Webhook("default", url),) if url else ()


def _load_webhooks(value: Any) -> tuple[Webhook, ...]:
    return tuple(Webhook(w["name"], w["url"], tuple(w.get("regions", ()))) for w in value)


# The brand's texts and colour: each a setting of its own over its HUOMA_BRAND_* default, checked
# as router.brand checks a Brand. brand_logo names a logo stored in brand_logos by its SHA-256
# ("" for none); its default is the file HUOMA_BRAND_LOGO_PATH names, as "file:<path>".
BRAND_TEXTS = tuple(b.MAX_CHARS)
LOGO_FILE = "file:"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _brand_text(field_name: str) -> Callable[[Any, Any], str]:
    def parse(raw: Any, _current: Any) -> str:
        return b.check_text(field_name, raw)

    return parse


def _env_text(attr: str) -> Callable[[Settings], str]:
    def default(settings: Settings) -> str:
        return str(getattr(settings, attr))

    return default


def _brand_logo(raw: Any, _current: Any) -> str:
    if raw == "" or (isinstance(raw, str) and _SHA256.fullmatch(raw)):
        return str(raw)
    raise b.BrandError(
        "品牌标志须为已上传图片的 SHA-256，或空（不用标志） / brand_logo: the SHA-256 of an "
        'uploaded logo, or "" for none',
        code="bad_brand",
    )


async def _logo_stored(conn: asyncpg.Connection, value: str) -> None:
    if value and await conn.fetchrow(sql.BRAND_LOGO, value) is None:
        raise b.BrandError(
            "没有这个品牌标志：请先上传 / no logo with this SHA-256: upload it first",
            code="bad_brand",
        )


def _brand_declarations() -> tuple[Declared, ...]:
    texts = tuple(
        Declared(
            f"brand_{name}",
            f"品牌：{b.LABELS_ZH[name]}",
            f"Brand: {name.replace('_', ' ')} (at most {limit} characters)",
            _brand_text(name),
            _env_text(f"brand_{name}"),
            f"HUOMA_BRAND_{name.upper()}",
            zh_meaning=f"顾客页和门店页上显示的{b.LABELS_ZH[name]}（最多 {limit} 个字）",
        )
        for name, limit in b.MAX_CHARS.items()
    )
    return (
        *texts,
        Declared(
            "brand_theme_colour",
            "品牌：主题色（#rrggbb）",
            "Brand: theme colour (#rrggbb)",
            lambda raw, _current: b.check_colour(raw),
            lambda s: s.brand_theme_colour,
            "HUOMA_BRAND_THEME_COLOUR",
            zh_meaning="顾客页的主题色，#rrggbb 格式；文字颜色会自动调整以保证可读",
        ),
        Declared(
            "brand_logo",
            "品牌：标志（图片的 SHA-256；空＝不用标志）",
            "Brand: logo, the SHA-256 of a logo uploaded on the brand screen (empty: none)",
            _brand_logo,
            lambda s: LOGO_FILE + s.brand_logo_path if s.brand_logo_path else "",
            "HUOMA_BRAND_LOGO_PATH",
            verify=_logo_stored,
            zh_meaning="顾客页顶部的品牌标志：在品牌页上传的图片（按 SHA-256 指定）"
            "；空：不显示标志",
        ),
    )


DECLARED: dict[str, Declared] = {
    d.name: d
    for d in (
        Declared(
            "alert_webhooks",
            "告警机器人（可按区域）",
            "Alert robots (WeCom group-robot webhooks), each optionally for some regions",
            _webhooks,
            _env_webhooks,
            "HUOMA_ALERT_WEBHOOK_URL",
            show=lambda v: [w.masked() for w in v],
            store=lambda v: [{"name": w.name, "url": w.url, "regions": list(w.regions)} for w in v],
            load=_load_webhooks,
            zh_meaning="企业微信群机器人的 Webhook：告警推送到这些群，"
            "每个机器人可只管部分区域或城市",
        ),
        Declared(
            "alert_cooldown_s",
            "同一告警的最短重发间隔（秒）",
            "An alert of the same kind for the same store is posted at most once per this many "
            "seconds",
            _number(0, 604_800),
            lambda s: s.alert_cooldown_s,
            "HUOMA_ALERT_COOLDOWN_S",
            zh_meaning="同一门店的同一种告警，在这么多秒内最多推送一次",
        ),
        Declared(
            "alert_expiry_h",
            "群码在多少小时内过期时告警",
            "A usable group expiring within this many hours raises an alert",
            _number(0, 8_760, low_open=True),
            lambda s: s.alert_expiry_h,
            "HUOMA_ALERT_EXPIRY_H",
            zh_meaning="可用群的二维码在这么多小时内过期时发出告警",
        ),
        Declared(
            "upload_default_coord",
            "上传门店时 coord 列为空、上传也未选择时所用的坐标来源（空：必须选择或填写）",
            "The coordinate source (amap, tencent, baidu, gps, wgs84, gcj02, bd09) of store rows "
            "uploaded without a coord when the upload names none (empty: one must be named)",
            _coord,
            lambda s: s.upload_default_coord,
            "HUOMA_UPLOAD_DEFAULT_COORD",
            zh_meaning="上传门店时，行里没有 coord、上传时也没选择坐标来源，就按这个来源理解经纬度"
            "（高德、腾讯、百度、GPS 等；空：必须选择或填写）",
        ),
        *_brand_declarations(),
    )
}


def declared(name: str) -> Declared:
    found = DECLARED.get(name)
    if found is None:
        raise NotFound(
            f"没有设置 {name[:60]!r}。No setting {name[:60]!r}; settings: {', '.join(DECLARED)}.",
            code="unknown_setting",
        )
    return found


@dataclass(frozen=True, slots=True)
class Stored:
    value: Any
    updated_at: datetime
    updated_by: str


@dataclass
class OpsSettings:
    """The effective settings of this worker: stored values over the environment defaults."""

    env: Settings
    stored: Mapping[str, Stored] = field(default_factory=dict)
    loaded_at: datetime | None = None

    def get(self, name: str) -> Any:
        found = self.stored.get(name)
        return found.value if found is not None else DECLARED[name].default(self.env)

    @property
    def webhooks(self) -> tuple[Webhook, ...]:
        hooks: tuple[Webhook, ...] = self.get("alert_webhooks")
        return hooks

    @property
    def alert_cooldown_s(self) -> float:
        return float(self.get("alert_cooldown_s"))

    @property
    def alert_expiry_h(self) -> float:
        return float(self.get("alert_expiry_h"))

    @property
    def upload_default_coord(self) -> Provider | None:
        raw: str = self.get("upload_default_coord")
        return Provider.parse(raw) if raw else None

    def brand_texts(self) -> dict[str, str]:
        """The brand's texts and colour as Brand's fields (stored values over the defaults)."""
        names = (*BRAND_TEXTS, "theme_colour")
        return {n: str(self.get(f"brand_{n}")) for n in names}

    @property
    def brand_logo(self) -> str:
        """A stored logo's SHA-256, "" for none, or "file:<path>": the environment's logo."""
        return str(self.get("brand_logo"))

    def effective(self) -> list[dict[str, Any]]:
        """Each setting with its value, where the value came from, and its default."""
        out = []
        for d in DECLARED.values():
            found = self.stored.get(d.name)
            out.append(
                {
                    "name": d.name,
                    "label": d.zh,
                    "meaning": d.en,
                    "meaning_zh": d.zh_meaning or d.zh,
                    "value": d.show(self.get(d.name)),
                    "source": "database" if found is not None else "environment",
                    "env": d.env,
                    "default": d.show(d.default(self.env)),
                    "updated_at": None if found is None else found.updated_at.isoformat(),
                    "updated_by": None if found is None else found.updated_by,
                }
            )
        return out


async def load(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, Stored]:
    """The stored values; one that no longer passes its declaration (a declaration tightened
    since) is left out, so its environment default applies."""
    out: dict[str, Stored] = {}
    for r in await conn.fetch(sql.LOAD_OPS_SETTINGS):
        d = DECLARED.get(r["name"])
        if d is None:
            continue
        try:
            value = d.load(orjson.loads(r["value"]))
        except (KeyError, TypeError, ValueError):
            continue
        out[r["name"]] = Stored(value, r["updated_at"], r["updated_by"])
    return out


def _brief(value: Any) -> str:
    return orjson.dumps(value).decode()[:300]


async def _current(conn: asyncpg.Connection, d: Declared, env: Settings) -> Any:
    """The setting's value as stored now (locked until the transaction ends), or its default."""
    raw = await conn.fetchval(sql.OPS_SETTING_FOR_UPDATE, d.name)
    if raw is not None:
        try:
            return d.load(orjson.loads(raw))
        except (KeyError, TypeError, ValueError):
            pass
    return d.default(env)


async def put(conn: asyncpg.Connection, env: Settings, name: str, raw: Any, actor: str) -> Any:
    """Validate and store one setting, audit it and tell every worker, in one transaction.
    Returns the new value (as shown: secrets masked)."""
    d = declared(name)
    async with conn.transaction():
        current = await _current(conn, d, env)
        value = d.parse(raw, current)
        if d.verify is not None:
            await d.verify(conn, value)
        old, new = d.show(current), d.show(value)
        await conn.execute(sql.PUT_OPS_SETTING, name, orjson.dumps(d.store(value)).decode(), actor)
        await record(
            conn,
            actor,
            "setting.change",
            target=name,
            summary=f"{name}: {_brief(old)} -> {_brief(new)}",
            details={"old": old, "new": new},
        )
        await conn.execute(sql.NOTIFY_SETTINGS, name)
    return new


async def reset(conn: asyncpg.Connection, env: Settings, name: str, actor: str) -> Any:
    """Remove a stored value: the environment default applies again. Returns it (as shown)."""
    d = declared(name)
    async with conn.transaction():
        current = await _current(conn, d, env)
        new = d.show(d.default(env))
        gone = await conn.fetchval(sql.DELETE_OPS_SETTING, name)
        if gone is None:
            return new
        old = d.show(current)
        await record(
            conn,
            actor,
            "setting.reset",
            target=name,
            summary=f"{name}: {_brief(old)} -> {_brief(new)} ({d.env})",
            details={"old": old, "new": new},
        )
        await conn.execute(sql.NOTIFY_SETTINGS, name)
    return new
