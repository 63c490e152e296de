"""The settings ops own, on the ops API: each setting's effective value and where it came from,
a change (validated, stored, audited and announced in one transaction) and a reset to the
environment default. Declarations and storage: router/store/opsettings.py."""

from __future__ import annotations

import os

from aiohttp import web

from router.keys import BRAND, OPS_SETTINGS, POOL, PRINCIPAL, SETTINGS
from router.ops.handlers import json_body, json_response, log
from router.runtime.opsettings import refresh
from router.store import opsettings
from router.store.db import Operation

SETTINGS_READ = Operation("设置查询", "settings query")
SETTINGS_CHANGE = Operation("设置修改", "settings change")


def _one(request: web.Request, name: str) -> dict[str, object]:
    return next(s for s in request.config_dict[OPS_SETTINGS].effective() if s["name"] == name)


async def list_settings(request: web.Request) -> web.Response:
    """GET /admin/api/settings: every setting ops own, its effective value (secrets masked), its
    source (database or environment) and its environment default, as the worker that answers
    (`worker`, its process id) applies them."""
    live = request.config_dict[OPS_SETTINGS]
    return json_response({"worker": os.getpid(), "settings": live.effective()})


async def put_setting(request: web.Request) -> web.Response:
    """PUT /admin/api/settings/{name} {"value": ...}: store a value over the default. Every worker
    applies it within seconds (NOTIFY, and a periodic re-read)."""
    name = request.match_info["name"]
    opsettings.declared(name)  # an unknown name is a 404 before the body is read
    body = await json_body(request)
    if "value" not in body:
        raise opsettings.SettingInvalid('请以 {"value": ...} 发送新值。Send {"value": ...}.')
    actor = request[PRINCIPAL].actor
    config = request.config_dict
    async with config[POOL].acquire() as conn:
        await opsettings.put(conn, config[SETTINGS], name, body["value"], actor)
    # This worker answers with the value it now uses; the others follow on the notification.
    await refresh(config[OPS_SETTINGS], config[POOL], config.get(BRAND))
    log.info("admin: %s changed setting %s", actor, name)
    return json_response(_one(request, name))


async def reset_setting(request: web.Request) -> web.Response:
    """DELETE /admin/api/settings/{name}: forget the stored value; the environment default
    applies again."""
    name = request.match_info["name"]
    opsettings.declared(name)
    actor = request[PRINCIPAL].actor
    config = request.config_dict
    async with config[POOL].acquire() as conn:
        await opsettings.reset(conn, config[SETTINGS], name, actor)
    await refresh(config[OPS_SETTINGS], config[POOL], config.get(BRAND))
    log.info("admin: %s reset setting %s", actor, name)
    return json_response(_one(request, name))
