"""The regulator's decisions on enterprises' claims to a unified social credit code."""
from __future__ import annotations

from dataclasses import dataclass

from tanhui_shared.errors import NotFound
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import UnitOfWork

from ..domain.claims import RIVAL_CONFIRMED, ClaimStatus, Decision, decide
from ..domain.errors import ClaimDecided
from ..store import enterprises as store
from ..store.tables import Enterprise
from .enterprises import announce_report


@dataclass(frozen=True)
class ClaimDecision:
    enterprise: Enterprise
    rejected_rivals: list[str]  # the other pending claims of the code this confirmation rejected
    reports_announced: int


def decide_claim(uow: UnitOfWork, regulator_id: str, enterprise_id: str, decision: Decision,
                 reason: str | None) -> ClaimDecision:
    """Confirm or reject a pending claim. Confirming rejects the code's other pending claims
    and announces the enterprise's current reports (`ReportFiled`), which stayed drafts until
    now. A claim decided already, or a confirmation of a code confirmed for another enterprise,
    is a 409; the partial unique key on confirmed codes refuses what a path without the lock
    below would let through."""
    session = uow.session
    # Every claim of the code, locked in id order: two decisions on one code run one after the
    # other, and the second sees what the first decided.
    claims = {c.id: c for c in store.lock_claims_of_code(session, enterprise_id)}
    claim = claims.get(enterprise_id)
    if claim is None:
        raise NotFound("no such enterprise claim", field="enterprise_id",
                       code="enterprise-not-found")
    confirmed_rival = next((c.id for c in claims.values()
                            if c.id != claim.id and c.claim_status == ClaimStatus.CONFIRMED), None)
    verdict = decide(claim.claim_status, decision, reason, confirmed_rival)
    now = utcnow()
    if not store.decide_claim(session, claim.id, verdict.status, regulator_id, verdict.reason, now):
        session.refresh(claim)  # decided since it was read: only a path without the lock gets here
        raise ClaimDecided(claim.claim_status)
    rivals: list[str] = []
    announced = 0
    if verdict.status is ClaimStatus.CONFIRMED:
        rivals = store.reject_pending_rivals(session, claim.id, claim.uscc, regulator_id,
                                             RIVAL_CONFIRMED, now)
        session.flush()  # the confirmed code's unique key decides here, before any event
        for report in store.current_reports_of(session, claim.id):
            announce_report(uow, claim, report)
            announced += 1
    session.refresh(claim)
    return ClaimDecision(claim, rivals, announced)
