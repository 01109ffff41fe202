"""Table rows -> response bodies."""
from __future__ import annotations

from sqlmodel import Session

from ..domain.rules import crediting_end
from ..store.losses import losses_of
from ..store.monitoring import reports_of, verification_of
from ..store.tables import LossEvent, MonitoringReport, Project
from ..store.timeline import documents_of, timeline_of
from .schemas import (DocumentView, LossView, ProjectDetail, ProjectView, ReportView,
                      TimelineView)


def project_view(project: Project) -> ProjectView:
    return ProjectView.model_validate(
        {**project.model_dump(),
         "crediting_end": crediting_end(project.crediting_start, project.crediting_years)})


def report_view(session: Session, report: MonitoringReport) -> ReportView:
    docs = documents_of(session, report.project_id, report.id)
    decision = verification_of(session, report.id)
    decided = {} if decision is None else {
        "verifier_username": decision.verifier_username,
        "accreditation_id": decision.accreditation_id,
        "accreditation_number": decision.accreditation_number}
    return ReportView.model_validate(
        {**report.model_dump(), "vintage": report.period_end.year,
         "reversal": report.claim_tco2e < 0, **decided,
         "documents": [DocumentView(name=d.name, sha256=d.sha256) for d in docs]})


def project_detail(session: Session, project: Project) -> ProjectDetail:
    return ProjectDetail.model_validate({
        **project_view(project).model_dump(),
        "documents": [DocumentView(name=d.name, sha256=d.sha256)
                      for d in documents_of(session, project.id)],
        "timeline": [TimelineView.model_validate(e.model_dump()) for e in timeline_of(session, project.id)],
        "monitoring_reports": [report_view(session, r) for r in reports_of(session, project.id)],
        "loss_events": [loss_view(loss) for loss in losses_of(session, project.id)],
    })


def loss_view(loss: LossEvent) -> LossView:
    return LossView.model_validate(loss.model_dump())
