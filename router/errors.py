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
