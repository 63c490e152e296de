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


class BadInput(HuomaError):
    status = 400
    code = "bad_input"


class NotFound(HuomaError):
    status = 404
    code = "not_found"


class Unauthorized(HuomaError):
    status = 401
    code = "unauthorized"


class Unavailable(HuomaError):
    """The database did not answer in time, or the catalogue is not loaded yet."""

    status = 503
    code = "unavailable"
