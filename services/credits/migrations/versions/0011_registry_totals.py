"""registry totals from a rollup (issue 15): issued, held, retired, buffer, cancelled per project
and vintage

The public registry summed every issuance and live block per request. registry_total is kept
by statement-level triggers on issuance and serial_block in each writing transaction
(store/totals.py says why) and filled here from the rows already recorded. A frozen copy of the
trigger statements: later changes to the module do not rewrite this revision.

Revision ID: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BUFFER = "account_id = 'system-buffer-pool'"
Q = '("last" - "first" + 1)'
AMOUNTS = ["issuances", "live_blocks", "issued", "held", "retired", "buffer", "cancelled"]
CONTRIBUTIONS = {  # table -> (trigger name part, each row's contribution to AMOUNTS)
    "issuance": ("issuance", ["1", "0", "owner_quantity + buffer_quantity", "0", "0", "0", "0"]),
    "serial_block": ("block", [
        "0", "CASE WHEN status = 'superseded' THEN 0 ELSE 1 END", "0",
        f"CASE WHEN status = 'active' AND NOT {BUFFER} THEN {Q} ELSE 0 END",
        f"CASE WHEN status = 'retired' THEN {Q} ELSE 0 END",
        f"CASE WHEN status = 'active' AND {BUFFER} THEN {Q} ELSE 0 END",
        f"CASE WHEN status = 'cancelled' THEN {Q} ELSE 0 END"]),
}
OPERATIONS = {
    "INSERT": ("REFERENCING NEW TABLE AS new_rows", [("new_rows", 1)]),
    "UPDATE": ("REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
               [("new_rows", 1), ("old_rows", -1)]),
    "DELETE": ("REFERENCING OLD TABLE AS old_rows", [("old_rows", -1)]),
}


def _function(name: str, amounts: list[str], sources: list[tuple[str, int]]) -> str:
    delta = "\n        UNION ALL\n".join(
        "        SELECT project_id, vintage, " + ", ".join(f"{sign} * ({a})" for a in amounts)
        + f" FROM {table}" for table, sign in sources)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO registry_total AS t (project_id, vintage, shard, {", ".join(AMOUNTS)})
    SELECT project_id, vintage, (txid_current() % 16)::smallint,
           {", ".join(f"sum({a})" for a in AMOUNTS)}
    FROM (
{delta}
    ) AS delta (project_id, vintage, {", ".join(AMOUNTS)})
    GROUP BY project_id, vintage ORDER BY project_id, vintage
    ON CONFLICT (project_id, vintage, shard) DO UPDATE
    SET {", ".join(f"{a} = t.{a} + EXCLUDED.{a}" for a in AMOUNTS)};
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.create_table(
        "registry_total",
        sa.Column("project_id", sa.String(), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        # one of 16 rows per (project, vintage), by the writer's transaction id: movements of a
        # project do not queue on one row (store/totals.py)
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        *(sa.Column(a, sa.BigInteger(), nullable=False) for a in AMOUNTS),
        sa.PrimaryKeyConstraint("project_id", "vintage", "shard"))
    # no write between the fill and the triggers: they start from exactly what is counted
    op.execute("LOCK TABLE issuance, serial_block IN SHARE ROW EXCLUSIVE MODE")
    for table, (_, amounts) in CONTRIBUTIONS.items():
        op.execute(f"""
INSERT INTO registry_total AS t (project_id, vintage, shard, {", ".join(AMOUNTS)})
SELECT project_id, vintage, 0, {", ".join(f"sum({a})" for a in amounts)} FROM {table}
GROUP BY project_id, vintage
ON CONFLICT (project_id, vintage, shard) DO UPDATE
SET {", ".join(f"{a} = t.{a} + EXCLUDED.{a}" for a in AMOUNTS)}""")
    for table, (short, amounts) in CONTRIBUTIONS.items():
        for name, (referencing, sources) in OPERATIONS.items():
            function = f"registry_total_{short}_{name.lower()}"
            op.execute(_function(function, amounts, sources))
            op.execute(f"CREATE TRIGGER {function} AFTER {name} ON {table} {referencing} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")


def downgrade() -> None:
    for table, (short, _) in CONTRIBUTIONS.items():
        for name in OPERATIONS:
            function = f"registry_total_{short}_{name.lower()}"
            op.execute(f"DROP TRIGGER {function} ON {table}")
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_table("registry_total")
