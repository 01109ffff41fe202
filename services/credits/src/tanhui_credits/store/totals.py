"""Registry totals per project and vintage, kept by triggers in each writing transaction.

Why: the public registry's totals summed every issuance and every live block (hundreds of
thousands after a few years) on each request. Statement-level triggers with transition tables
on issuance and serial_block (every path: issuance, splits, transfers, listings, retirements,
cancellations, an operator's SQL) add each statement's delta to registry_total in the same
transaction, so the totals never drift from the blocks. Movements of one project run side by
side (the audit chain no longer serializes them), so a transaction adds its delta to one of
SHARDS rows per (project, vintage), picked by its transaction id, and readers sum the shards:
one row would make every movement of a project wait for the one before it to commit.
The migration (0011) holds a frozen copy of these statements.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session

from .accounts import BUFFER_POOL_ID
from .tables import CreditsTable, Project


class RegistryTotal(CreditsTable, table=True):
    __tablename__ = "registry_total"

    project_id: str = Field(primary_key=True)
    vintage: int = Field(primary_key=True)
    shard: int = Field(primary_key=True, sa_type=sa.SmallInteger)  # txid % SHARDS of the writer
    issuances: int = Field(sa_type=sa.BigInteger)  # rows, so a 0-credit issuance still shows
    live_blocks: int = Field(sa_type=sa.BigInteger)  # blocks not superseded
    issued: int = Field(sa_type=sa.BigInteger)
    held: int = Field(sa_type=sa.BigInteger)
    retired: int = Field(sa_type=sa.BigInteger)
    buffer: int = Field(sa_type=sa.BigInteger)
    cancelled: int = Field(sa_type=sa.BigInteger)


SHARDS = 16
COLUMNS = "project_id, vintage, shard, issuances, live_blocks, issued, held, retired, buffer, cancelled"
_Q = '("last" - "first" + 1)'
_BUFFER = f"account_id = '{BUFFER_POOL_ID}'"
# each row's contribution to (issuances, live_blocks, issued, held, retired, buffer, cancelled)
_ISSUANCE = ["1", "0", "owner_quantity + buffer_quantity", "0", "0", "0", "0"]
_BLOCK = ["0", "CASE WHEN status = 'superseded' THEN 0 ELSE 1 END", "0",
          f"CASE WHEN status = 'active' AND NOT {_BUFFER} THEN {_Q} ELSE 0 END",
          f"CASE WHEN status = 'retired' THEN {_Q} ELSE 0 END",
          f"CASE WHEN status = 'active' AND {_BUFFER} THEN {_Q} ELSE 0 END",
          f"CASE WHEN status = 'cancelled' THEN {_Q} ELSE 0 END"]
_AMOUNTS = ["issuances", "live_blocks", "issued", "held", "retired", "buffer", "cancelled"]


def _function(name: str, amounts: list[str], sources: list[tuple[str, int]]) -> str:
    delta = "\n        UNION ALL\n".join(
        "        SELECT project_id, vintage, " + ", ".join(f"{sign} * ({a})" for a in amounts)
        + f" FROM {table}" for table, sign in sources)
    sums = ", ".join(f"sum({a})" for a in _AMOUNTS)
    sets = ", ".join(f"{a} = t.{a} + EXCLUDED.{a}" for a in _AMOUNTS)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- one upsert per statement, rows in key order so concurrent writers lock them alike
    INSERT INTO registry_total AS t ({COLUMNS})
    SELECT project_id, vintage, (txid_current() % {SHARDS})::smallint, {sums}
    FROM (
{delta}
    ) AS delta (project_id, vintage, {", ".join(_AMOUNTS)})
    GROUP BY project_id, vintage ORDER BY project_id, vintage
    ON CONFLICT (project_id, vintage, shard) DO UPDATE SET {sets};
    RETURN NULL;
END $$"""


# a transition table exists only for the operations that have that side: one trigger each
_OPERATIONS = {
    "INSERT": ("REFERENCING NEW TABLE AS new_rows", [("new_rows", 1)]),
    "UPDATE": ("REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
               [("new_rows", 1), ("old_rows", -1)]),
    "DELETE": ("REFERENCING OLD TABLE AS old_rows", [("old_rows", -1)]),
}
TOTALS_DDL = [
    statement
    for table, short, amounts in (("issuance", "issuance", _ISSUANCE),
                                  ("serial_block", "block", _BLOCK))
    for op, (referencing, sources) in _OPERATIONS.items()
    for statement in (
        _function(f"registry_total_{short}_{op.lower()}", amounts, sources),
        f"CREATE TRIGGER registry_total_{short}_{op.lower()} AFTER {op} ON {table} {referencing} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION registry_total_{short}_{op.lower()}()")]


@sa.event.listens_for(CreditsTable.metadata, "after_create")
def _create_triggers(target, connection, **_) -> None:
    # create_all (a database built from the models) gets the triggers the migration creates
    if {"registry_total", "issuance", "serial_block"} <= {t.name for t in target.sorted_tables}:
        for statement in TOTALS_DDL:
            connection.execute(sa.text(statement))


def project_totals(session: Session) -> list[dict[str, Any]]:
    """issued, held, retired, buffer and cancelled (compensating a loss) per project and
    vintage (issued = held + retired + buffer + cancelled), from the rollup."""
    r, p = RegistryTotal.__table__, Project.__table__
    t = (sa.select(r.c.project_id, r.c.vintage,
                   # sum(bigint) is numeric in PostgreSQL: back to whole credits
                   *(sa.cast(sa.func.sum(r.c[a]), sa.BigInteger).label(a) for a in _AMOUNTS))
         .group_by(r.c.project_id, r.c.vintage)
         .having((sa.func.sum(r.c.issuances) > 0) | (sa.func.sum(r.c.live_blocks) > 0))
         .subquery())
    rows = session.execute(
        sa.select(t, p.c.project_number, p.c.name)
        .outerjoin(p, p.c.id == t.c.project_id)
        .order_by(sa.func.coalesce(p.c.project_number, 0), t.c.vintage, t.c.project_id)).all()
    return [{"project_id": r.project_id, "project_number": r.project_number,
             "project_name": r.name or "", "vintage": r.vintage, "issued": r.issued,
             "held": r.held, "retired": r.retired, "buffer": r.buffer, "cancelled": r.cancelled}
            for r in rows]
