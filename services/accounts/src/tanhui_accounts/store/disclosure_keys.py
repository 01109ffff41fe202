"""The public disclosures' sort keys, kept by triggers so a page is an index range scan.

The disclosures are ordered newest period first, then by enterprise name, then report id; the
name lives on the enterprise, so no index of carbon_report can serve that order and every page
sorted the period's ten thousand rows. disclosure_entry holds (period, name, report id) of each
current report of a confirmed enterprise, exactly the rows disclosed, with one index in the
page order. Triggers keep it in the writing transaction (every write path, as store/rollups.py
explains); a report's trigger locks its enterprise FOR SHARE so a confirmation in flight is seen
by one of the two. The migration (0011) holds a frozen copy of these statements.

A period's total is kept beside them by the same triggers in disclosure_period (counting a
city's period was a scan of ten thousand keys per page); each transaction adds to one of
PERIOD_SHARDS rows of the period (by its transaction id), so a quarter's filings do not queue
on one hot row; readers sum them.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field

from .tables import AccountsTable, CarbonReport, Enterprise


class DisclosureEntry(AccountsTable, table=True):
    """One disclosed report's sort key (the triggers below are its only writers)."""

    __tablename__ = "disclosure_entry"
    __table_args__ = (
        # the page order itself: a page (and a period's count) is a range of this index
        sa.Index("ix_disclosure_entry_order", sa.text("period DESC"), "name", "report_id"),
    )

    report_id: str = Field(primary_key=True)
    period: str
    name: str


PERIOD_SHARDS = 4


class DisclosurePeriod(AccountsTable, table=True):
    """How many disclosure_entry rows each period has (summed over shards)."""

    __tablename__ = "disclosure_period"

    period: str = Field(primary_key=True)
    shard: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    reports: int = Field(sa_type=sa.BigInteger)


DISCLOSURE_DDL = [
    f"""
CREATE OR REPLACE FUNCTION disclosure_period_move(p text, n bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO disclosure_period AS c (period, shard, reports)
    VALUES (p, (txid_current() % {PERIOD_SHARDS})::smallint, n)
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
    # an enterprise confirmed, rejected or renamed takes its current reports' keys with it
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
_WITH_TRIGGERS = {CarbonReport.__table__.name, Enterprise.__table__.name}


@sa.event.listens_for(AccountsTable.metadata, "after_create")
def _create_triggers(target, connection, **_) -> None:
    # create_all (a database built from the models) gets the triggers the migration creates
    created = {t.name for t in target.sorted_tables}
    if {DisclosureEntry.__tablename__, DisclosurePeriod.__tablename__} | _WITH_TRIGGERS <= created:
        for statement in DISCLOSURE_DDL:
            connection.execute(sa.text(statement))
