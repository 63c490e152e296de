"""Yes/no words: the one vocabulary of every flag (boolean query parameters of the API, boolean
HUOMA_* settings, the `active` column of store uploads).

Ops type these in Excel, WPS, a shell or a URL, often with a Chinese input method on: case,
full-width letters and digits (ＴＲＵＥ, １) and surrounding spaces (the ideographic one too) do
not matter. Anything else is not a yes or a no, and callers refuse it rather than guess: a
misspelt `dry_run` that counted as "no" would write an upload ops meant only to check.

What an empty value means is each caller's decision (an empty query flag is an absent one; an empty
`active` cell is the default; an empty boolean setting is an error), so `parse_flag` refuses it
and `is_blank` says when a value is empty. Pure: no aiohttp, no asyncpg.
"""

from __future__ import annotations

TRUE_WORDS = ("1", "true", "yes", "y", "on", "t", "是", "启用", "开")
FALSE_WORDS = ("0", "false", "no", "n", "off", "f", "否", "停用", "关")

# Full-width ASCII (U+FF01..U+FF5E) to ASCII, and the ideographic space to a space. Deliberately
# not NFKC, which would also turn ① or ¹ into 1.
_HALF_WIDTH = {0xFF01 + i: 0x21 + i for i in range(0x5E)} | {0x3000: 0x20}

_WORDS = {w: True for w in TRUE_WORDS} | {w: False for w in FALSE_WORDS}

# For messages and documentation: the words each side accepts.
ACCEPTED = f"true: {', '.join(TRUE_WORDS)}; false: {', '.join(FALSE_WORDS)}"


class FlagError(ValueError):
    """A value that is not one of the yes/no words; its message lists them."""


def normalise(raw: str) -> str:
    """The value as compared with the words: half-width, without surrounding spaces, lower case."""
    return raw.translate(_HALF_WIDTH).strip().casefold()


def is_blank(raw: str) -> bool:
    """True when the value is empty once spaces are dropped."""
    return not normalise(raw)


def parse_flag(raw: str) -> bool:
    """True or False for a word of the vocabulary; FlagError for anything else (empty included)."""
    value = _WORDS.get(normalise(raw))
    if value is None:
        raise FlagError(f"expected true or false ({ACCEPTED})")
    return value
