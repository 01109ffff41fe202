"""Filing a monitoring report, verifying it (MonitoringVerified), and recording its issuance
(from credits' CreditsIssued)."""
from __future__ import annotations

import uuid

from tanhui_shared.contracts import CreditsIssued, MonitoringVerified
from tanhui_shared.errors import Conflict, NotFound
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.auth import Principal

from ..domain.independence import check_developer, check_may_verify
from ..domain.lifecycle import (IllegalTransition, ProjectState, ReportAction, ReportState,
                                next_report_state)
from ..domain.plausibility import PlausibilityBounds, check_period_length, check_plausible
from ..domain.rules import (Period, RuleViolation, check_period, check_verified_quantity,
                            claim_tco2e, first_overlap, is_reversal)
from ..store import monitoring, projects
from ..store.tables import MonitoringReport, Project, Verification
from ..store.timeline import CREDITS_SERVICE, append_step, attach_documents
from .accreditation import accreditation_for_decision
from .commands import MonitoringFiling, VerificationIn
from .losses import record_reversal
from .transitions import apply_transition


def file_monitoring_report(uow: UnitOfWork, developer: Principal, project_id: str,
                           filing: MonitoringFiling, *,
                           bounds: PlausibilityBounds) -> MonitoringReport:
    session = uow.session
    # The project lock queues the project's filings, so the overlap check below sees every
    # earlier one; the exclusion constraint (ex_monitoring_report_period) backs it up.
    project = projects.lock_project(session, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}", field="project_id", code="project-not-found")
    check_developer(project.developer_user_id, developer.user_id, "report its monitoring")
    if project.state != ProjectState.REGISTERED:
        raise Conflict(f"only a registered project can report monitoring; this one is "
                       f"{project.state}", field="state", code="not-registered",
                       state=project.state)
    period = Period(filing.period_start, filing.period_end)
    check_period(period, project.crediting_start, project.crediting_years)
    check_period_length(bounds, period)
    claim = claim_tco2e(filing.project_sink_tco2e, filing.baseline_sink_tco2e, filing.leakage_tco2e)
    if not is_reversal(claim):
        # the net removal claimed, bounded by what the project's area can remove in the period
        # (a reversal is not: a fire can release everything the stand stored)
        check_plausible(bounds, project.vegetation, project.area_ha, period, claim,
                        "project_sink_tco2e")
    clash = first_overlap(period, monitoring.live_periods(session, project.id))
    if clash is not None:
        raise Conflict(f"the period overlaps the reported period {clash.start}..{clash.end}",
                       field="period_start", code="period-overlap")
    report = MonitoringReport(project_id=project.id, period_start=period.start,
                              period_end=period.end,
                              project_sink_tco2e=filing.project_sink_tco2e,
                              baseline_sink_tco2e=filing.baseline_sink_tco2e,
                              leakage_tco2e=filing.leakage_tco2e, claim_tco2e=claim,
                              state=ReportState.SUBMITTED, submitted_by_user_id=developer.user_id)
    session.add(report)
    session.flush()
    attach_documents(session, project.id, [(d.name, d.sha256) for d in filing.documents],
                     monitoring_report_id=report.id)
    what = "reversal" if is_reversal(claim) else "claim"
    append_step(session, project.id, "monitoring_reported", developer, from_state=None,
                to_state=report.state, monitoring_report_id=report.id,
                comments=f"{period.start}..{period.end}: {what} {claim} tCO2e")
    return report


def verify_report(uow: UnitOfWork, verifier: Principal, report_id: str, decision: VerificationIn,
                  *, strict_conflicts: bool, bounds: PlausibilityBounds) -> MonitoringReport:
    """One decision per report: of parallel verifiers exactly one decides (and, if verified,
    stages MonitoringVerified with a fresh issuance id); the others answer 409. Only an
    accredited verifier decides, under the grant the decision records; a verified quantity is
    bounded like the claim (a report filed before the bounds, or under looser ones, is
    checked again here)."""
    session = uow.session
    grant = accreditation_for_decision(uow, verifier)
    report = monitoring.lock_report(session, report_id)
    if report is None:
        raise NotFound(f"no monitoring report {report_id}", field="report_id",
                       code="monitoring-report-not-found")
    project = session.get(Project, report.project_id)
    assert project is not None  # a foreign key
    check_may_verify(project.developer_user_id, project.approved_by_user_id, verifier.user_id,
                     strict=strict_conflicts)
    action = ReportAction.VERIFY if decision.decision == "verified" else ReportAction.REJECT
    after = next_report_state(report.state, action)
    verification = Verification(monitoring_report_id=report.id, decision=decision.decision,
                                comments=decision.comments, verifier_user_id=verifier.user_id,
                                verifier_username=verifier.username,
                                accreditation_id=grant.accreditation_id,
                                accreditation_number=grant.number)
    outcome = {}
    reversal = is_reversal(report.claim_tco2e)
    if action is ReportAction.VERIFY:
        verification.verified_tco2e = check_verified_quantity(decision.verified_tco2e,
                                                              report.claim_tco2e)
        period = Period(report.period_start, report.period_end)
        check_period_length(bounds, period)
        if reversal:  # issues nothing: the loss is compensated instead (below)
            outcome = {"verified_tco2e": verification.verified_tco2e}
        else:
            check_plausible(bounds, project.vegetation, project.area_ha, period,
                            verification.verified_tco2e, "verified_tco2e")
            outcome = {"verified_tco2e": verification.verified_tco2e,
                       "issuance_id": str(uuid.uuid4())}
    elif decision.verified_tco2e is not None:
        raise RuleViolation("verified_tco2e", "a rejected report carries no verified_tco2e")
    before = apply_transition(session, report, action, after, **outcome)
    session.add(verification)
    session.flush()  # one decision per report (verification_monitoring_report_id_key), checked now
    append_step(session, project.id, f"monitoring_{after}", verifier, from_state=before,
                to_state=after, monitoring_report_id=report.id, comments=decision.comments,
                accreditation=grant)
    if action is ReportAction.VERIFY and reversal:
        record_reversal(uow, project, report, verification, grant)
    elif action is ReportAction.VERIFY:
        uow.emit(_monitoring_verified(project, report, verification))
    return report


def _monitoring_verified(project: Project, report: MonitoringReport,
                         verification: Verification) -> MonitoringVerified:
    assert project.project_number is not None and project.buffer_pct is not None
    assert report.issuance_id is not None and report.verified_tco2e is not None
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


def record_issuance(uow: UnitOfWork, issued: CreditsIssued) -> bool:
    """Mark the report issued, once: a report already issued is left as it is (a redelivery, or
    a second event for the same issuance). True if it changed."""
    session = uow.session
    report = monitoring.lock_report_by_issuance(session, issued.issuance_id)
    if report is None or report.id != issued.monitoring_report_id:
        # Not an issuance this service asked for: an inconsistency to dead-letter, not to ignore.
        raise NotFound(f"no monitoring report {issued.monitoring_report_id} with issuance "
                       f"{issued.issuance_id}", field="issuance_id",
                       code="monitoring-report-not-found")
    if report.state == ReportState.ISSUED:
        return False
    after = next_report_state(report.state, ReportAction.ISSUE)
    try:
        before = apply_transition(session, report, ReportAction.ISSUE, after,
                                  issued_quantity=issued.quantity,
                                  buffer_quantity=issued.buffer_quantity,
                                  serial_first=issued.serial_first,
                                  serial_last=issued.serial_last, issued_at=issued.issued_at)
    except IllegalTransition as refused:
        if refused.state == ReportState.ISSUED:
            return False  # issued meanwhile by a parallel delivery: as above, nothing to do
        raise
    append_step(session, report.project_id, "credits_issued", CREDITS_SERVICE, from_state=before,
                to_state=after, monitoring_report_id=report.id,
                comments=f"{issued.quantity} credits {issued.serial_first}..{issued.serial_last}, "
                         f"{issued.buffer_quantity} to the buffer pool")
    return True
