from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from ..domain.reports import ReportLine
from .tables import CarbonReport, Enterprise, EnterpriseMember, ReportLineRow, ReportRetirement


def is_member(session: Session, enterprise_id: str, user_id: str) -> bool:
    return session.get(EnterpriseMember, (enterprise_id, user_id)) is not None


def uscc_registered(session: Session, uscc: str) -> bool:
    return session.exec(select(Enterprise.id).where(Enterprise.uscc == uscc)).first() is not None


def current_report(session: Session, enterprise_id: str, period: str) -> CarbonReport | None:
    return session.exec(select(CarbonReport).where(CarbonReport.enterprise_id == enterprise_id)
                        .where(CarbonReport.period == period)
                        .where(col(CarbonReport.is_current))).first()


def supersede(session: Session, report_id: str) -> bool:
    """Mark a report no longer current, once: the update is conditional, and its row count says
    whether this request is the one that superseded it (a parallel revision finds 0 rows)."""
    t = CarbonReport.__table__
    done = session.execute(sa.update(t).where(t.c.id == report_id).where(t.c.is_current)
                           .values(is_current=False))
    return done.rowcount == 1


def add_lines(session: Session, report_id: str, lines: tuple[ReportLine, ...]) -> None:
    for n, line in enumerate(lines, start=1):
        session.add(ReportLineRow(report_id=report_id, line_no=n, factor_code=line.factor.code,
                                  factor_version=line.factor.version, factor_value=line.factor.value,
                                  factor_unit=line.factor.unit, factor_source=line.factor.source,
                                  scope=line.factor.scope, quantity=line.quantity, unit=line.unit,
                                  tco2e=line.tco2e, derivation=line.derivation))


def add_retirement(session: Session, retirement_id: str, report_id: str, quantity: int,
                   certificate_id: str, retired_at: datetime) -> None:
    """Once per retirement id, however often credits' event arrives."""
    t = ReportRetirement.__table__
    session.execute(postgresql.insert(t).values(
        retirement_id=retirement_id, report_id=report_id, quantity=quantity,
        certificate_id=certificate_id, retired_at=retired_at).on_conflict_do_nothing())


def member_ids(session: Session, enterprise_id: str) -> list[str]:
    return list(session.exec(select(EnterpriseMember.user_id)
                             .where(EnterpriseMember.enterprise_id == enterprise_id)).all())


def report_revisions(session: Session, enterprise_id: str, period: str) -> list[CarbonReport]:
    return list(session.exec(select(CarbonReport).where(CarbonReport.enterprise_id == enterprise_id)
                             .where(CarbonReport.period == period)
                             .order_by(col(CarbonReport.revision))).all())


def reports_of(session: Session, enterprise_id: str) -> list[CarbonReport]:
    return list(session.exec(select(CarbonReport).where(CarbonReport.enterprise_id == enterprise_id)
                             .order_by(col(CarbonReport.period).desc(),
                                       col(CarbonReport.revision).desc())).all())


def lines_of(session: Session, report_id: str) -> list[ReportLineRow]:
    return list(session.exec(select(ReportLineRow).where(ReportLineRow.report_id == report_id)
                             .order_by(col(ReportLineRow.line_no))).all())


def retired_against(session: Session, report_ids: list[str]) -> dict[str, int]:
    if not report_ids:
        return {}
    rows = session.exec(select(ReportRetirement.report_id, func.sum(ReportRetirement.quantity))
                        .where(col(ReportRetirement.report_id).in_(report_ids))
                        .group_by(ReportRetirement.report_id)).all()
    return {report_id: int(total) for report_id, total in rows}


def current_reports(session: Session, period: str | None = None):
    query = (select(CarbonReport, Enterprise)
             .join(Enterprise, col(Enterprise.id) == col(CarbonReport.enterprise_id))
             .where(col(CarbonReport.is_current)))
    if period:
        query = query.where(CarbonReport.period == period)
    return session.exec(query.order_by(col(CarbonReport.period).desc(), col(Enterprise.name))).all()
