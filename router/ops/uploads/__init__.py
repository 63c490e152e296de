"""Uploads of store, group, fallback and entry-code lists: read the file (`read`), validate
every row (`rows`), write all or nothing (`write`). What an upload is made of is `model`.

The names other rooms use; the rest stays in its module."""

from router.ops.uploads.confirm import ConfirmationError
from router.ops.uploads.headers import LABELS
from router.ops.uploads.model import (
    BRAND,
    CHANGE_STATUSES,
    ENTRY_OPTIONAL,
    ENTRY_REQUIRED,
    FALLBACK_REQUIRED,
    FORMATS,
    GROUP_OPTIONAL,
    GROUP_REQUIRED,
    KINDS,
    LANGUAGES,
    REQUIRED,
    STORE_OPTIONAL,
    STORE_REQUIRED,
    WECHAT_SCAN_JOIN_LIMIT,
    ImportRejected,
    Table,
    export_operation,
    group_errors,
    pick_language,
    upload_operation,
)
from router.ops.uploads.read import (
    ENCODINGS,
    decode_text,
    parse_encoding,
    read_table,
)
from router.ops.uploads.rows import (
    validate_groups,
    validate_stores,
)
from router.ops.uploads.source import parse_coord_param
from router.ops.uploads.write import (
    Audit,
    import_file,
    import_table,
)

__all__ = [
    "BRAND",
    "CHANGE_STATUSES",
    "ENCODINGS",
    "ENTRY_OPTIONAL",
    "ENTRY_REQUIRED",
    "FALLBACK_REQUIRED",
    "FORMATS",
    "GROUP_OPTIONAL",
    "GROUP_REQUIRED",
    "KINDS",
    "LABELS",
    "LANGUAGES",
    "REQUIRED",
    "STORE_OPTIONAL",
    "STORE_REQUIRED",
    "WECHAT_SCAN_JOIN_LIMIT",
    "Audit",
    "ConfirmationError",
    "ImportRejected",
    "Table",
    "decode_text",
    "export_operation",
    "group_errors",
    "import_file",
    "import_table",
    "parse_coord_param",
    "parse_encoding",
    "pick_language",
    "read_table",
    "upload_operation",
    "validate_groups",
    "validate_stores",
]
