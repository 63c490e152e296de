"""A change to a few stores is patched into a catalogue in place, exactly as a full build of the
same rows would have it, and only when that is exactly right."""

from __future__ import annotations

from typing import Any

from router.scan.catalogue import Catalogue, build_catalogue, patch_stores
from router.store.changes import parse_stores_payload, stores_payload
from tests.unit.test_catalogue_patch import group, store


def build(stores: list[dict[str, Any]], groups: list[dict[str, Any]]) -> Catalogue:
    return build_catalogue(stores, groups, [], k_max=6, cache_cells=100)


def same(a: Catalogue, b: Catalogue) -> None:
    """Two catalogues hand out the same stores, pools and fallbacks."""
    assert [s.store_id for s in a.stores] == [s.store_id for s in b.stores]
    for x, y in zip(a.stores, b.stores, strict=True):
        assert (x.name, x.address, x.json, x.search_key) == (
            y.name,
            y.address,
            y.json,
            y.search_key,
        )
        assert [(g.pk, g.qr_payload, g.qr_version, g.json_head) for g in x.groups] == [
            (g.pk, g.qr_payload, g.qr_version, g.json_head) for g in y.groups
        ]
        assert (x.fallback and x.fallback.pk) == (y.fallback and y.fallback.pk)
    assert set(a.groups_by_pk) == set(b.groups_by_pk)
    assert {c: [s.name for s in v] for c, v in a.stores_by_city.items()} == {
        c: [s.name for s in v] for c, v in b.stores_by_city.items()
    }


def active(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "active": True}


STORES = [store(1), store(2, "北京"), store(3)]
GROUPS = [group(1, "S1", 0), group(2, "S1", 1), group(3, "S2", 0), group(4, "S3", 0)]


def test_a_code_replaced_a_group_added_and_one_retired_match_a_full_build() -> None:
    cat = build(STORES, GROUPS)
    replaced = {**group(1, "S1", 0), "qr_payload": "https://weixin.qq.com/g/NEW", "qr_version": 2}
    fallback = {**group(8, "S1", 0, kind="fallback")}
    s1_groups = [replaced, group(9, "S1", 2), fallback]  # G2 retired, G9 added, own fallback
    edited = {**store(1), "name": "新名字", "address": "新路"}
    patched = patch_stores(cat, ["S1"], [active(edited)], s1_groups)
    assert patched is not None
    new, changed = patched
    assert [s.store_id for s in changed] == ["S1"]
    rows = [g for g in GROUPS if g["store_id"] != "S1"] + s1_groups
    same(new, build([edited, store(2, "北京"), store(3)], rows))
    assert 2 not in new.groups_by_pk and new.groups_by_pk[1].qr_version == 2
    # Everything else is shared, and the old catalogue is untouched.
    assert new.by_id["S2"] is cat.by_id["S2"] and new.index is cat.index and new.areas is cat.areas
    assert [g.pk for g in cat.by_id["S1"].groups] == [1, 2] and cat.by_id["S1"].name == "店1"
    assert new.stores_by_city["上海"][0].name == "新名字"


def test_a_store_losing_its_own_fallback_falls_back_to_the_brands() -> None:
    brand = {**group(50, None, 0, kind="fallback"), "store_id": None}  # type: ignore[arg-type]
    own = group(51, "S1", 0, kind="fallback")
    cat = build(STORES, [*GROUPS, brand, own])
    assert cat.by_id["S1"].fallback is not None and cat.by_id["S1"].fallback.pk == 51
    patched = patch_stores(cat, ["S1"], [active(store(1))], [group(1, "S1", 0)])
    assert patched is not None
    new, _ = patched
    assert new.by_id["S1"].fallback is not None and new.by_id["S1"].fallback.pk == 50
    assert 51 not in new.groups_by_pk and 50 in new.groups_by_pk


def test_anything_that_changes_the_index_or_areas_asks_for_a_rebuild() -> None:
    cat = build(STORES, GROUPS)
    s1 = [group(1, "S1", 0), group(2, "S1", 1)]
    assert patch_stores(cat, ["S1"], [active({**store(1), "lat": 30.0})], s1) is None  # moved
    assert patch_stores(cat, ["S1"], [active(store(1, "杭州"))], s1) is None  # another city
    area = '{"type":"Polygon","coordinates":[[[121,31],[122,31],[122,32],[121,31]]]}'
    assert patch_stores(cat, ["S1"], [active({**store(1), "service_area": area})], s1) is None
    assert patch_stores(cat, ["S1"], [{**store(1), "active": False}], s1) is None  # closed
    assert patch_stores(cat, ["S1"], [], []) is None  # deleted
    assert patch_stores(cat, ["S9"], [active(store(9))], []) is None  # a new store
    # A group that moved from an unpatched store: that store must change too.
    assert patch_stores(cat, ["S1"], [active(store(1))], [*s1, group(3, "S1", 2)]) is None
    assert patch_stores(cat, [], [], []) is None
    # A store neither served nor active: nothing to do, the rest is patched.
    patched = patch_stores(cat, ["S1", "S9"], [active(store(1)), {**store(9), "active": False}], s1)
    assert patched is not None and [s.store_id for s in patched[1]] == ["S1"]


def test_the_notification_names_a_few_stores_or_asks_for_a_rebuild() -> None:
    assert parse_stores_payload(stores_payload(["S2", "S1", "S1"], 5, "admin")) == ["S1", "S2"]
    assert stores_payload(["S1", "S2", "S3"], 2, "groups") == "groups"  # over the threshold
    assert stores_payload(["S1", None], 5, "fallbacks") == "fallbacks"  # brand-wide
    assert stores_payload([], 5, "admin") == "admin"
    assert stores_payload([f"S{i:05d}" for i in range(900)], 1000, "admin") == "admin"  # too long
    assert parse_stores_payload(stores_payload(['a"b,c', "店"], 5, "admin")) == ['a"b,c', "店"]
    for payload in ("admin", "stores:", "stores:[]", "stores:{}", "stores:[1]", "stores:[x"):
        assert parse_stores_payload(payload) is None
