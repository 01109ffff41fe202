"""Loss events: reported by the developer, decided by an accredited verifier (LossVerified),
compensated by the registry (from credits' BufferCompensated); and the loss a verified reversal
becomes. Rules in domain/losses.py."""
from __future__ import annotations

from datetime import datetime

from tanhui_shared.contracts import BufferCompensated, LossVerified
from tanhui_shared.errors import Conflict, NotFound
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.auth import Principal

from ..domain.accreditation import CITY_TZ, Grant
from ..domain.independence import check_developer, check_may_verify
from ..domain.lifecycle import IllegalTransition, ProjectState
from ..domain.losses import (REVERSAL, LossAction, LossState, check_loss_decision,
                             check_loss_filing, next_loss_state)
from ..store import losses, projects
from ..store.tables import LossEvent, MonitoringReport, Project, Verification
from ..store.timeline import CREDITS_SERVICE, append_step
from .accreditation import accreditation_for_decision
from .commands import LossDecisionIn, LossFiling
from .transitions import apply_transition

# A reversal's loss is recorded by the verification decision in the step before it (which names
# the verifier and accreditation); the loss's own step is the service's.
VERIFICATION_SERVICE = Principal(user_id="service:verification", username="verification",
                                 role="system")


def report_loss(uow: UnitOfWork, developer: Principal, project_id: str, filing: LossFiling,
                *, today: datetime | None = None) -> LossEvent:
    """The developer reports a loss of a registered project; it awaits a verifier."""
    session = uow.session
    project = projects.lock_project(session, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}", field="project_id", code="project-not-found")
    check_developer(project.developer_user_id, developer.user_id, "report its losses")
    if project.state != ProjectState.REGISTERED:
        raise Conflict(f"only a registered project reports losses; this one is {project.state}",
                       field="state", code="not-registered", state=project.state)
    day = (today or utcnow()).astimezone(CITY_TZ).date()
    check_loss_filing(filing.occurred_on, filing.area_ha, today=day,
                      crediting_start=project.crediting_start,
                      crediting_years=project.crediting_years, project_area_ha=project.area_ha)
    loss = LossEvent(project_id=project.id, cause=filing.cause, occurred_on=filing.occurred_on,
                     area_ha=filing.area_ha, estimated_tco2e=filing.estimated_tco2e,
                     description=filing.description, state=LossState.REPORTED,
                     reported_by_user_id=developer.user_id)
    session.add(loss)
    session.flush()
    append_step(session, project.id, "loss_reported", developer, from_state=None,
                to_state=loss.state, loss_event_id=loss.id,
                comments=f"{filing.cause} on {filing.occurred_on}, {filing.area_ha} ha: "
                         f"estimated {filing.estimated_tco2e} tCO2e")
    return loss


def decide_loss(uow: UnitOfWork, verifier: Principal, loss_id: str, decision: LossDecisionIn,
                *, strict_conflicts: bool) -> LossEvent:
    """Confirm (possibly at a corrected quantity; publishes LossVerified) or reject, once; under
    the same accreditation and independence rules as a monitoring verification."""
    session = uow.session
    grant = accreditation_for_decision(uow, verifier)
    loss = losses.lock_loss(session, loss_id)
    if loss is None:
        raise NotFound(f"no loss event {loss_id}", field="loss_id", code="loss-not-found")
    project = session.get(Project, loss.project_id)
    assert project is not None  # a foreign key
    check_may_verify(project.developer_user_id, project.approved_by_user_id, verifier.user_id,
                     strict=strict_conflicts)
    action = LossAction.CONFIRM if decision.decision == "confirmed" else LossAction.REJECT
    after = next_loss_state(loss.state, action)
    verified = check_loss_decision(decision.decision, decision.verified_tco2e)
    before = apply_transition(session, loss, action, after, verified_tco2e=verified,
                              **_decided(verifier, grant, decision.comments))
    append_step(session, project.id, f"loss_{after}", verifier, from_state=before,
                to_state=after, loss_event_id=loss.id, comments=decision.comments,
                accreditation=grant)
    if after is LossState.VERIFIED:
        uow.emit(_loss_verified(project, loss))
    return loss


def record_reversal(uow: UnitOfWork, project: Project, report: MonitoringReport,
                    verification: Verification, grant: Grant) -> LossEvent:
    """A verified reversal becomes a verified loss of its own (one per report:
    loss_event_monitoring_report_id_key), compensated like any other."""
    assert report.verified_tco2e is not None and report.verified_tco2e < 0
    session = uow.session
    loss = LossEvent(project_id=project.id, cause=REVERSAL, occurred_on=report.period_end,
                     area_ha=project.area_ha, estimated_tco2e=-report.claim_tco2e,
                     description=f"reversal in monitoring period {report.period_start}.."
                                 f"{report.period_end}",
                     state=LossState.VERIFIED, reported_by_user_id=report.submitted_by_user_id,
                     monitoring_report_id=report.id, verified_tco2e=-report.verified_tco2e,
                     decided_by_user_id=verification.verifier_user_id,
                     decided_by_username=verification.verifier_username,
                     accreditation_id=grant.accreditation_id, accreditation_number=grant.number,
                     decision_comments=verification.comments, decided_at=utcnow())
    session.add(loss)
    session.flush()
    append_step(session, project.id, "reversal_recorded", VERIFICATION_SERVICE,
                from_state=None, to_state=loss.state, loss_event_id=loss.id,
                monitoring_report_id=report.id,
                comments=f"verified reversal of {loss.verified_tco2e} tCO2e: to be compensated")
    uow.emit(_loss_verified(project, loss))
    return loss


def record_compensation(uow: UnitOfWork, compensated: BufferCompensated) -> bool:
    """Mark the loss compensated with the registry's figures, once (a redelivery, or a second
    event for the same loss, changes nothing). True if it changed."""
    session = uow.session
    loss = losses.lock_loss(session, compensated.loss_id)
    if loss is None or loss.project_id != compensated.project_id:
        # Not a loss this service published: an inconsistency to dead-letter, not to ignore.
        raise NotFound(f"no loss event {compensated.loss_id} of project "
                       f"{compensated.project_id}", field="loss_id", code="loss-not-found")
    if loss.state == LossState.COMPENSATED:
        return False
    after = next_loss_state(loss.state, LossAction.COMPENSATE)
    try:
        before = apply_transition(session, loss, LossAction.COMPENSATE, after,
                                  required_credits=compensated.required,
                                  from_pool=compensated.from_pool,
                                  from_developer=compensated.from_developer,
                                  shortfall=compensated.shortfall,
                                  compensated_at=compensated.compensated_at)
    except IllegalTransition as refused:
        if refused.state == LossState.COMPENSATED:
            return False
        raise
    short = f", shortfall {compensated.shortfall}" if compensated.shortfall else ""
    append_step(session, loss.project_id, "loss_compensated", CREDITS_SERVICE,
                from_state=before, to_state=after, loss_event_id=loss.id,
                comments=f"{compensated.required} credits: {compensated.from_pool} from the "
                         f"buffer pool, {compensated.from_developer} from the developer{short}")
    return True


def _decided(verifier: Principal, grant: Grant, comments: str) -> dict[str, object]:
    return {"decided_by_user_id": verifier.user_id, "decided_by_username": verifier.username,
            "accreditation_id": grant.accreditation_id, "accreditation_number": grant.number,
            "decision_comments": comments, "decided_at": utcnow()}


def _loss_verified(project: Project, loss: LossEvent) -> LossVerified:
    assert project.project_number is not None and loss.verified_tco2e is not None
    assert loss.decided_by_user_id is not None and loss.decided_at is not None
    return LossVerified(loss_id=loss.id, project_id=project.id,
                        project_number=project.project_number,
                        owner_user_id=project.developer_user_id, cause=loss.cause,
                        occurred_on=loss.occurred_on, verified_tco2e=loss.verified_tco2e,
                        monitoring_report_id=loss.monitoring_report_id,
                        verifier_user_id=loss.decided_by_user_id, verified_at=loss.decided_at)
