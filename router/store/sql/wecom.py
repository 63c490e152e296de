"""WeCom join ways, their chats and callbacks."""

from __future__ import annotations

# ---- WeCom join ways --------------------------------------------------------------------------

WECOM_STORE = """
SELECT w.id, w.store_id, w.enabled, w.config_id, w.qr_code, w.chat_ids, w.synced_at,
       w.sync_error, s.name AS store_name, coalesce(s.active, false) AS store_active
FROM wecom_stores w
LEFT JOIN stores s ON s.store_id = w.store_id
WHERE w.store_id = $1
"""

WECOM_STORES_TO_SYNC = """
SELECT store_id FROM wecom_stores WHERE enabled OR config_id IS NOT NULL ORDER BY id
"""

WECOM_ENABLE = """
INSERT INTO wecom_stores (store_id) VALUES ($1)
ON CONFLICT (store_id) DO UPDATE SET enabled = true, updated_at = now()
RETURNING id
"""

WECOM_DISABLE = """
UPDATE wecom_stores SET enabled = false, updated_at = now() WHERE store_id = $1 RETURNING id
"""

# A chat given by ops (or adopted); a chat already belonging to another store is not moved.
WECOM_ADD_CHAT = """
INSERT INTO wecom_chats (chat_id, store_id, position, adopted)
VALUES ($1, $2, coalesce((SELECT max(position) + 1 FROM wecom_chats WHERE store_id = $2), 0), $3)
ON CONFLICT (chat_id) DO UPDATE SET dismissed = false
WHERE wecom_chats.store_id = EXCLUDED.store_id
RETURNING store_id
"""

WECOM_CHAT_OWNER = "SELECT store_id FROM wecom_chats WHERE chat_id = $1"

WECOM_CHAT_VERSION = "SELECT member_version FROM wecom_chats WHERE chat_id = $1"

WECOM_ENABLED = "SELECT enabled FROM wecom_stores WHERE store_id = $1"

STORE_ACTIVE = "SELECT active FROM stores WHERE store_id = $1"

WECOM_CHATS = """
SELECT chat_id, position, member_count, member_version, counted_at, adopted, dismissed
FROM wecom_chats WHERE store_id = $1
ORDER BY position, created_at
"""

WECOM_SYNCED = """
UPDATE wecom_stores
SET config_id = $2, qr_code = $3, chat_ids = $4, synced_at = now(), sync_error = NULL,
    updated_at = now()
WHERE store_id = $1
"""

WECOM_SYNC_FAILED = """
UPDATE wecom_stores SET sync_error = $2, synced_at = now(), updated_at = now()
WHERE store_id = $1
"""

WECOM_FORGET_JOIN_WAY = """
UPDATE wecom_stores
SET config_id = NULL, qr_code = NULL, chat_ids = '{}', synced_at = now(), sync_error = NULL,
    updated_at = now()
WHERE store_id = $1
"""

# The store's group is its join way's QR code: never full by members or displays (WeCom opens
# the next chat itself), first in the pool, its QR version bumped when the code changes.
WECOM_UPSERT_GROUP = """
INSERT INTO groups (group_id, store_id, name, qr_payload, capacity, display_cap, position,
                    source, state)
VALUES ($1, $2, $3, $4, 2000000000, 2000000000, -1, 'wecom', 'standby')
ON CONFLICT (group_id) DO UPDATE SET
    qr_payload = EXCLUDED.qr_payload,
    qr_version = groups.qr_version + (groups.qr_payload <> EXCLUDED.qr_payload)::int,
    name = EXCLUDED.name,
    state = CASE WHEN groups.state = 'retired' THEN 'standby' ELSE groups.state END,
    updated_at = now()
WHERE groups.qr_payload <> EXCLUDED.qr_payload OR groups.name <> EXCLUDED.name
   OR groups.state = 'retired'
RETURNING id, (xmax = 0) AS inserted
"""

WECOM_RETIRE_GROUP = """
UPDATE groups SET state = 'retired', updated_at = now()
WHERE group_id = $1 AND state <> 'retired'
RETURNING id
"""

# A reading of a chat's members; an older reading (two processors racing) changes nothing.
WECOM_COUNTED = """
UPDATE wecom_chats
SET member_count = $2, member_version = $3, counted_at = $4, dismissed = false
WHERE chat_id = $1 AND (counted_at IS NULL OR counted_at < $4)
RETURNING store_id
"""

WECOM_DISMISSED = """
UPDATE wecom_chats SET dismissed = true WHERE chat_id = $1 RETURNING store_id
"""

WECOM_STORE_OF_STATE = "SELECT store_id FROM wecom_stores WHERE 'hm' || id = $1"

# A join's entry is the entry of the last scan that showed the store's join way before it, within
# $7 seconds: WeCom tells who joined, never from which printed code.
WECOM_RECORD_JOINS = """
INSERT INTO group_joins (chat_id, member, joined_at, store_id, state, join_scene, entry)
SELECT $1, m.member, to_timestamp(m.joined), j.store_id, m.state, m.scene,
       (SELECT e.entry FROM scan_events e
        WHERE e.group_id = 'wecom-' || j.store_id AND e.outcome = 'ok'
          AND e.at <= to_timestamp(m.joined)
          AND e.at > to_timestamp(m.joined) - make_interval(secs => $7)
        ORDER BY e.at DESC LIMIT 1)
FROM unnest($3::text[], $4::bigint[], $5::text[], $6::smallint[]) AS m(member, joined, state, scene)
LEFT JOIN wecom_stores w ON m.state <> '' AND 'hm' || w.id = m.state
CROSS JOIN LATERAL (SELECT coalesce(w.store_id, $2) AS store_id) j
ON CONFLICT DO NOTHING
"""


# ---- WeCom callbacks --------------------------------------------------------------------------

WECOM_CALLBACK_SEEN = """
INSERT INTO wecom_callbacks (signature, sent_at, event, chat_id, change_type, update_detail,
                             message)
VALUES ($1, to_timestamp($2), $3, $4, $5, $6, $7)
ON CONFLICT (signature) DO NOTHING
RETURNING signature
"""

WECOM_CALLBACKS_PENDING = """
SELECT signature, event, chat_id, change_type, update_detail, message
FROM wecom_callbacks
-- A fresh one is being processed by the worker that received it; the keeper takes the rest.
WHERE processed_at IS NULL AND attempts < $1
  AND (attempts > 0 OR received_at < now() - interval '1 minute')
ORDER BY sent_at, received_at
LIMIT $2
"""

WECOM_CALLBACK_DONE = """
UPDATE wecom_callbacks SET processed_at = now(), attempts = attempts + 1, error = NULL
WHERE signature = $1
"""

WECOM_CALLBACK_FAILED = """
UPDATE wecom_callbacks SET attempts = attempts + 1, error = $2 WHERE signature = $1
"""
