"""What a QR code's text is: a WeChat or WeCom group code, a contact card, or something no group
slot can take (a payment code, a web page), and which slot takes which.

Pure: no database, no framework. The picture actions (`router.ops.pictures`) and the ZIP bulk
upload decide with it; a store-link principal will reach the same rules through them."""

from __future__ import annotations

import re
from enum import StrEnum

from router.scan.catalogue import GroupKind


class CodeKind(StrEnum):
    WECHAT_GROUP = "wechat_group"  # 微信群二维码: https://weixin.qq.com/g/..., dies after 7 days
    WECOM_GROUP = "wecom_group"  # 企业微信群二维码: https://work.weixin.qq.com/gm/...
    WECHAT_CONTACT = "wechat_contact"  # 个人名片: https://u.wechat.com/..., weixin.qq.com/r/...
    WECOM_CONTACT = "wecom_contact"  # 企业微信联系人: work.weixin.qq.com/u/... or /ca/...
    PAYMENT = "payment"  # wxp://, 支付宝, WeChat Pay links
    WEB_PAGE = "web_page"  # any other http(s) link
    TEXT = "text"  # anything else


# Ops' words for each kind, Chinese first.
KIND_WORDS = {
    CodeKind.WECHAT_GROUP: "微信群二维码 / WeChat group code",
    CodeKind.WECOM_GROUP: "企业微信群二维码 / WeCom group code",
    CodeKind.WECHAT_CONTACT: "微信个人名片 / WeChat contact card",
    CodeKind.WECOM_CONTACT: "企业微信联系人码 / WeCom contact code",
    CodeKind.PAYMENT: "收款码 / payment code",
    CodeKind.WEB_PAGE: "网页链接 / web page link",
    CodeKind.TEXT: "文字 / plain text",
}

# A group slot takes codes customers join a group with; a fallback (what a store shows when it
# has no usable group) also takes a contact card, so a customer can still reach a person.
SLOT_TAKES: dict[GroupKind, frozenset[CodeKind]] = {
    GroupKind.GROUP: frozenset({CodeKind.WECHAT_GROUP, CodeKind.WECOM_GROUP}),
    GroupKind.FALLBACK: frozenset(
        {
            CodeKind.WECHAT_GROUP,
            CodeKind.WECOM_GROUP,
            CodeKind.WECHAT_CONTACT,
            CodeKind.WECOM_CONTACT,
        }
    ),
}

# Codes that WeChat lets live a fixed time (7 days) after they are made: their expiry is derived.
EXPIRING = frozenset({CodeKind.WECHAT_GROUP, CodeKind.WECOM_GROUP})

_SCHEME = r"(?:https?://)?"
_PATTERNS: tuple[tuple[CodeKind, re.Pattern[str]], ...] = (
    (CodeKind.WECHAT_GROUP, re.compile(_SCHEME + r"weixin\.qq\.com/g/\S+$", re.IGNORECASE)),
    (CodeKind.WECOM_GROUP, re.compile(_SCHEME + r"work\.weixin\.qq\.com/gm?/\S+$", re.IGNORECASE)),
    (
        CodeKind.WECHAT_CONTACT,
        re.compile(_SCHEME + r"(?:u\.wechat\.com/\S+|weixin\.qq\.com/r/\S+)$", re.IGNORECASE),
    ),
    (
        CodeKind.WECOM_CONTACT,
        re.compile(_SCHEME + r"(?:work\.weixin\.qq\.com/(?:u|ca)/\S+)$", re.IGNORECASE),
    ),
    (
        CodeKind.PAYMENT,
        re.compile(
            r"^(?:wxp://|(?:https?://)?(?:qr\.alipay\.com|payapp\.weixin\.qq\.com|"
            r"wx\.tenpay\.com)/)",
            re.IGNORECASE,
        ),
    ),
    (CodeKind.WEB_PAGE, re.compile(r"^https?://\S+$", re.IGNORECASE)),
)


def classify(payload: str) -> tuple[CodeKind, str]:
    """The code's kind and its text as stored: a WeChat or WeCom link without its scheme (some
    scanners and screenshots drop it) gets https:// back, so every rule keyed on the link sees
    one spelling."""
    text = payload.strip()
    for kind, pattern in _PATTERNS:
        if pattern.match(text):
            if kind in SLOT_TAKES[GroupKind.FALLBACK] and not re.match(
                r"^https?://", text, re.IGNORECASE
            ):
                text = "https://" + text
            return kind, text
    return CodeKind.TEXT, text
