"""WeCom's callback crypto against the sample values WeCom publishes with its WXBizMsgCrypt
libraries (加解密方案说明: token QDG6eK, corp wx5823bf96d3bd56c7), and a round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.wecom.crypto import CallbackCrypto, CallbackError, parse_xml, signature

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP = "wx5823bf96d3bd56c7"
# VerifyURL sample.
URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE = (
    "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "1409659589",
    "263014780",
)
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
# DecryptMsg sample.
MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE = (
    "477715d11cdb4164915debcba66cb864d751f3e6",
    "1409659813",
    "1372623149",
)
ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUp"
    "j911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue"
    "06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+"
    "3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH"
    "27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8"
    "R07+qN+E7Q=="
)
CRYPTO = CallbackCrypto(TOKEN, AES_KEY, CORP)


def test_the_published_url_check_verifies_and_decrypts() -> None:
    assert signature(TOKEN, URL_TIMESTAMP, URL_NONCE, ECHOSTR) == URL_SIGNATURE
    assert CRYPTO.open(URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE, ECHOSTR) == b"1616140317555161061"


def test_the_published_message_verifies_and_decrypts_to_its_xml() -> None:
    message = CRYPTO.open(MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, ENCRYPT)
    assert parse_xml(message) == {
        "ToUserName": CORP,
        "FromUserName": "mycreate",
        "CreateTime": "1409659813",
        "MsgType": "text",
        "Content": "hello",
        "MsgId": "4561255354251345929",
        "AgentID": "218",
    }


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"msg_signature": "0" * 40}, CallbackError.SIGNATURE),  # forged
        ({"timestamp": "1409659814"}, CallbackError.SIGNATURE),  # the signed time, altered
        ({"nonce": "1"}, CallbackError.SIGNATURE),
    ],
)
def test_a_forged_or_altered_callback_is_refused(change: dict[str, str], code: int) -> None:
    args = {
        "msg_signature": MSG_SIGNATURE,
        "timestamp": MSG_TIMESTAMP,
        "nonce": MSG_NONCE,
        "encrypted": ENCRYPT,
    } | change
    with pytest.raises(CallbackError) as info:
        CRYPTO.open(**args)
    assert info.value.code == code


def test_a_message_for_another_corp_or_with_another_key_is_refused() -> None:
    other_corp = CallbackCrypto(TOKEN, AES_KEY, "wwanothercorp")
    with pytest.raises(CallbackError) as info:
        other_corp.decrypt(ENCRYPT)
    assert info.value.code == CallbackError.RECEIVER
    other_key = CallbackCrypto(TOKEN, "a" * 43, CORP)
    with pytest.raises(CallbackError) as info:
        other_key.decrypt(ENCRYPT)
    assert info.value.code in (CallbackError.DECRYPT, CallbackError.BUFFER, CallbackError.RECEIVER)
    for bad in ("not base64!", "", "AAAA"):
        with pytest.raises(CallbackError):
            CRYPTO.decrypt(bad)
    with pytest.raises(CallbackError):
        CallbackCrypto(TOKEN, "short", CORP)


@given(st.binary(max_size=2000))
def test_what_is_encrypted_decrypts_to_itself(message: bytes) -> None:
    encrypted = CRYPTO.encrypt(message)
    sig = signature(TOKEN, "1700000000", "nonce", encrypted)
    assert CRYPTO.open(sig, "1700000000", "nonce", encrypted) == message


def test_xml_with_a_dtd_or_entities_is_never_parsed() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><A>&a;</A></xml>'
    with pytest.raises(CallbackError) as info:
        parse_xml(bomb)
    assert info.value.code == CallbackError.XML
    with pytest.raises(CallbackError):
        parse_xml(b"<xml><A>unclosed</xml>")
    with pytest.raises(CallbackError):
        parse_xml(b"<xml>" + b"x" * 70_000 + b"</xml>")
