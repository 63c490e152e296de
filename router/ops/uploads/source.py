"""Where a store row's coordinates came from: its coord cell in ops' words (高德, AMap, GPS设备,
火星坐标, BD-09...), or the one source the upload named for the whole file (API `coord=`, CLI
`--coord`, the ops page's choice). A file that names neither is not guessed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from geo.coords import CoordError
from geo.providers import ACCEPTED_EN, ACCEPTED_ZH, Provider
from router.errors import BadInput
from router.ops.uploads.model import Table, file_error

COLUMN = "coord"


def parse_coord_param(raw: str | None) -> Provider | None:
    """The upload's file-level source (`coord=` / `--coord`); absent or empty is none."""
    if raw is None or not raw.strip():
        return None
    try:
        return Provider.parse(raw)
    except CoordError as exc:
        raise BadInput(str(exc), code="bad_coord_source") from None


def required_columns(
    table: Table, required: Sequence[str], file_source: Provider | None
) -> list[str]:
    """The store columns a file must have: the coord column may be left out when the upload
    names the source for the whole file; left out without one, the file is refused, asking."""
    if COLUMN in table.columns or file_source is not None:
        return [c for c in required if c != COLUMN or COLUMN in table.columns]
    if all(c in table.columns for c in required if c != COLUMN):
        raise file_error(
            "文件没有坐标来源（coord）列：请为整个文件选择坐标来源（"
            + ACCEPTED_ZH
            + "），或加上 coord 列。 / missing column: coord; choose the coordinate source of the"
            " whole file (API coord=, CLI --coord, or the choice on the upload page: "
            + ACCEPTED_EN
            + "), or add a coord column.",
            code="coord_source_required",
        )
    return list(required)


def row_provider(
    values: dict[str, str],
    file_source: Provider | None,
    fail: Callable[[str, str, str, str], None],
) -> Provider | None:
    """A row's provider: its coord cell when it has one, else the file's; None after a failure."""
    raw = values.get(COLUMN, "").strip()
    if not raw:
        if file_source is not None:
            return file_source
        fail(
            COLUMN,
            "is required (" + ACCEPTED_EN + ")",
            "required",
            "必填：坐标来源（" + ACCEPTED_ZH + "）",
        )
        return None
    try:
        return Provider.parse(raw)
    except CoordError:
        text = raw[:40]
        fail(
            COLUMN,
            f"unknown coordinate source {text!r}; use one of: {ACCEPTED_EN}",
            "bad_coord",
            f"坐标来源「{text}」无法识别，请填：{ACCEPTED_ZH}",
        )
        return None
