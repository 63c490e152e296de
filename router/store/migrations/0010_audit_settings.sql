-- The audit trail (who changed what, when) and the settings ops own (values that override the
-- HUOMA_* environment defaults, applied to every worker without a restart).

-- One row per change, per store where a change is about stores. summary is what an ops person
-- reads (old -> new); details is the same as JSON. Neither ever holds a password, a token or a
-- group code's text.
CREATE TABLE IF NOT EXISTS audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    kind      text NOT NULL,
    store_id  text,
    target    text,
    summary   text NOT NULL,
    details   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_store ON audit_log (store_id, id) WHERE store_id IS NOT NULL;

-- A setting's value as ops set it (JSON, validated by its declaration in router/store/opsettings.py);
-- a setting without a row takes its HUOMA_* environment default.
CREATE TABLE IF NOT EXISTS ops_settings (
    name        text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);

-- Alert robots may serve one region; a store's region (when another change adds it) or city
-- decides which robot hears about it.
ALTER TABLE stores ADD COLUMN IF NOT EXISTS region text;
