"""Headers as ops write them: which column of an upload is read as which field, and where the
table starts (title rows above the header, a 说明 sheet before the data).

Every field has its own name (`store_id`, what exports write) and the names ops use for it, in
Chinese and English. A header cell is compared after `header_key`: case, spaces, underscores,
full-width forms and a bracketed unit ("纬度(°)", "经度（度）") do not matter."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# How many rows above the header may hold titles, notes or blank lines.
HEADER_SEARCH_ROWS = 20

# The column of one cell holding both coordinates ("121.473701,31.230416").
COORDINATES = "coordinates"

_STORE_ID = (
    "store_id",
    "门店编号",
    "门店编码",
    "门店ID",
    "门店代码",
    "门店号",
    "店铺编号",
    "店铺编码",
    "店号",
    "Store Number",
    "Store No",
    "Store Code",
    "Store ID",
    "Shop ID",
)

# field -> the names ops write for it, per upload kind (the field's own name first).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "stores": {
        "store_id": (*_STORE_ID, "编号"),
        "name": (
            "name",
            "门店名称",
            "门店名",
            "店名",
            "店铺名称",
            "名称",
            "Store Name",
            "Shop Name",
        ),
        "city": ("city", "城市", "所在城市", "市"),
        "province": ("province", "省份", "省", "所在省份", "省/直辖市", "State/Province", "State"),
        "district": ("district", "区县", "区", "县区", "区/县", "行政区", "County"),
        "region": ("region", "大区", "区域", "所属大区", "片区", "Area"),
        "address": (
            "address",
            "详细地址",
            "地址",
            "门店地址",
            "Street Address",
            "Street",
        ),
        "lat": ("lat", "纬度", "Latitude"),
        "lng": ("lng", "经度", "Longitude", "lon", "long"),
        COORDINATES: (
            COORDINATES,
            "经纬度",
            "坐标",
            "经度,纬度",
            "经纬度坐标",
            "lng,lat",
            "lnglat",
            "Location",
        ),
        "coord": ("coord", "坐标系", "坐标来源", "坐标类型", "Coordinate System", "Coord System"),
        "service_area": ("service_area", "服务范围", "服务区域", "Service Area"),
        "active": ("active", "启用", "是否启用", "Active", "Enabled"),
    },
    "groups": {
        "group_id": ("group_id", "群编号", "群编码", "群ID", "Group ID", "Group Number"),
        "store_id": _STORE_ID,
        "name": ("name", "群名称", "群名", "Group Name"),
        "qr_payload": (
            "qr_payload",
            "群二维码内容",
            "二维码内容",
            "群二维码链接",
            "二维码链接",
            "QR Payload",
            "QR Content",
            "QR Code",
        ),
        "capacity": ("capacity", "容量", "人数上限", "群容量", "Capacity"),
        "member_count": ("member_count", "当前人数", "群人数", "人数", "Members", "Member Count"),
        "expires_at": ("expires_at", "有效期至", "过期时间", "到期时间", "Expires At", "Expiry"),
        "position": ("position", "排序", "顺序", "Position", "Order"),
        "display_cap": ("display_cap", "展示上限", "Display Cap"),
        "qr_created_at": ("qr_created_at", "二维码生成时间", "生成时间", "QR Created At"),
    },
    "fallbacks": {
        "store_id": _STORE_ID,
        "name": ("name", "名称", "兜底名称", "Name"),
        "qr_payload": ("qr_payload", "二维码内容", "兜底二维码内容", "QR Payload", "QR Content"),
    },
    "entries": {
        "code": ("code", "入口码", "入口编码", "Code"),
        "kind": ("kind", "类型", "入口类型", "Kind", "Type"),
        "store_id": _STORE_ID,
        "label": ("label", "标签", "名称", "Label"),
    },
}

# A unit or note in brackets after a header: "纬度(°)", "经度（度）", "容量[人]", "地址【必填】".
_BRACKETED = re.compile(r"[(\[【〔（][^)\]】〕）]*[)\]】〕）]")
_SEPARATORS = re.compile(r"[\s_\-.:：*]+")


def header_key(name: str) -> str:
    """A header cell as compared: full-width forms folded (NFKC), lower case, without spaces,
    underscores, a bracketed unit or a required-mark asterisk."""
    text = unicodedata.normalize("NFKC", name).lstrip("\ufeff").strip().lower()
    text = _BRACKETED.sub("", text)
    return _SEPARATORS.sub("", text)


_KEYS: dict[str, dict[str, str]] = {
    kind: {header_key(alias): name for name, aliases in fields.items() for alias in aliases}
    for kind, fields in ALIASES.items()
}


def field_of(kind: str, header: str) -> str | None:
    """The field a header cell is read as, or None (an ignored column)."""
    return _KEYS[kind].get(header_key(header))


@dataclass(slots=True)
class Mapping:
    """Which column of the file is read as which field."""

    header_row: int  # 1-based spreadsheet row (the line of a CSV)
    columns: list[tuple[str, str | None]]  # (header as written, field or None), in file order
    sheet: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        """The table's columns: a field's name, or for an ignored column its header as written
        ("" for an empty header cell)."""
        return tuple(f if f is not None else _plain(h) for h, f in self.columns)

    @property
    def recognised(self) -> int:
        return sum(1 for _, f in self.columns if f is not None)

    def as_dict(self, kind: str | None = None) -> dict[str, Any]:
        """The answer's `mapping`; with `kind`, each field's name in ops' words as well."""
        labels = LABELS.get(kind or "", {})

        def label(f: str | None) -> dict[str, str] | None:
            if f is None:
                return None
            zh, en = labels[f][:2] if f in labels else ("经纬度", "Coordinates")
            return {"zh": zh, "en": en}

        return {
            "sheet": self.sheet,
            "header_row": self.header_row,
            "columns": [
                {"header": h, "field": f, "label": label(f)}
                for h, f in self.columns
                if h.strip() or f is not None
            ],
            "ignored": [h for h, f in self.columns if f is None and h.strip()],
        }


def header_of(mapping: Mapping | None, field_name: str) -> str:
    """The header ops wrote for a field (纬度 for `lat`), the field itself when the file has no
    such column; a coordinate read from one cell of both names that cell's header."""
    if mapping is None or not field_name:
        return field_name
    for header, f in mapping.columns:
        if f == field_name and header.strip():
            return header.strip()
    if field_name in ("lat", "lng"):
        for header, f in mapping.columns:
            if f == COORDINATES and header.strip():
                return header.strip()
    return field_name


def _plain(header: str) -> str:
    return header.strip().lstrip("\ufeff").strip().lower().replace(" ", "_")


def map_header(kind: str, cells: Sequence[str], row: int, sheet: str | None = None) -> Mapping:
    columns = [(c.strip().lstrip("\ufeff").strip(), field_of(kind, c)) for c in cells]
    while columns and not columns[-1][0]:
        columns.pop()
    return Mapping(row, columns, sheet)


def find_header(
    kind: str, rows: Iterable[tuple[int, Sequence[str]]], sheet: str | None = None
) -> Mapping | None:
    """The header among the first HEADER_SEARCH_ROWS rows: the row read as the most fields (the
    first of equals; a row of one field is a title, not a header unless nothing better comes).
    None: no row holds a field's name."""
    best: Mapping | None = None
    for seen, (n, cells) in enumerate(rows):
        if seen >= HEADER_SEARCH_ROWS:
            break
        mapping = map_header(kind, cells, n, sheet)
        if mapping.recognised and (best is None or mapping.recognised > best.recognised):
            best = mapping
    return best


def missing_fields(kind: str, fields: Iterable[str], required: Sequence[str]) -> list[str]:
    """Required fields the header lacks; one cell of both coordinates gives lat and lng."""
    have = set(fields)
    if kind == "stores" and COORDINATES in have:
        have |= {"lat", "lng"}
    return [c for c in required if c not in have]


# Each field as the templates (and the README) name and explain it: Chinese header, English
# header, and what the column holds in each language.
LABELS: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "stores": {
        "store_id": (
            "门店编号",
            "Store Number",
            "必填。门店的唯一编号，再次上传按它更新",
            "Required. The store's unique id; a re-upload updates by it",
        ),
        "name": (
            "门店名称",
            "Store Name",
            "必填。顾客看到的门店名",
            "Required. The name customers see",
        ),
        "city": (
            "城市",
            "City",
            "必填。门店所在城市，顾客手动选店按它分组",
            "Required. The store's city; the customer picker groups by it",
        ),
        "address": (
            "详细地址",
            "Street Address",
            "必填列，可留空（保留已存地址）",
            "Required column; an empty cell keeps the stored address",
        ),
        "lat": (
            "纬度",
            "Latitude",
            "必填。如 31.230416（也可用一列「经纬度」代替纬度、经度两列）",
            "Required. E.g. 31.230416 (or one Coordinates column instead of these two)",
        ),
        "lng": ("经度", "Longitude", "必填。如 121.473701", "Required. E.g. 121.473701"),
        "coord": (
            "坐标系",
            "Coordinate System",
            "必填。坐标的来源：gcj02（高德/腾讯）、bd09（百度）或 wgs84（GPS）",
            "Required. Where the coordinates come from: gcj02 (AMap/Tencent), bd09 (Baidu) "
            "or wgs84 (GPS)",
        ),
        "service_area": (
            "服务范围",
            "Service Area",
            "可选。GeoJSON 或 WKT 多边形；填「清空」删除",
            "Optional. A GeoJSON or WKT polygon; 'clear' removes it",
        ),
        "active": (
            "启用",
            "Active",
            "可选。是/否，留空为启用",
            "Optional. Yes or no; empty means active",
        ),
        "province": (
            "省份",
            "State/Province",
            "可选。如 上海、广东",
            "Optional. E.g. Shanghai, Guangdong",
        ),
        "district": ("区县", "District", "可选。如 黄浦区", "Optional. E.g. Huangpu"),
        "region": (
            "大区",
            "Region",
            "可选。运营自定的分组，如 华东大区",
            "Optional. An ops-defined grouping, e.g. East China",
        ),
    },
    "groups": {
        "group_id": ("群编号", "Group ID", "必填。群的唯一编号", "Required. The group's unique id"),
        "store_id": (
            "门店编号",
            "Store Number",
            "必填。群所属门店的编号",
            "Required. The id of the group's store",
        ),
        "name": ("群名称", "Group Name", "必填。群名", "Required. The group's name"),
        "qr_payload": (
            "群二维码内容",
            "QR Content",
            "必填。群二维码解出的链接",
            "Required. The link the group's QR code holds",
        ),
        "capacity": (
            "容量",
            "Capacity",
            "可选。人数上限，个人微信群不超过 200",
            "Optional. Member limit; at most 200 for a personal WeChat group",
        ),
        "member_count": ("当前人数", "Member Count", "可选。当前群人数", "Optional. Members now"),
        "expires_at": (
            "有效期至",
            "Expires At",
            "可选。如 2026-12-01 18:00",
            "Optional. E.g. 2026-12-01 18:00",
        ),
        "position": (
            "排序",
            "Position",
            "可选。同一门店内的顺序，小的先用",
            "Optional. Order within the store, lowest first",
        ),
        "display_cap": (
            "展示上限",
            "Display Cap",
            "可选。最多展示次数",
            "Optional. Most times it is shown",
        ),
    },
    "fallbacks": {
        "store_id": (
            "门店编号",
            "Store Number",
            "必填。门店编号，* 表示整个品牌",
            "Required. A store id, or * for the whole brand",
        ),
        "name": ("名称", "Name", "必填。兜底联系人的名称", "Required. The fallback contact's name"),
        "qr_payload": (
            "二维码内容",
            "QR Content",
            "必填。兜底二维码解出的链接",
            "Required. The link the fallback QR code holds",
        ),
    },
    "entries": {
        "code": (
            "入口码",
            "Code",
            "必填。1-64 个字母、数字、- 或 _",
            "Required. 1-64 letters, digits, '-' or '_'",
        ),
        "kind": (
            "类型",
            "Kind",
            "必填。counter、poster 或 store",
            "Required. counter, poster or store",
        ),
        "store_id": (
            "门店编号",
            "Store Number",
            "store 类必填，其他类留空",
            "Required for kind store, empty otherwise",
        ),
        "label": ("标签", "Label", "可选。入口码的说明", "Optional. What the code is for"),
    },
}
