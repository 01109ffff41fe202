"""Queries on loss events."""
from __future__ import annotations

from sqlmodel import Session, select

from tanhui_shared.web.auth import Principal

from ..domain.losses import LossState
from .projects import visible_to
from .tables import LossEvent, Project


def lock_loss(session: Session, loss_id: str) -> LossEvent | None:
    """The loss row, locked until the transaction ends: its decision and its compensation queue
    up here."""
    query = select(LossEvent).where(LossEvent.id == loss_id).with_for_update(key_share=True)
    return session.exec(query).first()


def visible_loss(session: Session, viewer: Principal | None, loss_id: str) -> LossEvent | None:
    """A loss is visible with its project; None for a missing one and a hidden one alike."""
    query = (select(LossEvent).join(Project, Project.id == LossEvent.project_id)
             .where(LossEvent.id == loss_id, visible_to(viewer)))
    return session.exec(query).first()


def losses_of(session: Session, project_id: str) -> list[LossEvent]:
    query = select(LossEvent).where(LossEvent.project_id == project_id)
    return list(session.exec(query.order_by(LossEvent.created_at, LossEvent.id)))


def awaiting_decision(session: Session, verifier: Principal, *,
                      strict_conflicts: bool) -> list[LossEvent]:
    """Reported losses the verifier may decide (never their own project's; under strict
    independence not one whose design they approved)."""
    conditions = [LossEvent.state == LossState.REPORTED,
                  Project.developer_user_id != verifier.user_id]
    if strict_conflicts:
        conditions.append(Project.approved_by_user_id != verifier.user_id)
    query = (select(LossEvent).join(Project, Project.id == LossEvent.project_id)
             .where(*conditions).order_by(LossEvent.created_at, LossEvent.id))
    return list(session.exec(query))
