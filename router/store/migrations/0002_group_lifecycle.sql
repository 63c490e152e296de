-- Group lifecycle: states, display caps shared across workers through leases, fallbacks,
-- provider-created groups and alerts.

ALTER TABLE groups
    ADD COLUMN kind text NOT NULL DEFAULT 'group' CHECK (kind IN ('group', 'fallback')),
    ADD COLUMN state text NOT NULL DEFAULT 'standby'
        CHECK (state IN ('standby', 'active', 'full', 'expired', 'retired')),
    ADD COLUMN display_cap integer CHECK (display_cap > 0),
    -- Displays handed to workers so far. A worker shows a group only out of displays it leased,
    -- so displays shown <= displays_leased <= the cap, whatever the number of workers.
    ADD COLUMN displays_leased integer NOT NULL DEFAULT 0 CHECK (displays_leased >= 0),
    ADD COLUMN source text NOT NULL DEFAULT 'upload',
    ALTER COLUMN store_id DROP NOT NULL;

-- A fallback belongs to a store, or (store_id NULL) to the whole brand; a group always to a store.
ALTER TABLE groups ADD CONSTRAINT groups_store_unless_brand_fallback
    CHECK (kind = 'fallback' OR store_id IS NOT NULL);
CREATE UNIQUE INDEX groups_one_fallback_per_store ON groups (coalesce(store_id, '*'))
    WHERE kind = 'fallback';

UPDATE groups SET state = 'active';

-- Lease up to p_want displays of a group; returns how many were granted (0: the cap is reached).
-- The row lock taken by SELECT ... FOR UPDATE serialises concurrent leases of one group, so the
-- sum of grants never exceeds the cap.
CREATE FUNCTION lease_displays(p_group bigint, p_want integer, p_default_cap integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_cap integer;
    v_used integer;
    v_grant integer;
BEGIN
    SELECT coalesce(display_cap, p_default_cap), displays_leased INTO v_cap, v_used
    FROM groups WHERE id = p_group AND kind = 'group' AND state <> 'retired'
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    v_grant := greatest(0, least(p_want, v_cap - v_used));
    IF v_grant > 0 THEN
        UPDATE groups SET displays_leased = displays_leased + v_grant WHERE id = p_group;
    END IF;
    RETURN v_grant;
END;
$$;

-- Bulk forms, looping in the order given: callers pass groups sorted by id, so two workers
-- leasing overlapping sets lock rows in the same order and cannot deadlock.
CREATE FUNCTION lease_displays_bulk(p_groups bigint[], p_wants integer[], p_default_cap integer)
RETURNS TABLE (group_pk bigint, granted integer)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_groups, 1), 0) LOOP
        group_pk := p_groups[i];
        granted := lease_displays(p_groups[i], p_wants[i], p_default_cap);
        RETURN NEXT;
    END LOOP;
END;
$$;

-- Give back displays a worker leased but did not show (graceful shutdown).
CREATE FUNCTION return_displays(p_groups bigint[], p_counts integer[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_groups, 1), 0) LOOP
        UPDATE groups SET displays_leased = greatest(0, displays_leased - p_counts[i])
        WHERE id = p_groups[i];
    END LOOP;
END;
$$;

CREATE TABLE alerts (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    store_id    text,
    message     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
-- One open alert per kind and store: raising it again is a no-op until it is resolved.
CREATE UNIQUE INDEX alerts_open ON alerts (kind, coalesce(store_id, '*')) WHERE resolved_at IS NULL;

CREATE INDEX scan_events_group ON scan_events (group_id);
