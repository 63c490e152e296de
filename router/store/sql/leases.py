"""Display leases: taken and returned in bulk, so a group's cap holds across workers."""

from __future__ import annotations

# ---- leases ----------------------------------------------------------------------------------

LEASE_DISPLAYS = """
SELECT group_pk, granted FROM lease_displays_bulk($1::bigint[], $2::integer[], $3)
"""

RETURN_DISPLAYS = "SELECT return_displays($1::bigint[], $2::integer[])"
