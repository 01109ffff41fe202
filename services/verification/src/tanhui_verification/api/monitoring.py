"""Monitoring reports, their verification, and the verifier's work queue."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from tanhui_shared.errors import NotFound
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.idempotency import Idempotency

from ..store import losses as loss_queries
from ..store import monitoring as report_queries
from ..store import projects as project_queries
from ..usecases import monitoring
from ..usecases.accreditation import standing_accreditation
from ..usecases.commands import MonitoringFiling, VerificationIn
from .deps import Bounds, Developer, ProjectId, ReportId, Verifier, Viewer, strict_conflicts
from .schemas import ReportView, VerifierQueue
from .views import loss_view, project_view, report_view

router = APIRouter(prefix="/api/v1", tags=["monitoring"])

StrictConflicts = Annotated[bool, Depends(strict_conflicts)]


@router.post("/projects/{project_id}/monitoring-reports", status_code=201,
             response_model=ReportView)
def file_monitoring_report(project_id: ProjectId, body: MonitoringFiling,
                           developer: Developer, session: SessionDep,
                           idem: Idempotency, bounds: Bounds) -> JSONResponse:
    def operation(uow: UnitOfWork) -> ReportView:
        report = monitoring.file_monitoring_report(uow, developer, project_id, body,
                                                   bounds=bounds)
        return report_view(uow.session, report)

    return idem.execute(session, developer.user_id, operation, status_code=201)


@router.post("/monitoring-reports/{report_id}/verifications", status_code=201,
             response_model=ReportView)
def verify_report(report_id: ReportId, body: VerificationIn, verifier: Verifier,
                  session: SessionDep, idem: Idempotency, strict: StrictConflicts,
                  bounds: Bounds) -> JSONResponse:
    def operation(uow: UnitOfWork) -> ReportView:
        report = monitoring.verify_report(uow, verifier, report_id, body, strict_conflicts=strict,
                                          bounds=bounds)
        return report_view(uow.session, report)

    return idem.execute(session, verifier.user_id, operation, status_code=201)


@router.get("/monitoring-reports/{report_id}", response_model=ReportView)
def get_report(report_id: ReportId, session: SessionDep, viewer: Viewer) -> ReportView:
    report = report_queries.visible_report(session, viewer, report_id)
    if report is None:  # a hidden project's reports answer like missing ones
        raise NotFound(f"no monitoring report {report_id}", field="report_id",
                       code="monitoring-report-not-found")
    return report_view(session, report)


@router.get("/verifiers/queue", response_model=VerifierQueue)
def verifier_queue(verifier: Verifier, session: SessionDep,
                   strict: StrictConflicts) -> VerifierQueue:
    """Projects awaiting design review, reports awaiting verification and losses awaiting a
    decision, minus own conflicts;
    for verifiers accredited today only (a 403 says why otherwise)."""
    standing_accreditation(session, verifier)
    return VerifierQueue(
        projects=[project_view(p) for p in project_queries.awaiting_review(session, verifier)],
        monitoring_reports=[report_view(session, r) for r in
                            report_queries.awaiting_verification(session, verifier,
                                                                 strict_conflicts=strict)],
        loss_events=[loss_view(loss) for loss in
                     loss_queries.awaiting_decision(session, verifier, strict_conflicts=strict)],
    )
