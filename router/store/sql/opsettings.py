"""The settings ops own: values that override the HUOMA_* environment defaults."""

from __future__ import annotations

SETTINGS_CHANNEL = "huoma_settings"
# Delivered at commit to every worker's settings listener (router/runtime/opsettings.py).
NOTIFY_SETTINGS = "SELECT pg_notify('huoma_settings', $1)"

LOAD_OPS_SETTINGS = "SELECT name, value, updated_at, updated_by FROM ops_settings"

# The stored value before a change, locked so two admins changing one setting take turns.
OPS_SETTING_FOR_UPDATE = "SELECT value FROM ops_settings WHERE name = $1 FOR UPDATE"

PUT_OPS_SETTING = """
INSERT INTO ops_settings (name, value, updated_by) VALUES ($1, $2::jsonb, $3)
ON CONFLICT (name) DO UPDATE
SET value = excluded.value, updated_at = now(), updated_by = excluded.updated_by
"""

DELETE_OPS_SETTING = "DELETE FROM ops_settings WHERE name = $1 RETURNING value"
