"""disclosure sort keys (issue 15): the public disclosures' page as an index range scan

Pages of GET /disclosures sorted a period's ten thousand reports of a city by enterprise name
on every request (the name lives on the enterprise). disclosure_entry holds the sort key of each
disclosed report with an index in page order, and disclosure_period each period's count, kept by
triggers (store/disclosure_keys.py says
why and how) and filled here from the data already recorded. A frozen copy of the trigger
statements: later changes to the module do not rewrite this revision.

Revision ID: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SHARDS = 4

DDL = [
    f"""
CREATE OR REPLACE FUNCTION disclosure_period_move(p text, n bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO disclosure_period AS c (period, shard, reports)
    VALUES (p, (txid_current() % {SHARDS})::smallint, n)
    ON CONFLICT (period, shard) DO UPDATE SET reports = c.reports + EXCLUDED.reports
$$""",
    """
CREATE OR REPLACE FUNCTION disclosure_entry_report() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE e record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.is_current THEN
        DELETE FROM disclosure_entry WHERE report_id = OLD.id;
        IF FOUND THEN
            PERFORM disclosure_period_move(OLD.period, -1);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.is_current THEN
        -- FOR SHARE waits for a confirmation in flight and reads its outcome
        SELECT name, claim_status INTO e FROM enterprise WHERE id = NEW.enterprise_id FOR SHARE;
        IF e.claim_status = 'confirmed' THEN
            INSERT INTO disclosure_entry (report_id, period, name)
            VALUES (NEW.id, NEW.period, e.name);
            PERFORM disclosure_period_move(NEW.period, 1);
        END IF;
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER disclosure_entry_report AFTER INSERT OR DELETE OR UPDATE OF is_current, "
    "period, enterprise_id ON carbon_report "
    "FOR EACH ROW EXECUTE FUNCTION disclosure_entry_report()",
    """
CREATE OR REPLACE FUNCTION disclosure_entry_enterprise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.claim_status = 'confirmed' THEN
        PERFORM disclosure_period_move(d.period, -count(*)) FROM disclosure_entry d
        JOIN carbon_report r ON r.id = d.report_id
        WHERE r.enterprise_id = OLD.id AND r.is_current GROUP BY d.period ORDER BY d.period;
        DELETE FROM disclosure_entry d USING carbon_report r
        WHERE r.enterprise_id = OLD.id AND r.is_current AND d.report_id = r.id;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.claim_status = 'confirmed' THEN
        INSERT INTO disclosure_entry (report_id, period, name)
        SELECT id, period, NEW.name FROM carbon_report
        WHERE enterprise_id = NEW.id AND is_current;
        PERFORM disclosure_period_move(period, count(*)) FROM carbon_report
        WHERE enterprise_id = NEW.id AND is_current GROUP BY period ORDER BY period;
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER disclosure_entry_enterprise AFTER DELETE OR UPDATE OF claim_status, name "
    "ON enterprise FOR EACH ROW EXECUTE FUNCTION disclosure_entry_enterprise()",
]


def upgrade() -> None:
    op.create_table(
        "disclosure_entry",
        sa.Column("report_id", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("report_id"))
    op.create_index("ix_disclosure_entry_order", "disclosure_entry",
                    [sa.text("period DESC"), "name", "report_id"])
    op.create_table(
        "disclosure_period",
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("reports", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period", "shard"))
    # lock the sources while filling and arming, so no write slips between the two
    op.execute("LOCK TABLE carbon_report, enterprise IN SHARE ROW EXCLUSIVE MODE")
    op.execute("INSERT INTO disclosure_entry (report_id, period, name) "
               "SELECT r.id, r.period, e.name FROM carbon_report r JOIN enterprise e "
               "ON e.id = r.enterprise_id WHERE r.is_current AND e.claim_status = 'confirmed'")
    op.execute("INSERT INTO disclosure_period SELECT period, 0, count(*) FROM disclosure_entry "
               "GROUP BY period")
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER disclosure_entry_report ON carbon_report")
    op.execute("DROP TRIGGER disclosure_entry_enterprise ON enterprise")
    op.execute("DROP FUNCTION disclosure_entry_report()")
    op.execute("DROP FUNCTION disclosure_entry_enterprise()")
    op.execute("DROP FUNCTION disclosure_period_move(text, bigint)")
    op.drop_table("disclosure_period")
    op.drop_table("disclosure_entry")
