"""Queries on monitoring reports."""
from __future__ import annotations

from sqlmodel import Session, select

from tanhui_shared.web.auth import Principal

from ..domain.lifecycle import ReportState
from ..domain.rules import Period
from .projects import visible_to
from .tables import MonitoringReport, Project, Verification


def lock_report(session: Session, report_id: str) -> MonitoringReport | None:
    """The report row, locked until the transaction ends: its verification and its issuance
    queue up here (FOR NO KEY UPDATE: its verification row may still reference it)."""
    query = (select(MonitoringReport).where(MonitoringReport.id == report_id)
             .with_for_update(key_share=True))
    return session.exec(query).first()


def lock_report_by_issuance(session: Session, issuance_id: str) -> MonitoringReport | None:
    query = (select(MonitoringReport).where(MonitoringReport.issuance_id == issuance_id)
             .with_for_update(key_share=True))
    return session.exec(query).first()


def live_periods(session: Session, project_id: str) -> list[Period]:
    """The periods already reported for the project; a rejected report frees its period."""
    query = select(MonitoringReport.period_start, MonitoringReport.period_end).where(
        MonitoringReport.project_id == project_id, MonitoringReport.state != ReportState.REJECTED)
    return [Period(start, end) for start, end in session.exec(query)]


def visible_report(session: Session, viewer: Principal | None,
                   report_id: str) -> MonitoringReport | None:
    """A report is visible with its project; None for a missing one and a hidden one alike."""
    query = (select(MonitoringReport).join(Project, Project.id == MonitoringReport.project_id)
             .where(MonitoringReport.id == report_id, visible_to(viewer)))
    return session.exec(query).first()


def verification_of(session: Session, report_id: str) -> Verification | None:
    """The report's decision, if one was made."""
    query = select(Verification).where(Verification.monitoring_report_id == report_id)
    return session.exec(query).first()


def reports_of(session: Session, project_id: str) -> list[MonitoringReport]:
    query = select(MonitoringReport).where(MonitoringReport.project_id == project_id)
    return list(session.exec(query.order_by(MonitoringReport.period_start)))


def awaiting_verification(session: Session, verifier: Principal, *,
                          strict_conflicts: bool) -> list[MonitoringReport]:
    conditions = [MonitoringReport.state == ReportState.SUBMITTED,
                  Project.developer_user_id != verifier.user_id]
    if strict_conflicts:
        conditions.append(Project.approved_by_user_id != verifier.user_id)
    query = (select(MonitoringReport).join(Project, Project.id == MonitoringReport.project_id)
             .where(*conditions).order_by(MonitoringReport.created_at, MonitoringReport.id))
    return list(session.exec(query))
