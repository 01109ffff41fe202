"""Monitoring reports, their verification, and the verifier's work queue."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from tanhui_shared.service import SessionDep
from tanhui_shared.web.idempotency import Idempotency

from ..store import monitoring, projects
from .deps import Developer, Verifier, Viewer, strict_conflicts
from .schemas import MonitoringFiling, ReportView, VerificationIn, VerifierQueue
from .views import project_view, report_view

router = APIRouter(prefix="/api/v1", tags=["monitoring"])

StrictConflicts = Annotated[bool, Depends(strict_conflicts)]


@router.post("/projects/{project_id}/monitoring-reports", status_code=201,
             response_model=ReportView)
def file_monitoring_report(project_id: str, body: MonitoringFiling, developer: Developer,
                           session: SessionDep, idem: Idempotency) -> JSONResponse:
    def operation() -> ReportView:
        report = monitoring.file_monitoring_report(session, developer, project_id, body)
        return report_view(session, report)

    return idem.execute(session, developer.user_id, operation, status_code=201)


@router.post("/monitoring-reports/{report_id}/verifications", status_code=201,
             response_model=ReportView)
def verify_report(report_id: str, body: VerificationIn, verifier: Verifier, session: SessionDep,
                  idem: Idempotency, strict: StrictConflicts) -> JSONResponse:
    def operation() -> ReportView:
        report = monitoring.verify_report(session, verifier, report_id, body, strict_conflicts=strict)
        return report_view(session, report)

    return idem.execute(session, verifier.user_id, operation, status_code=201)


@router.get("/monitoring-reports/{report_id}", response_model=ReportView)
def get_report(report_id: str, session: SessionDep, viewer: Viewer) -> ReportView:
    return report_view(session, monitoring.find_visible_report(session, viewer, report_id))


@router.get("/verifiers/queue", response_model=VerifierQueue)
def verifier_queue(verifier: Verifier, session: SessionDep,
                   strict: StrictConflicts) -> VerifierQueue:
    """Projects awaiting design review and reports awaiting verification, minus own conflicts."""
    return VerifierQueue(
        projects=[project_view(p) for p in projects.awaiting_review(session, verifier)],
        monitoring_reports=[report_view(session, r) for r in
                            monitoring.awaiting_verification(session, verifier,
                                                             strict_conflicts=strict)],
    )
