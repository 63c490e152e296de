-- Events say what they record (router.scan.journal.EventKind): a customer page served
-- ('page_view'), a scan ('scan'), or a sticky repeat of a group the visitor already holds at that
-- store: the page renewing its own link ('renewal') or the same customer asking again ('repeat').
-- Only scans count as scans and showings in the funnel. Events recorded before were all called
-- scans, and stay so.
ALTER TABLE scan_events ADD COLUMN kind text NOT NULL DEFAULT 'scan';
ALTER TABLE scan_events ADD CONSTRAINT scan_events_kind
    CHECK (kind IN ('page_view', 'scan', 'repeat', 'renewal')) NOT VALID;

-- The funnel's first step and the repeats beside it; rolled-up days before this had none.
ALTER TABLE funnel_daily
    ADD COLUMN page_views integer NOT NULL DEFAULT 0,
    ADD COLUMN repeats integer NOT NULL DEFAULT 0,
    ADD COLUMN renewals integer NOT NULL DEFAULT 0;

-- A group's displays shown to customers (scans that showed it), kept as events are flushed;
-- displays_leased stays the workers' reservation against the cap. Past events could not tell a
-- renewal from a showing: each visitor shown a group counts once.
ALTER TABLE groups ADD COLUMN displays_shown integer NOT NULL DEFAULT 0
    CHECK (displays_shown >= 0);
UPDATE groups g SET displays_shown = c.shown
FROM (SELECT group_id, count(DISTINCT visitor) AS shown
      FROM scan_events
      WHERE group_id IS NOT NULL
      GROUP BY group_id) c
WHERE g.group_id = c.group_id;
