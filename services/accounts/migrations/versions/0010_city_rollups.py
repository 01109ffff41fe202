"""city figures from rollups (issue 15): trips per (day, mode), emissions per (year, county, industry)

The regulator's city page summed every trip and report of the year; at a city's scale (20
million trips a year) that is a scan per request. trip_rollup and emission_rollup are kept by
triggers in each writing transaction (store/rollups.py says why and how) and filled here from
the data already recorded. A frozen copy of the trigger statements: later changes to the
module do not rewrite this revision.

Revision ID: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SHARDS = 4


def _trip_function(name: str, sources: list[tuple[str, int]]) -> str:
    delta = "\n        UNION ALL\n".join(
        f"        SELECT local_day, mode, {sign}, {sign} * distance_km, {sign} * reduction_g "
        f"FROM {table}" for table, sign in sources)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO trip_rollup AS r (local_day, mode, shard, trips, distance_km, reduction_g)
    SELECT local_day, mode, (txid_current() % {SHARDS})::smallint, sum(n), sum(d), sum(g)
    FROM (
{delta}
    ) AS delta (local_day, mode, n, d, g)
    GROUP BY local_day, mode ORDER BY local_day, mode
    ON CONFLICT (local_day, mode, shard) DO UPDATE
    SET trips = r.trips + EXCLUDED.trips, distance_km = r.distance_km + EXCLUDED.distance_km,
        reduction_g = r.reduction_g + EXCLUDED.reduction_g;
    RETURN NULL;
END $$"""


OPERATIONS = {
    "INSERT": ("REFERENCING NEW TABLE AS new_rows", [("new_rows", 1)]),
    "UPDATE": ("REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
               [("new_rows", 1), ("old_rows", -1)]),
    "DELETE": ("REFERENCING OLD TABLE AS old_rows", [("old_rows", -1)]),
}

EMISSION = [
    """
CREATE OR REPLACE FUNCTION emission_rollup_move(y text, c text, i text, n bigint, t numeric)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO emission_rollup AS r (year, county, industry, reports, total_tco2e)
    VALUES (y, c, i, n, t)
    ON CONFLICT (year, county, industry) DO UPDATE
    SET reports = r.reports + EXCLUDED.reports, total_tco2e = r.total_tco2e + EXCLUDED.total_tco2e
$$""",
    """
CREATE OR REPLACE FUNCTION emission_rollup_report() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE e record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.is_current THEN
        SELECT county, industry, claim_status INTO e FROM enterprise
        WHERE id = OLD.enterprise_id FOR SHARE;
        IF e.claim_status = 'confirmed' THEN
            PERFORM emission_rollup_move(left(OLD.period, 4), e.county, e.industry, -1,
                                         -OLD.total_tco2e);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.is_current THEN
        SELECT county, industry, claim_status INTO e FROM enterprise
        WHERE id = NEW.enterprise_id FOR SHARE;
        IF e.claim_status = 'confirmed' THEN
            PERFORM emission_rollup_move(left(NEW.period, 4), e.county, e.industry, 1,
                                         NEW.total_tco2e);
        END IF;
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER emission_rollup_report AFTER INSERT OR DELETE OR UPDATE OF is_current, "
    "period, total_tco2e, enterprise_id ON carbon_report "
    "FOR EACH ROW EXECUTE FUNCTION emission_rollup_report()",
    """
CREATE OR REPLACE FUNCTION emission_rollup_enterprise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.claim_status = 'confirmed' THEN
        PERFORM emission_rollup_move(left(period, 4), OLD.county, OLD.industry, -count(*),
                                     -sum(total_tco2e))
        FROM carbon_report WHERE enterprise_id = OLD.id AND is_current GROUP BY left(period, 4);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.claim_status = 'confirmed' THEN
        PERFORM emission_rollup_move(left(period, 4), NEW.county, NEW.industry, count(*),
                                     sum(total_tco2e))
        FROM carbon_report WHERE enterprise_id = NEW.id AND is_current GROUP BY left(period, 4);
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER emission_rollup_enterprise AFTER DELETE OR UPDATE OF claim_status, county, "
    "industry ON enterprise FOR EACH ROW EXECUTE FUNCTION emission_rollup_enterprise()",
]


def upgrade() -> None:
    op.create_table(
        "trip_rollup",
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("trips", sa.BigInteger(), nullable=False),
        sa.Column("distance_km", sa.Numeric(24, 3), nullable=False),
        sa.Column("reduction_g", sa.Numeric(28, 1), nullable=False),
        sa.PrimaryKeyConstraint("local_day", "mode", "shard"))
    op.create_table(
        "emission_rollup",
        sa.Column("year", sa.String(), nullable=False),
        sa.Column("county", sa.String(), nullable=False),
        sa.Column("industry", sa.String(), nullable=False),
        sa.Column("reports", sa.BigInteger(), nullable=False),
        sa.Column("total_tco2e", sa.Numeric(28, 4), nullable=False),
        sa.PrimaryKeyConstraint("year", "county", "industry"))
    # lock the sources while filling and arming, so no write slips between the two
    op.execute("LOCK TABLE green_trip, carbon_report, enterprise IN SHARE ROW EXCLUSIVE MODE")
    op.execute("INSERT INTO trip_rollup SELECT local_day, mode, 0, count(*), sum(distance_km), "
               "sum(reduction_g) FROM green_trip GROUP BY local_day, mode")
    op.execute("INSERT INTO emission_rollup SELECT left(r.period, 4), e.county, e.industry, "
               "count(*), sum(r.total_tco2e) FROM carbon_report r JOIN enterprise e "
               "ON e.id = r.enterprise_id WHERE r.is_current AND e.claim_status = 'confirmed' "
               "GROUP BY 1, 2, 3")
    for name, (referencing, sources) in OPERATIONS.items():
        op.execute(_trip_function(f"trip_rollup_{name.lower()}", sources))
        op.execute(f"CREATE TRIGGER trip_rollup_{name.lower()} AFTER {name} ON green_trip "
                   f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION trip_rollup_{name.lower()}()")
    for statement in EMISSION:
        op.execute(statement)


def downgrade() -> None:
    for name in OPERATIONS:
        op.execute(f"DROP TRIGGER trip_rollup_{name.lower()} ON green_trip")
        op.execute(f"DROP FUNCTION trip_rollup_{name.lower()}()")
    op.execute("DROP TRIGGER emission_rollup_report ON carbon_report")
    op.execute("DROP TRIGGER emission_rollup_enterprise ON enterprise")
    op.execute("DROP FUNCTION emission_rollup_report()")
    op.execute("DROP FUNCTION emission_rollup_enterprise()")
    op.execute("DROP FUNCTION emission_rollup_move(text, text, text, bigint, numeric)")
    op.drop_table("emission_rollup")
    op.drop_table("trip_rollup")
