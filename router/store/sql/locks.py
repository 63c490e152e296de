"""Advisory lock keys and notification channels, shared by the statements of every area."""

from __future__ import annotations

import enum


@enum.unique
class AdvisoryLock(enum.IntEnum):
    """The key of every advisory lock Huoma takes, anywhere; each statement below is built from
    one. Two kinds of work sharing a key wait for each other: uploads once shared the funnel
    rollup's, and waited behind a rollup (up to HUOMA_FUNNEL_TIMEOUT_S) until their own statement
    timeout failed them. A new lock gets a new member here, never a number of its own."""

    MIGRATIONS = 7_245_001  # transaction-scoped: one worker applies pending migrations
    KEEPER = 7_245_002  # session-scoped: the one keeper of a deployment (leader election)
    IMPORTS = 7_245_003  # transaction-scoped: uploads one at a time
    FUNNEL = 7_245_004  # transaction-scoped: funnel rollups one at a time
    WECHAT = 7_245_019  # transaction-scoped: one WeChat token and ticket refresh at a time


def xact_lock(key: AdvisoryLock) -> str:
    return f"SELECT pg_advisory_xact_lock({int(key)})"


CATALOGUE_CHANNEL = "huoma_catalogue"
