"""Recording accounts' verifier accreditations (AccreditationGranted, AccreditationRevoked), and
the grant a verifier's decision is made under."""
from __future__ import annotations

from sqlmodel import Session

from tanhui_shared.contracts import AccreditationGranted, AccreditationRevoked
from tanhui_shared.errors import Conflict, Invalid
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.auth import Principal

from ..domain.accreditation import Grant, decision_day, standing_grant
from ..store import accreditations

VERIFIER_ROLE = "verifier"  # transit operators' licences are accounts' business, not ours


def record_accreditation_granted(uow: UnitOfWork, granted: AccreditationGranted) -> bool:
    """Record a verifier's grant once; a redelivery or a later copy changes nothing, and a
    revocation recorded earlier stays. True if it changed anything."""
    if granted.role != VERIFIER_ROLE:
        return False
    if granted.valid_to < granted.valid_from:
        raise Invalid(f"accreditation {granted.accreditation_id} ends ({granted.valid_to}) "
                      f"before it starts ({granted.valid_from})", field="valid_to",
                      code="validity-reversed")
    changed = accreditations.record_grant(
        uow.session, accreditation_id=granted.accreditation_id, user_id=granted.user_id,
        username=granted.username, organisation=granted.organisation, number=granted.number,
        valid_from=granted.valid_from, valid_to=granted.valid_to, granted_at=granted.granted_at)
    if not changed:
        _same_holder(uow, granted.accreditation_id, granted.user_id)
    return changed


def record_accreditation_revoked(uow: UnitOfWork, revoked: AccreditationRevoked) -> bool:
    """Record a revocation once (the first one's time and reason stay), before or after its
    grant. True if it changed anything."""
    if revoked.role != VERIFIER_ROLE:
        return False
    changed = accreditations.record_revocation(
        uow.session, accreditation_id=revoked.accreditation_id, user_id=revoked.user_id,
        revoked_at=revoked.revoked_at, reason=revoked.reason)
    if not changed:
        _same_holder(uow, revoked.accreditation_id, revoked.user_id)
    return changed


def _same_holder(uow: UnitOfWork, accreditation_id: str, user_id: str) -> None:
    """Nothing changed: fine for a repeat, but an event that gives an accreditation to another
    user than the one recorded is an inconsistency to dead-letter, not to ignore."""
    row = accreditations.get(uow.session, accreditation_id)
    if row is None or row.user_id != user_id:
        raise Conflict(f"accreditation {accreditation_id} is recorded for another user",
                       field="user_id", code="accreditation-holder-mismatch")


def accreditation_for_decision(uow: UnitOfWork, verifier: Principal) -> Grant:
    """The grant `verifier` decides under today (the city's calendar day), or NotAccredited."""
    return standing_accreditation(uow.session, verifier)


def standing_accreditation(session: Session, verifier: Principal) -> Grant:
    """`verifier`'s grant valid today, or NotAccredited: also what opens the work queue, whose
    drafts only an accredited verifier may read."""
    return standing_grant(accreditations.grants_of(session, verifier.user_id),
                          decision_day(utcnow()))
