"""Display leases: taken and returned in bulk, so a group's cap holds across workers."""

from __future__ import annotations

# ---- leases ----------------------------------------------------------------------------------

# Lease displays of many groups in one statement: ($1 groups, $2 displays wanted, $3 the default
# cap). The rows are locked in id order (callers sort, and ORDER BY ... FOR UPDATE locks in that
# order), so two workers leasing overlapping sets cannot deadlock; each grant is what the cap
# leaves of the locked row, so the sum of grants never exceeds a cap. Every group asked for
# answers a row: `granted` 0 for a group at its cap (or gone, or retired), and the group's
# displays leased and cap after the grant, from which the worker sees contention and the cap.
LEASE_DISPLAYS = """
WITH want AS (
    SELECT w.pk, w.n FROM unnest($1::bigint[], $2::integer[]) AS w(pk, n)
), locked AS (
    SELECT g.id, coalesce(g.display_cap, $3) AS cap, g.displays_leased AS before,
           greatest(0, least(want.n, coalesce(g.display_cap, $3) - g.displays_leased)) AS grant_n
    FROM groups g JOIN want ON want.pk = g.id
    WHERE g.kind = 'group' AND g.state <> 'retired'
    ORDER BY g.id
    FOR UPDATE OF g
), leased AS (
    UPDATE groups g SET displays_leased = g.displays_leased + locked.grant_n
    FROM locked WHERE g.id = locked.id AND locked.grant_n > 0
    RETURNING g.id
)
SELECT want.pk AS group_pk, coalesce(locked.grant_n, 0) AS granted,
       coalesce(locked.before + locked.grant_n, 0) AS leased, coalesce(locked.cap, $3) AS cap
FROM want LEFT JOIN locked ON locked.id = want.pk
"""

# Give back displays leased but not shown ($1 groups sorted by id, $2 how many each), in the
# same lock order as leasing. Callers send bounded batches (`RETURN_BATCH` groups): one statement
# over every group of a large brand held its locks long enough for two workers stopping together
# to block each other into the statement timeout.
RETURN_DISPLAYS = """
WITH back AS (
    SELECT b.pk, b.n FROM unnest($1::bigint[], $2::integer[]) AS b(pk, n)
), locked AS (
    SELECT g.id, back.n FROM groups g JOIN back ON back.pk = g.id ORDER BY g.id FOR UPDATE OF g
)
UPDATE groups g SET displays_leased = greatest(0, g.displays_leased - locked.n)
FROM locked WHERE g.id = locked.id
"""

# Group ids (as journalled) to their keys: counting a dead worker's showings from its journal.
GROUP_KEYS = "SELECT group_id, id FROM groups WHERE group_id = ANY($1::text[])"

# Displays leased from caps but not shown (yet), over every group: what live workers hold, what
# was shown but not flushed yet, and what workers that died without a replay stranded.
LEASED_UNSHOWN = """
SELECT coalesce(sum(greatest(0, displays_leased - displays_shown)), 0)::bigint
FROM groups WHERE kind = 'group'
"""
