from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from .tables import CarbonReport, Enterprise, EnterpriseMember, ReportLineRow, ReportRetirement


def is_member(session: Session, enterprise_id: str, user_id: str) -> bool:
    return session.get(EnterpriseMember, (enterprise_id, user_id)) is not None


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
