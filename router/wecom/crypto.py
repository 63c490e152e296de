"""WeCom's callback encryption (加解密方案说明), field by field.

A callback carries `msg_signature`, `timestamp` and `nonce` in its query and an XML body whose
`Encrypt` element is the message: base64 of AES-256-CBC over

    random (16 bytes) | msg_len (4 bytes, network order) | msg | receive id (the corp id)

padded PKCS#7-style to a multiple of 32 bytes, with AESKey = base64(EncodingAESKey + "=") and the
IV its first 16 bytes. The signature is the hex SHA-1 of token, timestamp, nonce and the
encrypted text, sorted as strings and joined. The URL check (GET) carries the same parameters
and `echostr`, encrypted the same way, whose plain text is the answer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import xml.etree.ElementTree as ET

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# WeCom pads to 32-byte blocks (not AES's 16): the documented PKCS#7 variant.
PAD_BLOCK = 32
# Callback bodies are a few hundred bytes; anything past this is not WeCom.
MAX_BODY_BYTES = 64 * 1024


class CallbackError(Exception):
    """A callback that is not genuine or not readable; `code` is WeCom's library error code."""

    # The codes of WeCom's own WXBizMsgCrypt libraries, so logs read the same as their docs.
    SIGNATURE = -40001
    XML = -40002
    AES_KEY = -40004
    RECEIVER = -40005
    DECRYPT = -40007
    BUFFER = -40008
    BASE64 = -40010

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey."""
    if not re.fullmatch(r"[A-Za-z0-9]{43}", encoding_aes_key):
        raise CallbackError(CallbackError.AES_KEY, "EncodingAESKey must be 43 letters or digits")
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:  # pragma: no cover  (43 base64 characters are always 32 bytes)
        raise CallbackError(CallbackError.AES_KEY, "EncodingAESKey is not 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """msg_signature: SHA-1 over the four strings, sorted and joined."""
    joined = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(joined.encode(), usedforsecurity=False).hexdigest()


class CallbackCrypto:
    """Verify, decrypt and encrypt WeCom callback messages for one corp (the receive id)."""

    __slots__ = ("_key", "receive_id", "token")

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.token = token
        self._key = aes_key(encoding_aes_key)
        self.receive_id = receive_id

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode()):
            raise CallbackError(CallbackError.SIGNATURE, "the signature does not match")

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside; its receive id must be this corp's."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CallbackError(CallbackError.BASE64, "the message is not base64") from exc
        if not data or len(data) % 16:
            raise CallbackError(CallbackError.DECRYPT, "the message is not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= PAD_BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackError(CallbackError.DECRYPT, "the message's padding is wrong")
        content = plain[16:-pad]
        if len(content) < 4:
            raise CallbackError(CallbackError.BUFFER, "the message is too short")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise CallbackError(CallbackError.BUFFER, "the message length is wrong")
        message, receiver = content[4 : 4 + length], content[4 + length :]
        if receiver.decode(errors="replace") != self.receive_id:
            raise CallbackError(CallbackError.RECEIVER, "the message is for another corp")
        return message

    def encrypt(self, message: bytes, random: bytes | None = None) -> str:
        """The Encrypt text of `message` (for replies, and for the tests' fake WeCom)."""
        random = os.urandom(16) if random is None else random
        body = random + struct.pack(">I", len(message)) + message + self.receive_id.encode()
        pad = PAD_BLOCK - len(body) % PAD_BLOCK
        body += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        return base64.b64encode(encryptor.update(body) + encryptor.finalize()).decode()

    def open(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> bytes:
        """Verify, then decrypt."""
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)


def parse_xml(data: bytes) -> dict[str, str]:
    """The child elements of a WeCom XML document as text (CDATA or not). Refuses DTDs, so no
    entity expansion can happen, and bodies past MAX_BODY_BYTES."""
    if len(data) > MAX_BODY_BYTES:
        raise CallbackError(CallbackError.XML, "the XML body is too large")
    if b"<!" in data.replace(b"<![CDATA[", b""):
        raise CallbackError(CallbackError.XML, "the XML body declares a DTD or entities")
    try:
        root = ET.fromstring(data)  # noqa: S314  (no DTD can be present: checked above)
    except ET.ParseError as exc:
        raise CallbackError(CallbackError.XML, f"the XML body is malformed: {exc}") from exc
    return {child.tag: (child.text or "").strip() for child in root}
