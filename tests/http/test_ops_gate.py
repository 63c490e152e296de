"""The ops sub-application's one gate: every operation is declared, documented and guarded."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from router.ops.app import OPERATIONS, PREFIX
from tests.conftest import AUTH, assert_needs_a_valid_token

pytestmark = pytest.mark.db

_EXAMPLE = {
    "{kind}": "stores",
    "{fmt}": "csv",
    "{code}": "c1",
    "{store_id}": "S1",
    "{group_id}": "G1",
    "{name}": "t1",
    "{job}": "1",
    "{username}": "u1",
}


def _path(template: str) -> str:
    for name, value in _EXAMPLE.items():
        template = template.replace(name, value)
    return PREFIX + template


def test_every_route_of_the_ops_app_is_a_declared_operation(make_client: Any) -> None:
    from router.ops.app import create_ops_app
    from router.settings import Settings

    ops = create_ops_app(Settings())
    routes = {
        (r.method, r.resource.canonical)
        for r in ops.router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    assert routes == {(op.method, op.path) for op in OPERATIONS}
    assert len({op.name for op in OPERATIONS}) == len(OPERATIONS)


def test_every_operation_is_in_the_openapi_document_and_nothing_else_is() -> None:
    spec = yaml.safe_load(resources.files("router.web").joinpath("openapi.yaml").read_text())
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith(PREFIX + "/")
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert documented == {(op.method, PREFIX + op.path) for op in OPERATIONS}


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS if op.needs is not None], ids=lambda op: op.name
)
async def test_no_operation_answers_without_a_valid_token(make_client: Any, op: Any) -> None:
    client = await make_client()
    await assert_needs_a_valid_token(client, op.method, _path(op.path))


def test_every_operation_that_changes_something_needs_more_than_a_viewer() -> None:
    from router.ops.auth import Role

    for op in OPERATIONS:
        if op.name in ("admin_sign_in", "admin_sign_out"):
            continue  # signing in proves who one is; signing out ends one's own session
        if op.path.startswith("/link/"):  # a store link's own page: its store only
            assert op.needs is Role.STORE_LINK, op.name
        elif op.name == "admin_link_qr":  # a GET that issues a credential (a new store link)
            assert op.needs in (Role.EDITOR, Role.ADMIN), op.name
        elif op.method == "GET":
            assert op.needs is not None, op.name
        else:
            assert op.needs in (Role.EDITOR, Role.ADMIN), op.name


async def test_a_route_nobody_declared_is_refused_whoever_asks(
    aiohttp_client: Any, settings: Any
) -> None:
    from aiohttp import web

    from router.ops.app import gate
    from router.web.app import create_app

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="served")

    # An app behind the same gate, with routes added behind OPERATIONS' back.
    other = web.Application(middlewares=[gate])
    other.router.add_get("/unnamed", handler)
    other.router.add_get("/named", handler, name="not_an_operation")
    app = create_app(settings)
    app.add_subapp("/other", other)
    client = await aiohttp_client(app)
    for path in ("/unnamed", "/named"):
        response = await client.get("/other" + path, headers=AUTH)
        assert response.status == 403, path
        assert (await response.json())["error"]["code"] == "forbidden"
    assert (await client.get(PREFIX + "/no-such-thing")).status == 404


def test_nothing_outside_the_ops_app_is_served_under_its_prefix(settings: Any) -> None:
    from aiohttp.web_urldispatcher import PrefixedSubAppResource

    from router.web.app import create_app

    app = create_app(settings)
    outside = [
        r.canonical
        for r in app.router.resources()
        if not isinstance(r, PrefixedSubAppResource) and r.canonical.startswith(PREFIX)
    ]
    assert outside == []
