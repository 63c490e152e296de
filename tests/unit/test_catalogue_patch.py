"""New groups join a catalogue without rebuilding it, and only when that is exactly right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from router.scan.catalogue import add_groups, build_catalogue


def store(i: int, city: str = "上海") -> dict[str, Any]:
    return {
        "store_id": f"S{i}", "name": f"店{i}", "city": city, "address": "路", "lat": 31.2 + i / 100,
        "lng": 121.4, "service_area": None,
    }  # fmt: skip


def group(pk: int, store_id: str, position: int, kind: str = "group") -> dict[str, Any]:
    return {
        "id": pk, "group_id": f"G{pk}", "store_id": store_id, "name": f"群{pk}",
        "qr_payload": f"https://weixin.qq.com/g/{pk}", "qr_version": 1, "capacity": 200,
        "member_count": None, "expires_at": datetime.now(UTC) + timedelta(days=7),
        "position": position, "kind": kind, "display_cap": None,
    }  # fmt: skip


def catalogue() -> Any:
    return build_catalogue(
        [store(1), store(2, "北京")],
        [group(1, "S1", 0), group(2, "S1", 2), group(3, "S2", 0)],
        [],
        k_max=6,
        cache_cells=100,
    )


def test_new_groups_are_added_in_pool_order_and_everything_else_is_shared() -> None:
    cat = catalogue()
    patched = add_groups(cat, [group(9, "S1", 1)])
    assert patched is not None
    new, changed = patched
    assert [s.store_id for s in changed] == ["S1"]
    assert [g.pk for g in new.by_id["S1"].groups] == [1, 9, 2]
    assert new.groups_by_pk[9].json_head == '{"id":"G9","name":"群9","qr_url":'.encode()
    assert new.stores[new.position["S1"]] is new.by_id["S1"]
    assert new.stores_by_city["上海"][0] is new.by_id["S1"]
    assert new.by_id["S2"] is cat.by_id["S2"] and new.index is cat.index
    assert [g.pk for g in cat.by_id["S1"].groups] == [1, 2]  # the old one is untouched


def test_anything_but_new_groups_of_known_stores_asks_for_a_rebuild() -> None:
    cat = catalogue()
    kw: dict[str, Any] = {"default_display_cap": 500}
    assert add_groups(cat, [group(2, "S1", 5)], **kw) is None  # not new: changed
    assert add_groups(cat, [group(9, "S7", 0)], **kw) is None  # a store this worker lacks
    assert add_groups(cat, [group(9, "S1", 0, kind="fallback")], **kw) is None
    assert add_groups(cat, [], **kw) is None
