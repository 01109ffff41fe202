"""Loss events: the developer reports one, an accredited verifier confirms or rejects it, and
anyone who may see the project reads it with its compensation."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from tanhui_shared.errors import NotFound
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.idempotency import Idempotency

from ..store import losses as loss_queries
from ..usecases import losses
from ..usecases.commands import LossDecisionIn, LossFiling
from .deps import Developer, LossId, ProjectId, Verifier, Viewer, strict_conflicts
from .schemas import LossView
from .views import loss_view

router = APIRouter(prefix="/api/v1", tags=["loss events"])

StrictConflicts = Annotated[bool, Depends(strict_conflicts)]


@router.post("/projects/{project_id}/loss-events", status_code=201, response_model=LossView)
def report_loss(project_id: ProjectId, body: LossFiling, developer: Developer,
                session: SessionDep, idem: Idempotency) -> JSONResponse:
    def operation(uow: UnitOfWork) -> LossView:
        return loss_view(losses.report_loss(uow, developer, project_id, body))

    return idem.execute(session, developer.user_id, operation, status_code=201)


@router.post("/loss-events/{loss_id}/verifications", status_code=201, response_model=LossView)
def decide_loss(loss_id: LossId, body: LossDecisionIn, verifier: Verifier, session: SessionDep,
                idem: Idempotency, strict: StrictConflicts) -> JSONResponse:
    def operation(uow: UnitOfWork) -> LossView:
        return loss_view(losses.decide_loss(uow, verifier, loss_id, body,
                                            strict_conflicts=strict))

    return idem.execute(session, verifier.user_id, operation, status_code=201)


@router.get("/loss-events/{loss_id}", response_model=LossView)
def get_loss(loss_id: LossId, session: SessionDep, viewer: Viewer) -> LossView:
    loss = loss_queries.visible_loss(session, viewer, loss_id)
    if loss is None:  # a hidden project's losses answer like missing ones
        raise NotFound(f"no loss event {loss_id}", field="loss_id", code="loss-not-found")
    return loss_view(loss)
