"""A verifier's own past decisions, newest first."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tanhui_shared.service import SessionDep

from ..domain.decisions import DecisionKind, decision_kind, outcome_of
from ..store.decisions import DecisionRow, decisions_of
from .deps import Verifier
from .schemas import DecisionPage, DecisionView

router = APIRouter(prefix="/api/v1", tags=["monitoring"])


def decision_view(row: DecisionRow) -> DecisionView:
    entry = row.entry
    kind = decision_kind(entry.monitoring_report_id, entry.loss_event_id)
    subject = {DecisionKind.REVIEW: entry.project_id,
               DecisionKind.VERIFICATION: entry.monitoring_report_id,
               DecisionKind.LOSS: entry.loss_event_id}[kind]
    return DecisionView(kind=kind, decided_at=entry.occurred_at, project_id=entry.project_id,
                        project_name=row.project_name, subject_id=subject,
                        outcome=outcome_of(entry.step), quantity=row.verified_tco2e,
                        comment=entry.comments, accreditation_number=entry.accreditation_number)


@router.get("/verifiers/me/decisions", response_model=DecisionPage)
def my_decisions(verifier: Verifier, session: SessionDep, kind: DecisionKind | None = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> DecisionPage:
    """Reviews, monitoring verifications and loss verifications this verifier decided (also
    after its accreditation ended: the record is its own)."""
    rows, total = decisions_of(session, verifier.user_id, kind, limit=limit, offset=offset)
    return DecisionPage(items=[decision_view(r) for r in rows], total=total, limit=limit,
                        offset=offset)
