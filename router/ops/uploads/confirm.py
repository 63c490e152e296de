"""The confirmation protocol: a dry run with warnings answers a token naming exactly that file
(a hash of its bytes and the upload's options) and those warnings, signed with the deployment's
secret and expiring; the commit accepts the warnings only with that token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass

from router.errors import HuomaError
from router.ops.uploads.model import RowError


class ConfirmationError(HuomaError):
    """The upload has warnings and no valid token accepting them; nothing was written."""

    status = 409
    code = "confirmation_required"

    def __init__(
        self, message: str, code: str, warnings: Sequence[RowError], status: int = 409
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.warnings = list(warnings)

    def details(self) -> dict[str, object]:
        return {"warnings": [w.as_dict() for w in self.warnings[:1000]]}


@dataclass(frozen=True, slots=True)
class Confirm:
    """What a commit is confirmed with: the secret, the token's lifetime, and the token the
    caller carries (None: none; the warnings are refused)."""

    secret: bytes
    ttl_s: int
    token: str | None = None
    now: float | None = None  # tests: the clock

    def clock(self) -> int:
        return int(self.now if self.now is not None else time.time())


def fingerprint(data: bytes, kind: str, options: Sequence[str | None]) -> str:
    """The file's identity: its bytes, the upload kind and the options that change how it reads."""
    h = hashlib.sha256(data)
    h.update(b"\0" + kind.encode())
    for option in options:
        h.update(b"\0" + (option or "").encode())
    return h.hexdigest()


def _digest(warnings: Sequence[RowError]) -> bytes:
    h = hashlib.sha256()
    for w in sorted(warnings, key=lambda w: (w.row, w.code, w.column, w.value)):
        h.update(f"{w.row}\x1f{w.code}\x1f{w.column}\x1f{w.value}\x1f{w.message}\x1e".encode())
    return h.digest()


def _mac(secret: bytes, file: str, warnings: Sequence[RowError], expires: int) -> str:
    msg = b"upload-confirm\0" + file.encode() + b"\0" + _digest(warnings) + str(expires).encode()
    mac = hmac.new(secret, msg, hashlib.sha256).digest()[:20]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue(confirm: Confirm, file: str, warnings: Sequence[RowError]) -> str:
    expires = confirm.clock() + confirm.ttl_s
    return f"{expires}.{_mac(confirm.secret, file, warnings, expires)}"


def check(confirm: Confirm | None, file: str, warnings: Sequence[RowError]) -> None:
    """Raises ConfirmationError unless the token accepts exactly these warnings of this file."""
    if not warnings:
        return
    token = confirm.token if confirm is not None else None
    n = len(warnings)
    if not token or confirm is None:
        raise ConfirmationError(
            f"警告 {n} 处：请先试运行，核对警告后带上确认码（confirm）再提交 / "
            f"{n} warning(s): dry-run first, review them, then commit with its confirm token",
            "confirmation_required",
            warnings,
        )
    stamp, _, mac = token.strip().partition(".")
    if not stamp.isdigit() or not mac:
        raise ConfirmationError(
            "确认码格式不对，请使用试运行给出的确认码 / the confirm token is malformed: use "
            "the one the dry run answered",
            "bad_confirmation",
            warnings,
            status=400,
        )
    if not hmac.compare_digest(mac, _mac(confirm.secret, file, warnings, int(stamp))):
        raise ConfirmationError(
            "确认码与这个文件或它的警告不符（文件或数据已变），请重新试运行 / the confirm token "
            "was given for another file or other warnings: dry-run this file again",
            "confirmation_mismatch",
            warnings,
        )
    if int(stamp) < confirm.clock():
        raise ConfirmationError(
            "确认码已过期，请重新试运行 / the confirm token has expired: dry-run again",
            "confirmation_expired",
            warnings,
        )
