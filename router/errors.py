"""Domain errors: each has a stable code, an HTTP status and a message meant for people.

Domain code raises these; one middleware renders them as {"error": {"code", "message"}}.
"""

from __future__ import annotations


class HuomaError(Exception):
    """Base of every error a client can cause or observe."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def details(self) -> dict[str, object]:
        """Fields the JSON error carries beside code and message (e.g. an upload's row errors)."""
        return {}

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries (e.g. Retry-After)."""
        return {}


class BadInput(HuomaError):
    status = 400
    code = "bad_input"


class NotFound(HuomaError):
    status = 404
    code = "not_found"


class Unauthorized(HuomaError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="huoma"'}


class Unavailable(HuomaError):
    """The database did not answer in time, or the catalogue is not loaded yet."""

    status = 503
    code = "unavailable"


def size_text(size_bytes: int) -> str:
    """A size as ops read it: 20 MB, 512 KB, 900 bytes (1 MB = 1,048,576 bytes, as Windows says)."""
    if size_bytes >= 1024**2:
        return f"{size_bytes / 1024**2:.3g} MB"
    if size_bytes >= 1024:
        return f"{size_bytes / 1024:.3g} KB"
    return f"{size_bytes} bytes"


class TooLarge(HuomaError):
    """A request body past its limit (an upload past HUOMA_IMPORT_MAX_BYTES), said with the limit
    and the setting that sets it."""

    status = 413
    code = "payload_too_large"

    def __init__(self, limit_bytes: int, setting: str) -> None:
        limit = size_text(limit_bytes)
        super().__init__(
            f"文件太大：上限是 {limit}（{setting}），请拆成几个文件上传。"
            f"The file is too large: the limit is {limit} ({setting}); split it."
        )
