"""Moving a project or a report along its state machine, refused if it moved meanwhile."""
from __future__ import annotations

from typing import Any

from sqlmodel import Session

from ..domain.lifecycle import IllegalTransition
from ..store.tables import MonitoringReport, Project
from ..store.transitions import move


def apply_transition(session: Session, row: Project | MonitoringReport, action: str, after: str,
                     **values: Any) -> str:
    """Move `row` from its current state to `after`; returns the state it left.

    The caller holds the row's lock, so this normally succeeds. If it does not (a forgotten lock,
    a racing request), the row's state as committed by the other writer is read back and the
    request answers the same 409 a queued request gets: "cannot <action> in state <state>"."""
    before = row.state
    if not move(session, row, before, after, **values):
        session.refresh(row)
        raise IllegalTransition(row.state, action)
    return before
