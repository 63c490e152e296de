-- Store links: a signed link reaching one store. Each carries its store's generation and the
-- deployment's; bumping either revokes the links issued before (one store, or all at once).
ALTER TABLE stores ADD COLUMN IF NOT EXISTS link_generation integer NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS store_link_state (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation integer NOT NULL DEFAULT 0
);
INSERT INTO store_link_state (only_row, generation) VALUES (true, 0) ON CONFLICT DO NOTHING;
