"""Statements of the brand's area: entry codes' campaign copy, the WeChat JS-SDK's shared
access token and ticket, print sheets and their background jobs."""

from __future__ import annotations

from router.store.sql.locks import AdvisoryLock

__all__ = [
    "BRAND_LOGO",
    "CLAIM_PRINT_JOB",
    "CLAIM_WECHAT_REFRESH",
    "CREATE_PRINT_JOB",
    "CREATE_STORE_ENTRIES",
    "FAIL_PRINT_JOB",
    "FINISH_PRINT_JOB",
    "GET_PRINT_JOB",
    "GET_PRINT_JOB_PDF",
    "GET_WECHAT_TICKET",
    "PUT_BRAND_LOGO",
    "SET_ENTRY_CAMPAIGN",
    "SET_WECHAT_ERROR",
    "SET_WECHAT_TICKET",
    "SHEET_ENTRY",
    "SHEET_STORE",
    "SHEET_STORES",
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
CLAIM_WECHAT_REFRESH = f"SELECT pg_try_advisory_xact_lock({int(AdvisoryLock.WECHAT)})"

# ---- print sheets ---------------------------------------------------------------------------

# An entry code's sheet: its code, and its store's name when it is a store's code.
SHEET_ENTRY = """
SELECT e.code, e.kind, e.label, s.name AS store_name
FROM entries e LEFT JOIN stores s ON s.store_id = e.store_id
WHERE e.code = $1
"""

# A store's sheet: its name and its pinned entry code (the oldest, when it has several).
SHEET_STORE = """
SELECT s.store_id, s.name AS store_name,
       (SELECT e.code FROM entries e WHERE e.store_id = s.store_id AND e.kind = 'store'
        ORDER BY e.created_at, e.code LIMIT 1) AS code
FROM stores s WHERE s.store_id = $1
"""

# Every active store without a pinned entry code gets one ($1: the codes, $2: the store ids).
CREATE_STORE_ENTRIES = """
INSERT INTO entries (code, kind, store_id, label)
SELECT c, 'store', sid, '印刷台卡' FROM unnest($1::text[], $2::text[]) AS t(c, sid)
ON CONFLICT (code) DO NOTHING
"""

# Every active store, in store id order, with its pinned entry code (NULL: none yet).
SHEET_STORES = """
SELECT s.store_id, s.name AS store_name,
       (SELECT e.code FROM entries e WHERE e.store_id = s.store_id AND e.kind = 'store'
        ORDER BY e.created_at, e.code LIMIT 1) AS code
FROM stores s WHERE s.active
ORDER BY s.store_id
LIMIT $1
"""

CREATE_PRINT_JOB = """
INSERT INTO print_jobs (size, requested_by) VALUES ($1, $2)
RETURNING id, size, status, created_at, started_at, finished_at, pages, error
"""

GET_PRINT_JOB = """
SELECT id, size, status, created_at, started_at, finished_at, pages, error
FROM print_jobs WHERE id = $1
"""

GET_PRINT_JOB_PDF = "SELECT status, pdf FROM print_jobs WHERE id = $1"

# The oldest pending job, or one left running longer than $1 seconds (its worker died), claimed
# by one worker: the others skip the locked row.
CLAIM_PRINT_JOB = """
UPDATE print_jobs SET status = 'running', started_at = now()
WHERE id = (
    SELECT id FROM print_jobs
    WHERE status = 'pending'
       OR (status = 'running' AND started_at < now() - make_interval(secs => $1))
    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id, size
"""

FINISH_PRINT_JOB = """
UPDATE print_jobs SET status = 'done', finished_at = now(), pages = $2, pdf = $3, error = ''
WHERE id = $1
"""

FAIL_PRINT_JOB = """
UPDATE print_jobs SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1
"""

# A logo uploaded on the brand screen, by the SHA-256 of its re-encoded bytes (one row per logo).
PUT_BRAND_LOGO = """
INSERT INTO brand_logos (sha256, png, width, height, created_by) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (sha256) DO NOTHING
"""

BRAND_LOGO = "SELECT png, width, height FROM brand_logos WHERE sha256 = $1"
