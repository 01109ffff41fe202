"""Credits' projection of enterprise reports (from `ReportFiled`): which revision is current."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .tables import FiledReport


def lock_period(session: Session, enterprise_id: str, period: str) -> list[FiledReport]:
    """Every known revision of the period, locked in id order: revisions of one period arriving
    at once queue here (the first ones of a period, with nothing to lock yet, meet at the
    partial unique key `uq_filed_report_current` instead)."""
    return list(session.exec(select(FiledReport).where(FiledReport.enterprise_id == enterprise_id)
                             .where(FiledReport.period == period)
                             .order_by(col(FiledReport.id)).with_for_update()
                             .execution_options(populate_existing=True)).all())


def retire_others(session: Session, enterprise_id: str, period: str, report_id: str) -> None:
    """The period's other revisions stop being current (before the new one is written as
    current, so the partial unique key never sees two)."""
    t = FiledReport.__table__
    session.execute(sa.update(t).where(t.c.enterprise_id == enterprise_id)
                    .where(t.c.period == period).where(t.c.id != report_id).where(t.c.is_current)
                    .values(is_current=False))


def report_for_retirement(session: Session, report_id: str) -> FiledReport | None:
    """The report, share-locked until commit: a revision arriving meanwhile must wait to
    supersede it (so a retirement checked against a current revision commits before it stops
    being current), and a retirement that waited sees the supersession."""
    return session.exec(select(FiledReport).where(FiledReport.id == report_id)
                        .with_for_update(read=True)
                        .execution_options(populate_existing=True)).first()


def current_revision(session: Session, enterprise_id: str, period: str) -> FiledReport | None:
    return session.exec(select(FiledReport).where(FiledReport.enterprise_id == enterprise_id)
                        .where(FiledReport.period == period)
                        .where(col(FiledReport.is_current))).first()
