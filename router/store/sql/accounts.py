"""Ops accounts, their sessions, named API tokens and the sign-in throttle."""

from __future__ import annotations

# A store's region, for an account limited to regions, is the store's own, else its city:
# coalesce(s.region_key, s.city_key) in every statement below and in the lists' filters.

# ---- accounts ---------------------------------------------------------------------------------

ACCOUNT_BY_NAME = """
SELECT id, username, password_hash, role, regions, disabled FROM accounts WHERE username = $1
"""

LIST_ACCOUNTS = """
SELECT username, role, regions, disabled, created_at, updated_at, last_signin_at,
       (SELECT count(*) FROM sessions s WHERE s.account_id = a.id) AS sessions
FROM accounts a
ORDER BY username
"""

# $1 username, $2 hash, $3 role, $4 regions. Nothing comes back when the name is taken.
CREATE_ACCOUNT = """
INSERT INTO accounts (username, password_hash, role, regions) VALUES ($1, $2, $3, $4)
ON CONFLICT (username) DO NOTHING
RETURNING username, role, regions, disabled, created_at, updated_at, last_signin_at
"""

# $1 username; NULL keeps a field: $2 role, $3 regions, $4 disabled, $5 password hash.
UPDATE_ACCOUNT = """
UPDATE accounts SET role = coalesce($2, role), regions = coalesce($3, regions),
                    disabled = coalesce($4, disabled),
                    password_hash = coalesce($5, password_hash),
                    password_set_at = CASE WHEN $5::text IS NULL THEN password_set_at
                                           ELSE now() END,
                    updated_at = now()
WHERE username = $1
RETURNING id, username, role, regions, disabled, created_at, updated_at, last_signin_at
"""

REHASH_ACCOUNT = "UPDATE accounts SET password_hash = $2 WHERE id = $1"

ACCOUNT_SIGNED_IN = "UPDATE accounts SET last_signin_at = now() WHERE id = $1"

COUNT_ADMINS = """
SELECT count(*) FROM accounts WHERE role = 'admin' AND NOT disabled AND regions = '{}'
"""

# ---- sessions ---------------------------------------------------------------------------------

# $1 token hash, $2 account id, $3 csrf token, $4 address.
CREATE_SESSION = """
INSERT INTO sessions (token_hash, account_id, csrf_token, address) VALUES ($1, $2, $3, $4)
"""

# The session and its account, if neither idle ($2 seconds) nor too old ($3 seconds); seen now.
TOUCH_SESSION = """
UPDATE sessions se SET last_seen_at = now()
FROM accounts a
WHERE se.token_hash = $1 AND a.id = se.account_id AND NOT a.disabled
  AND se.last_seen_at > now() - make_interval(secs => $2)
  AND se.created_at > now() - make_interval(secs => $3)
RETURNING a.id, a.username, a.role, a.regions, se.csrf_token, se.created_at
"""

DELETE_SESSION = "DELETE FROM sessions WHERE token_hash = $1"

# Every session of the account ($1) but the one making the change ($2; NULL: none kept).
DELETE_ACCOUNT_SESSIONS = """
DELETE FROM sessions WHERE account_id = $1 AND token_hash IS DISTINCT FROM $2::bytea
"""

# Sessions past either timeout ($1 idle seconds, $2 absolute seconds).
DELETE_STALE_SESSIONS = """
DELETE FROM sessions
WHERE last_seen_at <= now() - make_interval(secs => $1)
   OR created_at <= now() - make_interval(secs => $2)
"""

# ---- named API tokens -------------------------------------------------------------------------

API_KEY_BY_DIGEST = """
UPDATE api_tokens SET last_used_at = now() WHERE token_hash = $1
RETURNING name, role, regions
"""

LIST_API_KEYS = """
SELECT name, role, regions, created_by, created_at, last_used_at FROM api_tokens ORDER BY name
"""

# $1 name, $2 hash, $3 role, $4 regions, $5 created by. Nothing comes back when the name is taken.
CREATE_API_KEY = """
INSERT INTO api_tokens (name, token_hash, role, regions, created_by) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO NOTHING
RETURNING name, role, regions, created_by, created_at, last_used_at
"""

DELETE_API_KEY = "DELETE FROM api_tokens WHERE name = $1 RETURNING name"

# ---- the sign-in throttle ---------------------------------------------------------------------

# The longest wait among the keys ($1 text[]) before the next attempt, seconds (NULL: none).
SIGNIN_WAIT = """
SELECT extract(epoch FROM max(wait_until) - now())::float8
FROM signin_failures WHERE key = ANY($1) AND wait_until > now()
"""

# One more failure per key ($1 text[]): the wait doubles from $2 seconds up to $3; failures
# older than $4 seconds are forgotten first. Returns the longest wait now set, seconds.
SIGNIN_FAILED = """
INSERT INTO signin_failures AS f (key, failures, last_at, wait_until)
SELECT k, 1, now(), now() + make_interval(secs => $2) FROM unnest($1::text[]) AS k
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN f.last_at < now() - make_interval(secs => $4) THEN 1
                    ELSE f.failures + 1 END,
    last_at = now(),
    wait_until = now() + make_interval(secs => least(
        $3, $2 * power(2, CASE WHEN f.last_at < now() - make_interval(secs => $4) THEN 0
                               ELSE least(f.failures, 30) END)))
RETURNING extract(epoch FROM wait_until - now())::float8 AS wait_s
"""

SIGNIN_SUCCEEDED = "DELETE FROM signin_failures WHERE key = $1"

# Failures older than $1 seconds whose wait is over: forgotten anyway, so the table stays small.
FORGET_SIGNIN_FAILURES = """
DELETE FROM signin_failures
WHERE last_at < now() - make_interval(secs => $1) AND wait_until < now()
"""

# ---- regions ----------------------------------------------------------------------------------

# Of these store ids ($1), those outside the regions ($2; NULL: none are).
STORES_OUTSIDE = """
SELECT s.store_id FROM stores s
WHERE s.store_id = ANY($1) AND $2::text[] IS NOT NULL
  AND NOT (coalesce(s.region_key, s.city_key) = ANY($2))
"""

# Is the store ($1) within the regions ($2; NULL: every region)?
STORE_WITHIN = """
SELECT EXISTS (SELECT 1 FROM stores s
               WHERE s.store_id = $1
                 AND ($2::text[] IS NULL OR coalesce(s.region_key, s.city_key) = ANY($2)))
"""

GROUP_STORE = "SELECT store_id FROM groups WHERE group_id = $1"

ENTRY_STORE = "SELECT store_id FROM entries WHERE code = $1"

# Of these group ids ($1), those that exist under a store outside the regions ($2).
GROUPS_OUTSIDE = """
SELECT g.group_id FROM groups g JOIN stores s ON s.store_id = g.store_id
WHERE g.group_id = ANY($1) AND NOT (coalesce(s.region_key, s.city_key) = ANY($2))
"""

# Of these entry codes ($1), those that exist and belong to no store in the regions ($2).
ENTRIES_OUTSIDE = """
SELECT e.code FROM entries e LEFT JOIN stores s ON s.store_id = e.store_id
WHERE e.code = ANY($1) AND NOT coalesce(coalesce(s.region_key, s.city_key) = ANY($2), false)
"""
