"""The audit trail: one row per change made through the ops API (who, when, what)."""

from __future__ import annotations

INSERT_AUDIT = """
INSERT INTO audit_log (actor, kind, store_id, target, summary, details)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
"""

# One row per store an upload touched, in one statement (an upload may touch 100k stores).
INSERT_AUDIT_PER_STORE = """
INSERT INTO audit_log (actor, kind, store_id, target, summary, details)
SELECT $1, $2, s.store_id, $3, s.summary, $4::jsonb
FROM unnest($5::text[], $6::text[]) AS s (store_id, summary)
"""

# Filters are optional (NULL: any); newest first; total counts every match (one page shown).
# kind=brand finds the brand's settings (setting.change/reset of a brand_* setting).
LIST_AUDIT = """
SELECT id, at, actor, kind, store_id, target, summary, details, count(*) OVER () AS total
FROM audit_log
WHERE ($1::text IS NULL OR kind = $1 OR split_part(kind, '.', 1) = $1
       OR ($1 = 'brand' AND split_part(kind, '.', 1) = 'setting' AND target LIKE 'brand\\_%'))
  AND ($2::text IS NULL OR actor = $2)
  AND ($3::text IS NULL OR store_id = $3)
  AND ($4::timestamptz IS NULL OR at >= $4)
  AND ($5::timestamptz IS NULL OR at < $5)
ORDER BY id DESC
LIMIT $6 OFFSET $7
"""

# Retention: oldest first, a bounded batch per statement so that no prune holds locks for long
# or writes a huge WAL burst; the keeper repeats it until a batch comes back short.
PRUNE_AUDIT = """
DELETE FROM audit_log
WHERE id IN (
    SELECT id FROM audit_log
    WHERE at < now() - make_interval(days => $1)
    ORDER BY id
    LIMIT $2
)
"""

# What a group change is about, read (and locked) before it: its store and member count.
GROUP_FOR_AUDIT = """
SELECT store_id, member_count, state FROM groups WHERE group_id = $1 AND kind = 'group' FOR UPDATE
"""

# What an entry code's campaign change is about, read (and locked) before it: its store and copy.
ENTRY_FOR_AUDIT = "SELECT store_id, campaign FROM entries WHERE code = $1 FOR UPDATE"

# An account as it was before a change (never its password hash).
ACCOUNT_FOR_AUDIT = """
SELECT role, regions, disabled FROM accounts WHERE username = $1 FOR UPDATE
"""

# A token as it was before its deletion (never its hash).
API_KEY_FOR_AUDIT = "SELECT role, regions FROM api_tokens WHERE name = $1 FOR UPDATE"

# A group as it was before its code is replaced from a picture (never its code).
GROUP_BEFORE_PICTURE = "SELECT name, member_count, expires_at FROM groups WHERE group_id = $1"
