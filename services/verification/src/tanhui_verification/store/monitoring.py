"""Monitoring reports, their verification (publishing MonitoringVerified) and their issuance."""
from __future__ import annotations

import uuid

from sqlmodel import Session, select

from tanhui_shared.contracts import CreditsIssued, MonitoringVerified
from tanhui_shared.messaging import record_event
from tanhui_shared.web.auth import Principal
from tanhui_shared.web.problems import Problem

from ..domain.lifecycle import ProjectState, ReportAction, ReportState, next_report_state
from ..domain.rules import (Period, RuleViolation, check_period, check_verified_quantity,
                            claim_tco2e, first_overlap)
from .projects import find_visible_project, lock_project
from .tables import MonitoringReport, Project, Verification
from .timeline import CREDITS_SERVICE, append_step, attach_documents


def file_monitoring_report(session: Session, developer: Principal, project_id: str,
                           filing) -> MonitoringReport:
    # The project lock serialises reports of one project, so two overlapping ones cannot both pass.
    project = lock_project(session, project_id)
    if project.developer_user_id != developer.user_id:
        raise Problem(403, "only the project's developer may report its monitoring")
    if project.state != ProjectState.REGISTERED:
        raise Problem(409, f"only a registered project can report monitoring; this one is "
                      f"{project.state}", field="state", state=project.state)
    period = Period(filing.period_start, filing.period_end)
    check_period(period, project.crediting_start, project.crediting_years)
    claim = claim_tco2e(filing.project_sink_tco2e, filing.baseline_sink_tco2e, filing.leakage_tco2e)
    existing = session.exec(select(MonitoringReport).where(
        MonitoringReport.project_id == project.id,
        MonitoringReport.state != ReportState.REJECTED))
    clash = first_overlap(period, [Period(r.period_start, r.period_end) for r in existing])
    if clash is not None:
        raise Problem(409, f"the period overlaps the reported period {clash.start}..{clash.end}",
                      field="period_start")
    report = MonitoringReport(project_id=project.id, period_start=period.start,
                              period_end=period.end,
                              project_sink_tco2e=filing.project_sink_tco2e,
                              baseline_sink_tco2e=filing.baseline_sink_tco2e,
                              leakage_tco2e=filing.leakage_tco2e, claim_tco2e=claim,
                              state=ReportState.SUBMITTED, submitted_by_user_id=developer.user_id)
    session.add(report)
    session.flush()
    attach_documents(session, project.id, filing.documents, monitoring_report_id=report.id)
    append_step(session, project.id, "monitoring_reported", developer, from_state=None,
                to_state=report.state, monitoring_report_id=report.id,
                comments=f"{period.start}..{period.end}: claim {claim} tCO2e")
    return report


def verify_report(session: Session, verifier: Principal, report_id: str, decision,
                  *, strict_conflicts: bool) -> MonitoringReport:
    report = session.exec(select(MonitoringReport).where(MonitoringReport.id == report_id)
                          .with_for_update()).first()
    if report is None:
        raise Problem(404, f"no monitoring report {report_id}", field="report_id")
    project = session.get(Project, report.project_id)
    assert project is not None
    if project.developer_user_id == verifier.user_id:
        raise Problem(403, "a verifier may not verify their own project (conflict of interest)")
    if strict_conflicts and project.approved_by_user_id == verifier.user_id:
        raise Problem(403, "the reviewer who approved the project's design may not verify its "
                      "monitoring (conflict of interest)")
    action = ReportAction.VERIFY if decision.decision == "verified" else ReportAction.REJECT
    before = report.state
    report.state = next_report_state(before, action)
    verification = Verification(monitoring_report_id=report.id, decision=decision.decision,
                                comments=decision.comments, verifier_user_id=verifier.user_id,
                                verifier_username=verifier.username)
    if action is ReportAction.VERIFY:
        verified = check_verified_quantity(decision.verified_tco2e, report.claim_tco2e)
        report.verified_tco2e = verification.verified_tco2e = verified
        report.issuance_id = str(uuid.uuid4())
        record_event(session, _monitoring_verified(project, report, verification))
    elif decision.verified_tco2e is not None:
        raise RuleViolation("verified_tco2e", "a rejected report carries no verified_tco2e")
    session.add(verification)
    append_step(session, project.id, f"monitoring_{report.state}", verifier, from_state=before,
                to_state=report.state, monitoring_report_id=report.id, comments=decision.comments)
    return report


def _monitoring_verified(project: Project, report: MonitoringReport,
                         verification: Verification) -> MonitoringVerified:
    assert project.project_number is not None and project.buffer_pct is not None
    return MonitoringVerified(
        issuance_id=report.issuance_id, project_id=project.id,
        project_number=project.project_number, project_name=project.name,
        project_kind=project.kind, county=project.county,
        owner_user_id=project.developer_user_id, owner_username=project.developer_username,
        monitoring_report_id=report.id, verification_id=verification.id,
        verifier_user_id=verification.verifier_user_id, period_start=report.period_start,
        period_end=report.period_end, vintage=report.period_end.year,
        verified_tco2e=report.verified_tco2e, buffer_pct=project.buffer_pct,
    )


def mark_issued(session: Session, issued: CreditsIssued) -> bool:
    """Apply CreditsIssued once: a report already issued is left as it is. True if it changed."""
    report = session.exec(select(MonitoringReport)
                          .where(MonitoringReport.issuance_id == issued.issuance_id)
                          .with_for_update()).first()
    if report is None or report.id != issued.monitoring_report_id:
        # Not an issuance this service asked for: an inconsistency to dead-letter, not to ignore.
        raise ValueError(f"no monitoring report {issued.monitoring_report_id} with issuance "
                         f"{issued.issuance_id}")
    if report.state == ReportState.ISSUED:
        return False
    before = report.state
    report.state = next_report_state(before, ReportAction.ISSUE)
    report.issued_quantity = issued.quantity
    report.buffer_quantity = issued.buffer_quantity
    report.serial_first = issued.serial_first
    report.serial_last = issued.serial_last
    report.issued_at = issued.issued_at
    append_step(session, report.project_id, "credits_issued", CREDITS_SERVICE, from_state=before,
                to_state=report.state, monitoring_report_id=report.id,
                comments=f"{issued.quantity} credits {issued.serial_first}..{issued.serial_last}, "
                         f"{issued.buffer_quantity} to the buffer pool")
    return True


def find_visible_report(session: Session, viewer: Principal | None,
                        report_id: str) -> MonitoringReport:
    report = session.get(MonitoringReport, report_id)
    if report is None:
        raise Problem(404, f"no monitoring report {report_id}", field="report_id")
    try:
        find_visible_project(session, viewer, report.project_id)
    except Problem:
        raise Problem(404, f"no monitoring report {report_id}", field="report_id") from None
    return report


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

