"""City figures kept as rollups, updated by triggers in the writing transaction itself.

Why triggers: they cover every write path (the API, the consumer, transit operators' COPY, a bulk
load, an operator's SQL), so the city page never scans 20 million trips and never drifts.
- green_trip -> trip_rollup: one statement-level trigger per statement (transition tables), so a
  10,000-trip COPY costs one grouped upsert. The row of a (day, mode) is hot under many writers,
  so each transaction adds to one of TRIP_SHARDS rows (by its transaction id); readers sum them.
- carbon_report / enterprise -> emission_rollup: filed emissions of current revisions of
  confirmed enterprises per (year, county, industry). A report's row trigger locks its
  enterprise FOR SHARE so a concurrent confirmation (whose trigger re-reads the reports) is
  never missed by both.
The migration (0010) holds a frozen copy of these statements; the models carry these to
create_all.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, Session

from .tables import AccountsTable, CarbonReport, Enterprise, GreenTrip

TRIP_SHARDS = 4


class TripRollup(AccountsTable, table=True):
    """Trips, distance and avoided CO2 per city day and mode (summed over shards)."""

    __tablename__ = "trip_rollup"

    local_day: date = Field(primary_key=True)
    mode: str = Field(primary_key=True)
    shard: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    trips: int = Field(sa_type=sa.BigInteger)
    distance_km: Decimal = Field(sa_type=sa.Numeric(24, 3))
    reduction_g: Decimal = Field(sa_type=sa.Numeric(28, 1))


class EmissionRollup(AccountsTable, table=True):
    """Current reports of confirmed enterprises per year of their period, county and industry."""

    __tablename__ = "emission_rollup"

    year: str = Field(primary_key=True)
    county: str = Field(primary_key=True)
    industry: str = Field(primary_key=True)
    reports: int = Field(sa_type=sa.BigInteger)
    total_tco2e: Decimal = Field(sa_type=sa.Numeric(28, 4))



def _delta(sources: list[tuple[str, int]], columns: str, amounts: list[str]) -> str:
    """The rows' contributions: + for the new side, - for the old side of a statement."""
    return "\n        UNION ALL\n".join(
        f"        SELECT {columns}, " + ", ".join(f"{sign} * ({a})" for a in amounts)
        + f" FROM {table}" for table, sign in sources)


def _trip_function(name: str, sources: list[tuple[str, int]]) -> str:
    delta = _delta(sources, "local_day, mode", ["1", "distance_km", "reduction_g"])
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- one upsert per statement, rows in key order so concurrent writers lock them alike
    INSERT INTO trip_rollup AS r (local_day, mode, shard, trips, distance_km, reduction_g)
    SELECT local_day, mode, (txid_current() % {TRIP_SHARDS})::smallint, sum(n), sum(d), sum(g)
    FROM (
{delta}
    ) AS delta (local_day, mode, n, d, g)
    GROUP BY local_day, mode ORDER BY local_day, mode
    ON CONFLICT (local_day, mode, shard) DO UPDATE
    SET trips = r.trips + EXCLUDED.trips, distance_km = r.distance_km + EXCLUDED.distance_km,
        reduction_g = r.reduction_g + EXCLUDED.reduction_g;
    RETURN NULL;
END $$"""


# A transition table exists only for the operations that have that side, so each operation has
# its own function and trigger. Trips are only inserted today; corrections by UPDATE or DELETE
# (an operator's SQL included) are counted too.
_TRIP_OPERATIONS = {
    "INSERT": ("REFERENCING NEW TABLE AS new_rows", [("new_rows", 1)]),
    "UPDATE": ("REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
               [("new_rows", 1), ("old_rows", -1)]),
    "DELETE": ("REFERENCING OLD TABLE AS old_rows", [("old_rows", -1)]),
}
TRIP_DDL = [statement for op, (referencing, sources) in _TRIP_OPERATIONS.items() for statement in (
    _trip_function(f"trip_rollup_{op.lower()}", sources),
    f"CREATE TRIGGER trip_rollup_{op.lower()} AFTER {op} ON green_trip {referencing} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION trip_rollup_{op.lower()}()")]

EMISSION_DDL = [
    """
CREATE OR REPLACE FUNCTION emission_rollup_move(y text, c text, i text, n bigint, t numeric)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO emission_rollup AS r (year, county, industry, reports, total_tco2e)
    VALUES (y, c, i, n, t)
    ON CONFLICT (year, county, industry) DO UPDATE
    SET reports = r.reports + EXCLUDED.reports, total_tco2e = r.total_tco2e + EXCLUDED.total_tco2e
$$""",
    # a report counts while it is current and its enterprise confirmed
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
        -- FOR SHARE waits for a confirmation in flight and reads its outcome
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
    # an enterprise confirmed, rejected or moved takes its current reports with it
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

ROLLUP_DDL = TRIP_DDL + EMISSION_DDL
_WITH_TRIGGERS = {GreenTrip.__table__.name, CarbonReport.__table__.name, Enterprise.__table__.name}


@sa.event.listens_for(AccountsTable.metadata, "after_create")
def _create_triggers(target, connection, **_) -> None:
    # create_all (a database built from the models) gets the triggers the migration creates
    created = {t.name for t in target.sorted_tables}
    if {TripRollup.__tablename__, EmissionRollup.__tablename__} | _WITH_TRIGGERS <= created:
        for statement in ROLLUP_DDL:
            connection.execute(sa.text(statement))


def trips_by_mode(session: Session, year: int) -> list[tuple[str, int, object, object]]:
    """(mode, trips, distance_km, reduction_g) of the year's city days, from the rollup."""
    if year < 1:  # no city day in year 0 (the API takes any four digits)
        return []
    t = TripRollup.__table__
    return list(session.execute(
        sa.select(t.c.mode, sa.func.sum(t.c.trips), sa.func.sum(t.c.distance_km),
                  sa.func.sum(t.c.reduction_g))
        .where(t.c.local_day.between(date(year, 1, 1), date(year, 12, 31)))
        .group_by(t.c.mode).having(sa.func.sum(t.c.trips) > 0).order_by(t.c.mode)).all())


def emissions_by(session: Session, year: str, column: str) -> list[tuple[str, int, object]]:
    """(county or industry, reports, total tCO2e) of the year, from the rollup."""
    t = EmissionRollup.__table__
    key = t.c[column]
    return list(session.execute(
        sa.select(key, sa.func.sum(t.c.reports), sa.func.sum(t.c.total_tco2e))
        .where(t.c.year == year).group_by(key).having(sa.func.sum(t.c.reports) > 0)
        .order_by(key)).all())
