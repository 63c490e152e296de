"""The ops console API as an aiohttp sub-application mounted at /admin/api.

Every operation is declared once in `OPERATIONS`, with what it needs of its principal and what it
asks of the database. One middleware resolves the principal (`router.ops.auth`), checks that need
and maps database trouble to a clear 400 or 503 naming the operation. No handler authorizes by
itself, so none can forget to.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from router.errors import HuomaError
from router.keys import ADMIN_FAILURES, DB_CONTEXT, PRINCIPAL, STORE_LINK_LIMITS
from router.ops import accounts as a
from router.ops import audit, campaigns, opsettings, wecom
from router.ops import brand as br
from router.ops import handlers as h
from router.ops import picture_api as pic
from router.ops import print_sheets as ps
from router.ops import store_links as sl
from router.ops.auth import ROLE_ZH, Role, check_csrf, check_scope, resolve_principal
from router.ops.uploads import export_operation, upload_operation
from router.scan.limits import Buckets
from router.settings import Settings
from router.store.db import Operation as DbOperation
from router.store.db import database_errors

PREFIX = "/admin/api"

# What a request asks of the database: a fixed name, or one that depends on the request (the
# kind of an upload or export); read only when the database failed.
AskedOf = DbOperation | Callable[[web.Request], DbOperation]


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # below PREFIX
    handler: Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]
    name: str
    # The least role that may call it; None: anyone (signing in, which proves who one is).
    needs: Role | None
    asks: AskedOf


def _upload(request: web.Request) -> DbOperation:
    return upload_operation(request.match_info["kind"])


def _export(request: web.Request) -> DbOperation:
    return export_operation(request.match_info["kind"])


def _retire(request: web.Request) -> DbOperation:
    return h.RETIRE if request.path.endswith("/retire") else h.RESTORE


# A principal limited to regions is checked against the store, group or entry code a path names
# ({store_id}, {group_id}, {code}) before the handler runs; lists and uploads filter themselves.
R, C, A, S = Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.STORE_LINK
OPERATIONS = (
    Operation("POST", "/session", a.sign_in, "admin_sign_in", None, a.SIGN_IN),
    Operation("GET", "/session", a.who_am_i, "admin_who_am_i", R, a.WHO_AM_I),
    Operation("DELETE", "/session", a.sign_out, "admin_sign_out", R, a.SIGN_OUT),
    Operation("GET", "/accounts", a.list_accounts, "admin_accounts", A, a.ACCOUNTS),
    Operation("POST", "/accounts", a.create_account, "admin_create_account", A, a.CREATE_ACCOUNT),
    Operation(
        "PATCH", "/accounts/{username}", a.update_account, "admin_account", A, a.UPDATE_ACCOUNT
    ),
    Operation("GET", "/tokens", a.list_tokens, "admin_tokens", A, a.TOKENS),
    Operation("POST", "/tokens", a.create_token, "admin_create_token", A, a.CREATE_TOKEN),
    Operation("DELETE", "/tokens/{name}", a.delete_token, "admin_delete_token", A, a.DELETE_TOKEN),
    Operation("GET", "/funnel", h.funnel_stats, "admin_funnel", R, h.FUNNEL),
    Operation("GET", "/funnel.csv", h.funnel_csv, "admin_funnel_csv", R, h.FUNNEL_CSV),
    Operation("GET", "/alerts", h.list_alerts, "admin_alerts", R, h.ALERTS),
    Operation("GET", "/entries", h.list_entries, "admin_entries", R, h.ENTRIES),
    Operation("POST", "/entries", h.create_entry, "admin_create_entry", C, h.CREATE_ENTRY),
    Operation("GET", "/entries/{code}/qr.{fmt}", h.entry_qr, "admin_entry_qr", R, h.ENTRY_QR),
    Operation("GET", "/health", h.health, "admin_health", R, h.HEALTH),
    Operation(
        "GET", "/stores/{store_id}/groups", h.store_groups, "admin_groups", R, h.STORE_GROUPS
    ),
    Operation("PUT", "/stores/{store_id}/order", h.reorder_groups, "admin_order", C, h.REORDER),
    Operation("POST", "/groups/{group_id}/retire", h.retire_group, "admin_retire", C, _retire),
    Operation("POST", "/groups/{group_id}/restore", h.restore_group, "admin_restore", C, _retire),
    Operation("GET", "/templates/{kind}.{fmt}", h.download_template, "admin_template", R, _export),
    Operation("GET", "/exports/{kind}.{fmt}", h.download_export, "admin_export", R, _export),
    Operation("POST", "/uploads/{kind}", h.upload, "admin_upload", C, _upload),
    Operation(
        "POST",
        "/groups/{group_id}/member-count",
        h.set_member_count,
        "admin_member_count",
        C,
        h.MEMBER_COUNT,
    ),
    Operation("GET", "/stores/{store_id}/wecom", wecom.store_wecom, "admin_wecom", R, wecom.STATUS),
    Operation(
        "PUT", "/stores/{store_id}/wecom", wecom.enable_wecom, "admin_wecom_enable", C, wecom.ENABLE
    ),
    Operation(
        "DELETE",
        "/stores/{store_id}/wecom",
        wecom.disable_wecom,
        "admin_wecom_disable",
        C,
        wecom.DISABLE,
    ),
    Operation(
        "PUT",
        "/entries/{code}/campaign",
        campaigns.set_campaign,
        "admin_entry_campaign",
        C,
        campaigns.CAMPAIGN,
    ),
    Operation("GET", "/entries/{code}/sheet.pdf", ps.entry_sheet, "admin_entry_sheet", R, ps.SHEET),
    Operation(
        "GET", "/stores/{store_id}/sheet.pdf", ps.store_sheet, "admin_store_sheet", R, ps.SHEET
    ),
    # All stores' sheets at once: every region's stores, so an admin of every region.
    Operation("POST", "/print-jobs", ps.create_job, "admin_print_job", A, ps.PRINT_JOB),
    Operation("GET", "/print-jobs/{job}", ps.get_job, "admin_print_job_get", A, ps.PRINT_JOB),
    Operation(
        "GET",
        "/print-jobs/{job}/sheets.pdf",
        ps.download_job,
        "admin_print_job_pdf",
        A,
        ps.PRINT_JOB,
    ),
    Operation("GET", "/audit", audit.list_audit, "admin_audit", A, audit.AUDIT),
    Operation(
        "GET", "/stores/{store_id}/audit", audit.store_audit, "admin_store_audit", R, audit.AUDIT
    ),
    Operation(
        "GET", "/settings", opsettings.list_settings, "admin_settings", A, opsettings.SETTINGS_READ
    ),
    Operation(
        "PUT",
        "/settings/{name}",
        opsettings.put_setting,
        "admin_setting_put",
        A,
        opsettings.SETTINGS_CHANGE,
    ),
    Operation(
        "DELETE",
        "/settings/{name}",
        opsettings.reset_setting,
        "admin_setting_reset",
        A,
        opsettings.SETTINGS_CHANGE,
    ),
    Operation("GET", "/brand", br.get_brand, "admin_brand", A, br.BRAND_READ),
    Operation("PUT", "/brand", br.put_brand, "admin_brand_put", A, br.BRAND_CHANGE),
    Operation("POST", "/brand/logo", br.upload_logo, "admin_brand_logo", A, br.BRAND_LOGO),
    Operation(
        "POST",
        "/stores/{store_id}/groups/from-picture",
        pic.add_from_picture,
        "admin_group_from_picture",
        C,
        pic.ADD,
    ),
    Operation(
        "POST",
        "/groups/{group_id}/code-from-picture",
        pic.replace_from_picture,
        "admin_code_from_picture",
        C,
        pic.REPLACE,
    ),
    Operation(
        "POST", "/group-pictures", pic.upload_picture_zip, "admin_group_pictures", C, pic.ZIP
    ),
    Operation("POST", "/store-links", sl.issue_links, "admin_store_links", C, sl.ISSUE),
    Operation("GET", "/store-links/{store_id}/qr.png", sl.link_qr, "admin_link_qr", C, sl.LINK_QR),
    # Every store's links at once: an admin of every region.
    Operation("POST", "/store-links/revoke-all", sl.revoke_all, "admin_revoke_all", A, sl.REVOKE),
    Operation(
        "POST", "/store-links/{store_id}/revoke", sl.revoke_store, "admin_revoke", C, sl.REVOKE
    ),
    Operation("GET", "/link/store", sl.link_page, "link_store", S, sl.LINK_PAGE_DATA),
    Operation(
        "POST", "/link/groups/{group_id}/code", sl.link_new_code, "link_code", S, sl.LINK_NEW_CODE
    ),
    Operation("POST", "/link/groups/{group_id}/full", sl.link_full, "link_full", S, sl.LINK_FULL),
)
BY_NAME = {op.name: op for op in OPERATIONS}


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the principal, check what the operation needs, map database trouble."""
    if request.match_info.http_exception is not None:
        return await handler(request)  # no such route: aiohttp's own 404 or 405, no principal
    op = BY_NAME.get(request.match_info.route.name or "")
    if op is None:  # a route nobody declared (fail closed): never served, whoever asks
        raise HuomaError("this operation is not declared", code="forbidden", status=403)
    asks = op.asks
    with database_errors(
        asks if isinstance(asks, DbOperation) else lambda: asks(request),
        lambda: request.get(DB_CONTEXT, ""),
    ):
        if op.needs is not None:
            principal = await resolve_principal(request)
            check_csrf(request, principal)
            if not principal.allows(op.needs):
                has = ROLE_ZH[principal.role]
                raise HuomaError(
                    f"这项操作需要「{ROLE_ZH[op.needs]}」角色，{principal.actor} 是「{has}」。"
                    f"{principal.actor} is {principal.role}; this needs {op.needs}.",
                    code="forbidden",
                    status=403,
                )
            if op.needs is Role.ADMIN and principal.limited:
                # Accounts, tokens and settings reach every region: an admin limited to some
                # could otherwise grant itself the rest.
                raise HuomaError(
                    "只有不限地区的管理员可以这样做 / only an admin of every region may do this",
                    code="forbidden",
                    status=403,
                )
            await check_scope(request, principal)
            request[PRINCIPAL] = principal
        return await handler(request)


def create_ops_app(settings: Settings) -> web.Application:
    """The sub-application; mount it with `app.add_subapp(PREFIX, create_ops_app(settings))`.
    Its handlers read the parent app's state through `request.config_dict`."""
    ops = web.Application(middlewares=[gate])
    ops[ADMIN_FAILURES] = Buckets(*settings.rate_limits()["admin_failures"])
    ops[STORE_LINK_LIMITS] = Buckets(*settings.rate_limits()["store_link"])
    # OCR of group cards (ops pictures and store links alike), in its own process: lost in a
    # merge, so no picture was ever read.
    ops[pic.SETTINGS_KEY] = settings
    ops.cleanup_ctx.append(pic.ocr_context)
    for op in OPERATIONS:
        ops.router.add_route(op.method, op.path, op.handler, name=op.name)
    return ops
