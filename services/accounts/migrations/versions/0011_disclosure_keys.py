"""disclosure sort keys (issue 15): the public disclosures' page as an index range scan

Pages of GET /disclosures sorted a period's ten thousand reports of a city by enterprise name
on every request (the name lives on the enterprise). disclosure_entry holds the sort key of each
disclosed report with an index in page order, kept by triggers (store/disclosure_keys.py says
why and how) and filled here from the data already recorded. A frozen copy of the trigger
statements: later changes to the module do not rewrite this revision.

Revision ID: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DDL = [
    """
CREATE OR REPLACE FUNCTION disclosure_entry_report() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE e record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.is_current THEN
        DELETE FROM disclosure_entry WHERE report_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.is_current THEN
        -- FOR SHARE waits for a confirmation in flight and reads its outcome
        SELECT name, claim_status INTO e FROM enterprise WHERE id = NEW.enterprise_id FOR SHARE;
        IF e.claim_status = 'confirmed' THEN
            INSERT INTO disclosure_entry (report_id, period, name)
            VALUES (NEW.id, NEW.period, e.name);
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
        DELETE FROM disclosure_entry d USING carbon_report r
        WHERE r.enterprise_id = OLD.id AND r.is_current AND d.report_id = r.id;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.claim_status = 'confirmed' THEN
        INSERT INTO disclosure_entry (report_id, period, name)
        SELECT id, period, NEW.name FROM carbon_report
        WHERE enterprise_id = NEW.id AND is_current;
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
    # lock the sources while filling and arming, so no write slips between the two
    op.execute("LOCK TABLE carbon_report, enterprise IN SHARE ROW EXCLUSIVE MODE")
    op.execute("INSERT INTO disclosure_entry (report_id, period, name) "
               "SELECT r.id, r.period, e.name FROM carbon_report r JOIN enterprise e "
               "ON e.id = r.enterprise_id WHERE r.is_current AND e.claim_status = 'confirmed'")
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER disclosure_entry_report ON carbon_report")
    op.execute("DROP TRIGGER disclosure_entry_enterprise ON enterprise")
    op.execute("DROP FUNCTION disclosure_entry_report()")
    op.execute("DROP FUNCTION disclosure_entry_enterprise()")
    op.drop_table("disclosure_entry")
