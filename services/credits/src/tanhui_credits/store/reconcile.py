"""Reconciliation: recompute the registry's balances from its rows, not from its hash links.

Used by GET /api/v1/registry/audit/verify and by the operator CLI (`tanhui_ops`). The schema
already refuses most of what is looked for here; this finds what it cannot express (sums across
rows) and whatever a migration, a restore or a hand edit brought in.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from .accounts import BUFFER_POOL_ID

LIVE = "status IN ('active', 'retired', 'cancelled')"

# per (project, vintage): issued from issuance rows against held + retired + buffer from blocks
_BALANCES = text(f"""
WITH issued AS (
    SELECT project_id, vintage, sum(owner_quantity + buffer_quantity) AS issued
    FROM issuance GROUP BY project_id, vintage),
live AS (
    SELECT project_id, vintage,
           sum(CASE WHEN status = 'active' AND account_id <> :buffer
                    THEN "last" - "first" + 1 ELSE 0 END) AS held,
           sum(CASE WHEN status = 'retired' THEN "last" - "first" + 1 ELSE 0 END) AS retired,
           sum(CASE WHEN status = 'active' AND account_id = :buffer
                    THEN "last" - "first" + 1 ELSE 0 END) AS buffer,
           sum(CASE WHEN status = 'cancelled' THEN "last" - "first" + 1 ELSE 0 END) AS cancelled
    FROM serial_block WHERE {LIVE} GROUP BY project_id, vintage)
SELECT coalesce(i.project_id, l.project_id) AS project_id,
       coalesce(i.vintage, l.vintage) AS vintage, coalesce(i.issued, 0) AS issued,
       coalesce(l.held, 0) AS held, coalesce(l.retired, 0) AS retired,
       coalesce(l.buffer, 0) AS buffer, coalesce(l.cancelled, 0) AS cancelled
FROM issued i FULL JOIN live l ON l.project_id = i.project_id AND l.vintage = i.vintage
WHERE coalesce(i.issued, 0) <> coalesce(l.held, 0) + coalesce(l.retired, 0)
                               + coalesce(l.buffer, 0) + coalesce(l.cancelled, 0)
ORDER BY 1, 2
""")

# written as the exclusion constraint's own expression, so its gist index serves the self-join
_OVERLAPS = text(f"""
SELECT a.project_id, a.vintage, a.id AS block_id, b.id AS other_block_id,
       a."first", a."last", b."first" AS other_first, b."last" AS other_last
FROM serial_block a JOIN serial_block b
  ON a.id < b.id AND a.project_id = b.project_id AND a.vintage = b.vintage
 AND int8range(a."first", a."last", '[]') && int8range(b."first", b."last", '[]')
WHERE a.{LIVE} AND b.{LIVE}
ORDER BY a.id, b.id
""")

# a listing's remaining (its stock's) is exactly what its active reserved blocks hold; a listing
# without a stock, which no constraint rules out (create_listing writes both), shows as one with
# no status and no remaining
_LISTINGS = text("""
SELECT l.id AS listing_id, k.status, k.remaining, coalesce(sum(b."last" - b."first" + 1), 0)
       AS reserved
FROM listing l
LEFT JOIN listing_stock k ON k.listing_id = l.id
LEFT JOIN serial_block b ON b.listing_id = l.id AND b.status = 'active'
GROUP BY l.id, k.status, k.remaining
HAVING k.remaining IS DISTINCT FROM coalesce(sum(b."last" - b."first" + 1), 0)
ORDER BY l.id
""")

# a retirement's quantity is exactly what its retired blocks hold (what its certificate lists)
_RETIREMENTS = text("""
SELECT r.id AS retirement_id, r.quantity, coalesce(sum(b."last" - b."first" + 1), 0) AS retired
FROM retirement r LEFT JOIN serial_block b ON b.retirement_id = r.id AND b.status = 'retired'
GROUP BY r.id, r.quantity
HAVING r.quantity <> coalesce(sum(b."last" - b."first" + 1), 0)
ORDER BY r.id
""")


# a compensation's pool and developer parts are exactly what its cancelled blocks hold
_COMPENSATIONS = text("""
SELECT c.loss_id, c.from_pool + c.from_developer AS quantity,
       coalesce(sum(b."last" - b."first" + 1), 0) AS cancelled
FROM buffer_compensation c
LEFT JOIN serial_block b ON b.compensation_id = c.loss_id AND b.status = 'cancelled'
GROUP BY c.loss_id, c.from_pool, c.from_developer
HAVING c.from_pool + c.from_developer <> coalesce(sum(b."last" - b."first" + 1), 0)
ORDER BY c.loss_id
""")


def registry_discrepancies(session: Session) -> list[dict[str, Any]]:
    """Every way the registry's rows disagree with each other; [] when they all add up.

    Each item has a `kind` (unbalanced, overlap, listing_remaining, retirement_quantity), the
    keys it is about and the figures that disagree.
    """
    found: list[dict[str, Any]] = []
    for row in session.execute(_BALANCES, {"buffer": BUFFER_POOL_ID}).mappings():
        found.append({"kind": "unbalanced", **_ints(row)})
    for row in session.execute(_OVERLAPS).mappings():
        found.append({"kind": "overlap", **_ints(row)})
    for row in session.execute(_LISTINGS).mappings():
        found.append({"kind": "listing_remaining", **_ints(row)})
    for row in session.execute(_RETIREMENTS).mappings():
        found.append({"kind": "retirement_quantity", **_ints(row)})
    for row in session.execute(_COMPENSATIONS).mappings():
        found.append({"kind": "compensation_quantity", **_ints(row)})
    return found


def _ints(row: Any) -> dict[str, Any]:
    # sums come back as Decimal; a report is JSON, and these are whole credits
    return {key: int(value) if isinstance(value, Decimal) else value
            for key, value in row.items()}
