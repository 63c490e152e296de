"""Statements of the brand's area: entry codes' campaign copy, the WeChat JS-SDK's shared
access token and ticket."""

from __future__ import annotations

__all__ = [
    "CLAIM_WECHAT_REFRESH",
    "GET_WECHAT_TICKET",
    "SET_ENTRY_CAMPAIGN",
    "SET_WECHAT_ERROR",
    "SET_WECHAT_TICKET",
]

# The entry code's campaign copy; None when there is no such code.
SET_ENTRY_CAMPAIGN = "UPDATE entries SET campaign = $2 WHERE code = $1 RETURNING code, campaign"

GET_WECHAT_TICKET = """
SELECT access_token, token_expires_at, jsapi_ticket, ticket_expires_at, fetched_at,
       last_error, last_error_at
FROM wechat_tickets WHERE appid = $1
"""

SET_WECHAT_TICKET = """
INSERT INTO wechat_tickets (appid, access_token, token_expires_at, jsapi_ticket,
                            ticket_expires_at, fetched_at, last_error, last_error_at)
VALUES ($1, $2, $3, $4, $5, now(), '', NULL)
ON CONFLICT (appid) DO UPDATE SET
    access_token = EXCLUDED.access_token, token_expires_at = EXCLUDED.token_expires_at,
    jsapi_ticket = EXCLUDED.jsapi_ticket, ticket_expires_at = EXCLUDED.ticket_expires_at,
    fetched_at = now(), last_error = '', last_error_at = NULL
"""

SET_WECHAT_ERROR = """
UPDATE wechat_tickets SET last_error = $2, last_error_at = now() WHERE appid = $1
"""

# One refresh in flight per deployment: the refresher holds this transaction-scoped lock while it
# fetches and stores; another that cannot take it at once leaves the work to the holder.
CLAIM_WECHAT_REFRESH = "SELECT pg_try_advisory_xact_lock($1)"
