"""The brand on the ops API (the ops page's 品牌 / Brand screen, admins only): what the customer
page, its share card and the print sheets say and look like.

Each field is one of the settings ops own (router/store/opsettings.py, `brand_*`): a change is
validated, stored, audited and announced in one transaction, and every worker's settings
listener makes it the worker's brand (`BrandSource.replace`, router/runtime/opsettings.py) within
seconds. The logo is uploaded as a picture, re-encoded small (router.brand `read_logo`), stored in
`brand_logos` by its SHA-256, and the setting `brand_logo` names it: the audit trail holds the
hash, never the bytes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from aiohttp import web

from router.brand import (
    LOGO_MAX_PX,
    MAX_CHARS,
    PAGE_BACKGROUNDS,
    BrandError,
    contrast,
    read_logo,
)
from router.keys import BRAND, DB_CONTEXT, OPS_SETTINGS, POOL, PRINCIPAL, SETTINGS
from router.ops.handlers import json_body, json_response
from router.runtime.opsettings import refresh
from router.store import opsettings, sql
from router.store.db import Operation

log = logging.getLogger(__name__)

BRAND_READ = Operation("品牌设置查询", "brand settings query")
BRAND_CHANGE = Operation("品牌设置修改", "brand settings change")
BRAND_LOGO = Operation("品牌标志上传", "brand logo upload")

# In the order the screen shows them: the name and colour first.
FIELDS = ("name", "theme_colour", *(f for f in MAX_CHARS if f != "name"))


def _describe(request: web.Request) -> dict[str, Any]:
    config = request.config_dict
    brand = config[BRAND].current()
    live = config[OPS_SETTINGS]
    settings = {s["name"]: s for s in live.effective()}
    fields = []
    for name in FIELDS:
        s = settings[f"brand_{name}"]
        fields.append(
            {
                "field": name,
                "setting": s["name"],
                "label": s["label"],
                "value": getattr(brand, name),
                "max_chars": MAX_CHARS.get(name),
                "source": s["source"],
                "env": s["env"],
                "default": s["default"],
                "updated_at": s["updated_at"],
                "updated_by": s["updated_by"],
            }
        )
    logo_setting = settings["brand_logo"]
    logo = brand.logo
    return {
        "worker": os.getpid(),
        "version": brand.version,
        "fields": fields,
        "logo": None
        if logo is None
        else {
            "url": f"/brand/logo.png?v={logo.version}",
            "sha256": logo.digest,
            "width": logo.width,
            "height": logo.height,
            "bytes": len(logo.png),
        },
        "logo_source": logo_setting["source"],
        "logo_env": logo_setting["env"],
        "logo_max_bytes": config[SETTINGS].brand_logo_max_bytes,
        "logo_max_px": LOGO_MAX_PX,
        # The customer page shows a readable shade where the colour itself would not read at
        # 4.5:1 (links on the light page, text on buttons); the brand screen says so.
        "contrast": {
            "adjusted": brand.contrast_adjusted,
            "text": brand.text_colour,
            "fill": brand.fill_colour,
            "on_fill": brand.on_fill,
            "ratio_on_page": round(contrast(brand.theme_colour, PAGE_BACKGROUNDS[0]), 2),
        },
    }


async def get_brand(request: web.Request) -> web.Response:
    """GET /admin/api/brand: the brand this worker serves, each field's source (the database or
    its HUOMA_BRAND_* default) and the logo's versioned URL."""
    return json_response(_describe(request))


async def _reload(request: web.Request) -> None:
    # This worker answers with the brand it now serves; the others follow on the notification.
    config = request.config_dict
    await refresh(config[OPS_SETTINGS], config[POOL], config[BRAND])


async def put_brand(request: web.Request) -> web.Response:
    """PUT /admin/api/brand {"name": ..., "theme_colour": ..., "logo": ...}: any of the fields;
    a string sets it, null resets it to its HUOMA_BRAND_* default; "logo" takes the SHA-256 of
    an uploaded logo, "" for none, or null. Every field is checked before any is stored (one
    answer lists every problem); then all change in one transaction."""
    body = await json_body(request)
    unknown = sorted(k for k in body if k not in FIELDS and k != "logo")
    if unknown:
        raise BrandError(
            f"未知的品牌字段：{', '.join(unknown)[:200]} / unknown brand fields: "
            f"{', '.join(unknown)[:200]}; fields: {', '.join((*FIELDS, 'logo'))}",
            code="bad_brand",
        )
    if not body:
        raise BrandError("没有要修改的字段 / nothing to change", code="bad_brand")
    problems = []
    values: dict[str, Any] = {}
    for key, raw in body.items():
        if raw is None:
            values[key] = None
            continue
        try:
            values[key] = opsettings.DECLARED[f"brand_{key}"].parse(raw, None)
        except BrandError as exc:
            problems.append(exc.message)
    if problems:
        raise BrandError("; ".join(problems), code="bad_brand")
    config = request.config_dict
    actor = request[PRINCIPAL].actor
    env = config[SETTINGS]
    live = config[OPS_SETTINGS]
    async with config[POOL].acquire() as conn, conn.transaction():
        for key, value in values.items():
            name = f"brand_{key}"
            if value is None:
                await opsettings.reset(conn, env, name, actor)
            elif name not in live.stored or live.stored[name].value != value:
                await opsettings.put(conn, env, name, value, actor)
    await _reload(request)
    log.info("admin: %s changed the brand (%s)", actor, ", ".join(body))
    return json_response(_describe(request))


async def upload_logo(request: web.Request) -> web.Response:
    """POST /admin/api/brand/logo: the picture as the body (PNG, JPEG or WebP, at most
    HUOMA_BRAND_LOGO_MAX_BYTES), re-encoded to a PNG of at most 192 px a side, stored and made
    the brand's logo."""
    config = request.config_dict
    max_bytes = config[SETTINGS].brand_logo_max_bytes
    data = await request.content.read(max_bytes + 1)
    logo = await asyncio.to_thread(read_logo, data, max_bytes)
    actor = request[PRINCIPAL].actor
    digest = logo.digest
    request[DB_CONTEXT] = f"by {actor}, logo {digest[:12]}"
    async with config[POOL].acquire() as conn, conn.transaction():
        await conn.execute(sql.PUT_BRAND_LOGO, digest, logo.png, logo.width, logo.height, actor)
        await opsettings.put(conn, config[SETTINGS], "brand_logo", digest, actor)
    await _reload(request)
    log.info("admin: %s uploaded brand logo %s (%d bytes)", actor, digest[:12], len(logo.png))
    return json_response(_describe(request))
