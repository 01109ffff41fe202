"""A verifier's own decisions, read from the project timeline with what they decided on."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from ..domain.decisions import DecisionKind
from .tables import LossEvent, Project, TimelineEntry, Verification


@dataclass(frozen=True)
class DecisionRow:
    entry: TimelineEntry
    project_name: str
    verified_tco2e: Decimal | None  # a verification's or a confirmed loss's quantity


def _kind_is(kind: DecisionKind):
    report, loss = col(TimelineEntry.monitoring_report_id), col(TimelineEntry.loss_event_id)
    if kind is DecisionKind.LOSS:
        return loss.is_not(None)
    if kind is DecisionKind.VERIFICATION:
        return and_(report.is_not(None), loss.is_(None))
    return and_(report.is_(None), loss.is_(None))


def decisions_of(session: Session, verifier_user_id: str, kind: DecisionKind | None, *,
                 limit: int, offset: int) -> tuple[list[DecisionRow], int]:
    """Newest first. Only the verifier's own steps: a verifier's step is always a decision."""
    conditions = [TimelineEntry.actor_user_id == verifier_user_id,
                  TimelineEntry.actor_role == "verifier"]
    if kind is not None:
        conditions.append(_kind_is(kind))
    total = session.exec(select(func.count()).select_from(TimelineEntry)
                         .where(*conditions)).one()
    query = (select(TimelineEntry, Project.name, Verification.verified_tco2e,
                    LossEvent.verified_tco2e)
             .join(Project, Project.id == TimelineEntry.project_id)
             .outerjoin(Verification, and_(
                 Verification.monitoring_report_id == TimelineEntry.monitoring_report_id,
                 col(TimelineEntry.loss_event_id).is_(None)))
             .outerjoin(LossEvent, LossEvent.id == TimelineEntry.loss_event_id)
             .where(*conditions).order_by(col(TimelineEntry.seq).desc())
             .limit(limit).offset(offset))
    rows = [DecisionRow(entry, name, verified if verified is not None else lost)
            for entry, name, verified, lost in session.exec(query)]
    return rows, total
