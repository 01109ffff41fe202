"""The public disclosures, a page at a time: one statement for the page's keys, reports,
enterprises and retirements, read as plain rows.

Why one statement of plain rows: a page of 200 was four round trips (keys; the reports and
enterprises as ORM objects by an IN list of 200 ids, a new statement text for psycopg each time;
the retirements by (enterprise, period) pairs; the total), and loading 400 ORM objects cost more
than the database did. The keys' range scan, the joins and a lateral lookup of each report's
period retirements take a few milliseconds in PostgreSQL in one statement.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session

from .disclosure_keys import DisclosureEntry, DisclosurePeriod
from .rollups import EmissionRollup
from .tables import CarbonReport, Enterprise, ReportRetirement

SortKey = tuple[str, str, str]  # (period, name, report id): the page order


@dataclass(frozen=True, slots=True)
class PeriodRetirement:
    """Credits retired for a disclosed report's period, and the revision the retirement named."""
    retirement_id: str
    report_id: str
    revision: int
    quantity: int
    certificate_id: str
    retired_at: datetime


@dataclass(frozen=True, slots=True)
class DisclosedReport:
    enterprise: str
    uscc: str
    county: str
    industry: str
    period: str
    revision: int
    report_id: str
    gross_tco2e: Decimal
    filed_at: datetime
    retirements: list[PeriodRetirement]


def _keys(conditions: list, cursor: bool):
    """The page's (report id, period, name), at most :limit + 1 of them (one more says that more
    follow), in page order: an index range of disclosure_entry."""
    d = DisclosureEntry.__table__
    order = (d.c.period.desc(), d.c.name, d.c.report_id)
    if not cursor:
        return (sa.select(d.c.report_id, d.c.period, d.c.name).where(*conditions)
                .order_by(*order).limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
                .subquery("k"))
    # the order mixes directions, which a row comparison cannot express: the rest of the
    # cursor's period, then the older periods, each a range scan of at most a page; the outer
    # sort orders those few rows (UNION ALL does not promise to keep its branches')
    rest = (sa.select(d.c.report_id, d.c.period, d.c.name)
            .where(*conditions, d.c.period == sa.bindparam("after_period"),
                   sa.tuple_(d.c.name, d.c.report_id)
                   > sa.tuple_(sa.bindparam("after_name"), sa.bindparam("after_id")))
            .order_by(d.c.name, d.c.report_id).limit(sa.bindparam("limit")))
    older = (sa.select(d.c.report_id, d.c.period, d.c.name)
             .where(*conditions, d.c.period < sa.bindparam("after_period"))
             .order_by(*order).limit(sa.bindparam("limit")))
    both = sa.union_all(rest, older).subquery()
    return (sa.select(both.c.report_id, both.c.period, both.c.name)
            .order_by(both.c.period.desc(), both.c.name, both.c.report_id)
            .limit(sa.bindparam("limit")).subquery("k"))


@functools.cache
def _page_statement(by_period: bool, by_year: bool, year_end: bool, cursor: bool) -> sa.Select:
    """The page in one statement, built once per shape (building it cost more than running
    it); its values are bound parameters."""
    d = DisclosureEntry.__table__
    conditions = []
    if by_period:
        conditions.append(d.c.period == sa.bindparam("period"))
    if by_year:
        # periods start with their year; the range bounds the index scan (a prefix match alone
        # would be a filter over every period), the prefix keeps it exact in any collation
        conditions += [d.c.period >= sa.bindparam("year"),
                       d.c.period.startswith(sa.bindparam("year"))]
        if year_end:  # 9999 has no next year
            conditions.append(d.c.period < sa.bindparam("year_end"))
    k = _keys(conditions, cursor)
    r, e = CarbonReport.__table__, Enterprise.__table__
    named, rr = CarbonReport.__table__.alias("named"), ReportRetirement.__table__
    retired = (sa.select(rr.c.retirement_id, rr.c.report_id, named.c.revision, rr.c.quantity,
                         rr.c.certificate_id, rr.c.retired_at)
               .join_from(named, rr, rr.c.report_id == named.c.id)
               .where(named.c.enterprise_id == r.c.enterprise_id, named.c.period == r.c.period)
               .lateral("x"))
    return (sa.select(_total(by_period, by_year).scalar_subquery().label("total"),
                      k.c.report_id, k.c.period, k.c.name.label("key_name"), r.c.revision,
                      r.c.total_tco2e, r.c.filed_at, e.c.name, e.c.uscc, e.c.county,
                      e.c.industry, retired.c.retirement_id,
                      retired.c.report_id.label("retired_report_id"),
                      retired.c.revision.label("retired_revision"), retired.c.quantity,
                      retired.c.certificate_id, retired.c.retired_at)
            .select_from(k.join(r, r.c.id == k.c.report_id).join(e, e.c.id == r.c.enterprise_id)
                         .outerjoin(retired, sa.true()))
            .order_by(k.c.period.desc(), k.c.name, k.c.report_id, retired.c.retired_at,
                      retired.c.retirement_id))


def disclosure_page(session: Session, period: str | None = None, year: str | None = None, *,
                    limit: int, offset: int = 0, after: SortKey | None = None
                    ) -> tuple[int, list[DisclosedReport], SortKey | None]:
    """Current reports of confirmed enterprises only (disclosure_entry holds exactly those),
    newest period first, then by name (ids break ties between namesakes so pages never
    overlap), with how many there are in all and the last row's key when more follow.
    `year`: every period of it (2025, 2025-Q1, 2025-03). `after`: the key the previous page
    ended on; the page is then a range of disclosure_entry's index however deep it is.
    Each report comes with every retirement made for its enterprise and period, whichever
    revision it named (they follow the period's corrections), oldest first."""
    values: dict = {"limit": limit + 1}
    if period:
        values["period"] = period
    if year:
        values.update(year=year, year_end=str(int(year) + 1).zfill(4))
    if after is None:
        values["offset"] = offset
    else:
        values.update(after_period=after[0], after_name=after[1], after_id=after[2])
    statement = _page_statement(bool(period), bool(year), bool(year) and year != "9999",
                                after is not None)
    rows = session.execute(statement, values).all()
    if not rows:
        return int(session.execute(_total(bool(period), bool(year)), values).scalar_one()), [], None
    page: list[DisclosedReport] = []
    keys: list[SortKey] = []
    for row in rows:  # a report with several retirements comes once per retirement
        if not keys or keys[-1][2] != row.report_id:
            keys.append((row.period, row.key_name, row.report_id))
            page.append(DisclosedReport(row.name, row.uscc, row.county, row.industry,
                                        row.period, row.revision, row.report_id,
                                        row.total_tco2e, row.filed_at, []))
        if row.retirement_id is not None:
            page[-1].retirements.append(PeriodRetirement(
                row.retirement_id, row.retired_report_id, row.retired_revision, row.quantity,
                row.certificate_id, row.retired_at))
    # the cursor is the index's own key of the page's last row (what the next page starts after)
    last = keys[limit - 1] if len(keys) > limit else None
    return int(rows[0].total), page[:limit], last


def _total(by_period: bool, by_year: bool) -> sa.Select:
    """How many reports the disclosures hold: without an exact period, from the emission rollup
    the report and enterprise triggers keep (it counts exactly these reports per year of their
    period), so a year's page never counts ten thousand rows; an exact period's from
    disclosure_period, kept by the triggers that keep the sort keys."""
    if not by_period:
        t = EmissionRollup.__table__
        query = sa.select(sa.func.coalesce(sa.func.sum(t.c.reports), 0))
        return query.where(t.c.year == sa.bindparam("year")) if by_year else query
    c = DisclosurePeriod.__table__
    return (sa.select(sa.func.coalesce(sa.func.sum(c.c.reports), 0))
            .where(c.c.period == sa.bindparam("period")))
