"""Signed, expiring QR image links: a grid of expiries, one signature per group a minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from router.errors import HuomaError, NotFound
from router.scan.catalogue import Catalogue, build_catalogue
from router.scan.qr import LINK_STEP_S, QrLinks

SECRET = b"k" * 32
NOW = 1_800_000_000.0  # on the grid: a multiple of 60


def catalogue(version: int = 1, name: str = "群1") -> Catalogue:
    row = {
        "id": 1, "group_id": "G1", "store_id": "S1", "name": name, "qr_payload": "https://x/g",
        "qr_version": version, "capacity": 200, "member_count": None,
        "expires_at": datetime.now(UTC) + timedelta(days=7), "position": 0, "kind": "group",
        "display_cap": None,
    }  # fmt: skip
    store = {
        "store_id": "S1", "name": "店", "city": "上海", "address": "路", "lat": 31.2,
        "lng": 121.4, "service_area": None,
    }  # fmt: skip
    return build_catalogue([store], [row], [], k_max=2, cache_cells=10)


def test_links_expire_on_a_minute_grid_between_ttl_and_ttl_plus_a_minute() -> None:
    links = QrLinks(SECRET, "https://h", 600)
    for offset in (0, 1, 30, 59.9):
        expires = links.expiry(NOW + offset)
        assert expires % LINK_STEP_S == 0
        assert 600 < expires - (NOW + offset) <= 600 + LINK_STEP_S
    assert links.expiry(NOW) == links.expiry(NOW + 59.9) != links.expiry(NOW + 60)


def test_a_fragment_is_made_once_a_minute_per_group_and_names_a_link_that_verifies() -> None:
    cat = catalogue()
    group = cat.groups_by_pk[1]
    links = QrLinks(SECRET, "https://h", 600)
    first = links.fragment(group, NOW)
    assert links.fragment(group, NOW + 30) is first  # cached within the minute
    later = links.fragment(group, NOW + 60)
    assert later != first
    body = orjson.loads(first)
    assert body["id"] == "G1" and body["name"] == "群1"
    assert body["qr_expires_at"] == links.expiry(NOW)
    query = dict(p.split("=", 1) for p in body["qr_url"].split("?")[1].split("&"))
    got, expires = links.verify(cat, 1, query["v"], query["e"], query["s"], NOW + 5)
    assert (got, expires) == (group, body["qr_expires_at"])
    assert links.fragment(None, NOW) == b"null"


def test_a_link_stops_working_at_its_expiry_and_with_a_new_qr_version() -> None:
    cat = catalogue()
    links = QrLinks(SECRET, "", 600)
    body = orjson.loads(links.fragment(cat.groups_by_pk[1], NOW))
    query = dict(p.split("=", 1) for p in body["qr_url"].split("?")[1].split("&"))
    args = (1, query["v"], query["e"], query["s"])
    links.verify(cat, *args, float(body["qr_expires_at"]))  # last second
    with pytest.raises(HuomaError) as info:
        links.verify(cat, *args, body["qr_expires_at"] + 1.0)
    assert (info.value.status, info.value.code) == (410, "qr_link_expired")
    with pytest.raises(NotFound):
        links.verify(catalogue(version=2), *args, NOW)
    with pytest.raises(NotFound):  # another deployment's secret
        QrLinks(b"x" * 32, "", 600).verify(cat, *args, NOW)


def test_a_renamed_group_gets_a_new_fragment_within_the_minute() -> None:
    links = QrLinks(SECRET, "", 600)
    old = links.fragment(catalogue().groups_by_pk[1], NOW)
    new = links.fragment(catalogue(name="新群").groups_by_pk[1], NOW)
    assert orjson.loads(old)["name"] == "群1" and orjson.loads(new)["name"] == "新群"
