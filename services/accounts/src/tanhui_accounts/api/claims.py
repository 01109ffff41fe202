"""The regulator's queue of enterprises' claims to a unified social credit code, and decisions."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from tanhui_shared.service import SessionDep
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.auth import Principal, require_role
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.models import ApiModel

from ..domain.claims import ClaimStatus, Decision
from ..store.enterprises import claim_queue
from ..store.tables import Enterprise
from ..usecases.claims import decide_claim
from .params import Id

router = APIRouter(prefix="/api/v1", tags=["regulator"])
Regulator = Annotated[Principal, Depends(require_role("regulator"))]


class ClaimOut(BaseModel):
    enterprise_id: str
    name: str
    uscc: str
    county: str
    industry: str
    claimant_id: str
    claimant_username: str | None
    created_at: datetime
    claim_status: ClaimStatus
    other_claims: int = Field(description="other claims of the same code, in any status")
    decided_at: datetime | None
    decision_reason: str | None


class ClaimPage(BaseModel):
    items: list[ClaimOut]


def _claim_out(e: Enterprise, username: str | None, others: int) -> ClaimOut:
    return ClaimOut(enterprise_id=e.id, name=e.name, uscc=e.uscc, county=e.county,
                    industry=e.industry, claimant_id=e.created_by, claimant_username=username,
                    created_at=e.created_at, claim_status=ClaimStatus(e.claim_status),
                    other_claims=others, decided_at=e.decided_at,
                    decision_reason=e.decision_reason)


@router.get("/enterprise-claims", response_model=ClaimPage)
def claims(_: Regulator, session: SessionDep,
           status: Annotated[ClaimStatus, Query()] = ClaimStatus.PENDING,
           limit: Annotated[int, Query(ge=1, le=500)] = 100,
           offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> ClaimPage:
    """Claims in `status`, oldest first: the regulator's queue (pending) and its history."""
    return ClaimPage(items=[_claim_out(e, username, others)
                            for e, username, others in claim_queue(session, status, limit, offset)])


class DecisionIn(ApiModel):
    decision: Decision
    reason: str | None = Field(default=None, max_length=1000,
                               description="why; required to reject (the enterprise reads it)")


class DecisionOut(BaseModel):
    enterprise_id: str
    claim_status: ClaimStatus
    decided_at: datetime
    decision_reason: str
    rejected_claims: list[str] = Field(description="the code's other pending claims this "
                                                   "confirmation rejected")
    reports_announced: int


@router.post("/enterprise-claims/{enterprise_id}/decision", response_model=DecisionOut)
def decide(enterprise_id: Id, body: DecisionIn, regulator: Regulator, session: SessionDep,
           idem: Idempotency):
    """Confirm or reject a pending claim; a claim already decided is 409."""
    def run(uow: UnitOfWork) -> DecisionOut:
        done = decide_claim(uow, regulator.user_id, enterprise_id, body.decision, body.reason)
        claim = done.enterprise
        return DecisionOut(enterprise_id=claim.id, claim_status=ClaimStatus(claim.claim_status),
                           decided_at=claim.decided_at, decision_reason=claim.decision_reason,
                           rejected_claims=done.rejected_rivals,
                           reports_announced=done.reports_announced)

    return idem.execute(session, regulator.user_id, run)
